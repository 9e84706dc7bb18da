#!/usr/bin/env bash
# Benchmark: the example family (examples/family: base-root, base-build, base-build-jvm,
# base-runtime, base-runtime-jre) built by plinth (`plinth build`, parent-first, -j = CPUs) and
# by a dbuild.sh-like script that runs `docker build` (BuildKit, a private dockerd) or
# `buildah bud --layers` for each image, parents first, in the same run:
#   cold:     no family layer cached (the Debian root filesystem is given to all three: plinth's
#             named context is built once beforehand, and the same image is loaded into docker
#             and buildah as `debian-bookworm`);
#   nochange: the whole family again, nothing changed;
#   onefile:  one file of base-runtime changed (its motd): base-runtime and base-runtime-jre
#             rebuild.
# RUN steps install packages with apt-get from the host's mirror (host network for all three).
# Prints best-of-N seconds and ratios. Needs root, docker.io, buildah (apt).
# Usage: bench/family.sh [RUNS] (default 2; every cold build downloads the packages again)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-2}
work=$(mktemp -d /tmp/plinth-bench-family.XXXXXX)
dockerd_pid=""
cleanup() {
  [ -n "$dockerd_pid" ] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cargo build --release -q -p plinth
plinth="${CARGO_TARGET_DIR:-$PWD/target}/release/plinth"
images=(base-root base-build base-build-jvm base-runtime base-runtime-jre)

# The family, as its own git repository (a clean work tree: every run is the same commit).
cp -a examples/family "$work/family"
fam=$work/family
# BuildKit would fetch the docker/dockerfile:1 frontend image for the `# syntax=` line (no
# registry here); the built-in frontend reads these Dockerfiles the same way.
sed -i '/^# syntax=/d' "$fam"/images/*/Dockerfile
git -C "$fam" init -q -b main
git -C "$fam" add -A
git -C "$fam" -c user.name=bench -c user.email=bench@example.com commit -q -m family
motd=$fam/images/base-runtime/files/etc/motd

# The root filesystem: plinth's named context, built once into a template store, then saved
# for docker and buildah under the name the Dockerfile uses.
(cd "$fam" && $plinth --store "$work/store-rootfs" rootfs debian-bookworm -t debian-bookworm:latest >/dev/null 2>&1)
$plinth --store "$work/store-rootfs" save debian-bookworm:latest -o "$work/rootfs.tar" --format docker-archive

sock=$work/docker.sock
dockerd --data-root "$work/docker" --exec-root "$work/dexec" --pidfile "$work/docker.pid" --host "unix://$sock" \
  --bridge none --iptables=false --ip-masq=false >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
export DOCKER_HOST="unix://$sock"
for _ in $(seq 1 60); do /usr/bin/docker version >/dev/null 2>&1 && break; sleep 0.5; done
/usr/bin/docker load -i "$work/rootfs.tar" >/dev/null

export CONTAINERS_CONF=$work/containers.conf
printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n' > "$CONTAINERS_CONF"
bud="buildah --root $work/buildah-root --runroot $work/buildah-run"
b_base() {
  $bud pull -q "docker-archive:$work/rootfs.tar" >/dev/null
  $bud tag "$($bud images -q | head -1)" localhost/debian-bookworm:latest
}
b_base

time_of() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>"$work/last.err" || { echo "FAILED: $*" >&2; tail -30 "$work/last.err" >&2; kill $$; exit 1; }; e=$(date +%s.%N); echo "$e - $s" | bc; }
best_of() { local b=""; for _ in $(seq 1 "$runs"); do local t; t=$("$@"); if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi; done; echo "$b"; }

p_build() { (cd "$fam" && $plinth --store "$work/store" build --progress plain); }
d_build() {
  for i in "${images[@]}"; do
    DOCKER_BUILDKIT=1 /usr/bin/docker build -q --network host -t "$i" "$fam/images/$i"
  done
}
b_build() {
  for i in "${images[@]}"; do
    $bud bud --isolation=chroot --network host --layers --pull=never -t "$i" "$fam/images/$i"
  done
}
p_reset() { rm -rf "$work/store"; cp -a "$work/store-rootfs" "$work/store"; }
d_reset() {
  /usr/bin/docker rmi -f "${images[@]}" >/dev/null 2>&1 || true
  /usr/bin/docker builder prune -af >/dev/null 2>&1
}
b_reset() { $bud rmi -af >/dev/null 2>&1 || true; b_base; }

cold() { "${1}_reset"; time_of "${1}_build"; }
nochange() { "${1}_build" >/dev/null 2>&1; time_of "${1}_build"; }
onefile() { "${1}_build" >/dev/null 2>&1; echo "# $(date +%s%N)" >> "$motd"; time_of "${1}_build"; }

printf '%-12s %10s %10s %10s\n' "" plinth "docker" "buildah"
for case in cold nochange onefile; do
  p=$(best_of $case p); d=$(best_of $case d); b=$(best_of $case b)
  printf '%-12s %9ss %9ss %9ss   plinth/docker=%s plinth/buildah=%s\n' "$case" "$p" "$d" "$b" \
    "$(echo "scale=3; $p / $d" | bc)" "$(echo "scale=3; $p / $b" | bc)"
done
