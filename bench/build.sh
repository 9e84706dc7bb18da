#!/usr/bin/env bash
# Benchmark: the same Dockerfile built by plinth, docker build (BuildKit, a private dockerd) and
# buildah bud --layers: cold build, rebuild with no change, rebuild after changing one application
# file (seed 002's ADD-install-ADD Dockerfile). Prints best-of-N seconds and ratios.
# Needs root, busybox-static, docker.io, buildah (apt). Usage: bench/build.sh [RUNS] (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
work=$(mktemp -d /tmp/plinth-bench-build.XXXXXX)
dockerd_pid=""
cleanup() {
  [ -n "$dockerd_pid" ] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cargo build --release -q -p plinth
plinth="$PWD/target/release/plinth --store $work/store"

# Base image: busybox and its applets, in the plinth store, then loaded into docker and buildah.
mkdir -p "$work/base/rootfs/bin" "$work/base/rootfs/tmp" "$work/base/rootfs/etc"
cp /bin/busybox "$work/base/rootfs/bin/busybox"
for a in sh echo cat ls seq sleep sha256sum wc sort head tar gzip cp mkdir; do ln -s busybox "$work/base/rootfs/bin/$a"; done
printf 'FROM scratch\nCOPY rootfs/ /\n' > "$work/base/Dockerfile"
$plinth build -t bench/base:1 "$work/base" >/dev/null 2>&1
$plinth save bench/base:1 -o "$work/base.tar" --format docker-archive

# The application: requirements + 1500 source files (~12 MB).
app=$work/app
mkdir -p "$app/src"
python3 - "$app" <<'PY'
import random, sys
root = sys.argv[1]
rnd = random.Random(7)
open(f"{root}/requirements.txt", "w").write("".join(f"package{i}==1.{i}\n" for i in range(40)))
for i in range(1500):
    with open(f"{root}/src/mod{i}.py", "w") as f:
        f.write("".join(f"def f{j}(x):\n    return x * {rnd.randint(1, 10**6)}\n" for j in range(200)))
PY
cat > "$app/Dockerfile" <<'DF'
FROM bench/base:1
WORKDIR /app
COPY requirements.txt /app/
# The "install": slow on purpose (a second of work), as pip install is.
RUN for p in $(cat requirements.txt); do echo "installing $p"; done > installed.txt && sleep 1
COPY . /app
RUN ls -R /app | wc -l > /app/file-count
DF

# A private dockerd with BuildKit.
sock=$work/docker.sock
dockerd --data-root "$work/docker" --exec-root "$work/dexec" --pidfile "$work/docker.pid" --host "unix://$sock" \
  --bridge none --iptables=false --ip-masq=false >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
export DOCKER_HOST="unix://$sock"
for _ in $(seq 1 60); do /usr/bin/docker version >/dev/null 2>&1 && break; sleep 0.5; done
/usr/bin/docker load -i "$work/base.tar" >/dev/null

export CONTAINERS_CONF=$work/containers.conf
printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n' > "$CONTAINERS_CONF"
bud="buildah --root $work/buildah-root --runroot $work/buildah-run"
$bud pull -q "docker-archive:$work/base.tar" >/dev/null
$bud tag "$($bud images -q | head -1)" bench/base:1

time_of() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>"$work/last.err" || { echo "FAILED: $*" >&2; cat "$work/last.err" >&2; exit 1; }; e=$(date +%s.%N); echo "$e - $s" | bc; }
best_of() { local b=""; for _ in $(seq 1 "$runs"); do local t; t=$("$@"); if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi; done; echo "$b"; }

# One measurement = reset to cold, then (cold | rebuild | one file changed) for each tool.
p_build() { $plinth build -t bench/app:1 --network none "$app"; }
d_build() { DOCKER_BUILDKIT=1 /usr/bin/docker build -q --network none -t bench/app:1 "$app"; }
b_build() { $bud bud --isolation=chroot --layers -t bench/app:1 "$app"; }
p_reset() { $plinth prune >/dev/null; }
d_reset() { /usr/bin/docker builder prune -af >/dev/null 2>&1; /usr/bin/docker rmi -f bench/app:1 >/dev/null 2>&1 || true; }
b_reset() { $bud rmi -f bench/app:1 >/dev/null 2>&1 || true; $bud rmi --prune >/dev/null 2>&1 || true; }

cold() { "${1}_reset"; time_of "${1}_build"; }
nochange() { "${1}_build" >/dev/null 2>&1; time_of "${1}_build"; }
onefile() { "${1}_build" >/dev/null 2>&1; echo "# $(date +%s%N)" >> "$app/src/mod7.py"; time_of "${1}_build"; }

printf '%-28s %10s %10s %10s\n' "" plinth "docker" "buildah"
for case in cold nochange onefile; do
  p=$(best_of $case p); d=$(best_of $case d); b=$(best_of $case b)
  printf '%-28s %9ss %9ss %9ss   plinth/docker=%s plinth/buildah=%s\n' "$case" "$p" "$d" "$b" \
    "$(echo "scale=2; $p / $d" | bc)" "$(echo "scale=2; $p / $b" | bc)"
done
