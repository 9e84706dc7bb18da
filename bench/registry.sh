#!/usr/bin/env bash
# Benchmark: moving one image to a registry, plinth against `skopeo copy`, in the same run:
#   push, empty:   store -> a registry that has nothing (a fresh registry data dir every run):
#                  `plinth --store S push` vs `skopeo copy --preserve-digests oci:S:REF docker://`
#                  (skopeo reads plinth's OCI image-layout store directly);
#   push, again:   the same into the registry that now has the image;
#   copy, empty:   registry -> another, empty registry: `plinth copy` vs `skopeo copy docker://
#                  docker://`;
#   copy, again:   the same into the registry that now has the image.
# The image: a deterministic 240 MB tree (fixed seed; nine files of mixed text and random bytes,
# 3000 small source files) in 6 layers (~155 MB compressed), `FROM scratch` + 6 COPYs, built by
# `plinth build`. The registries are Debian's `docker-registry` (distribution), plain HTTP on
# loopback, filesystem storage; every fresh one gets a port not used before in the run.
# After every first transfer the digest on the registry (`skopeo inspect`) is checked against the
# store's. Prints best-of-N seconds and plinth/skopeo.
# Needs docker-registry, skopeo (apt). Usage: bench/registry.sh [RUNS] (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
work=$(mktemp -d /tmp/plinth-bench-registry.XXXXXX)
reg_pids=()
cleanup() {
  for p in "${reg_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cargo build --release -q -p plinth
plinth_bin="${CARGO_TARGET_DIR:-$PWD/target}/release/plinth"
store=$work/store
plinth="$plinth_bin --store $store"
# No credentials of the host's for either tool.
mkdir -p "$work/docker-config"
# (Not REGISTRY_AUTH_FILE: docker-registry reads REGISTRY_* variables as configuration.)
export DOCKER_CONFIG=$work/docker-config
echo '{}' > "$work/auth.json"
skopeo=skopeo

# The tree: 5 directories of 1-3 mixed files (40-45 MiB per directory), one of 3000 small files.
ctx=$work/ctx
mkdir -p "$ctx"
python3 - "$ctx" <<'PY'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(20261123)
words = [("".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 9)))).encode() for _ in range(5000)]
def mixed(path, size):
    with open(path, "wb") as f:
        left = size
        while left > 0:
            if rnd.random() < 0.6:
                chunk = b" ".join(rnd.choice(words) for _ in range(2000))
            else:
                chunk = rnd.randbytes(8192)
            chunk = chunk[:left]
            f.write(chunk)
            left -= len(chunk)
MiB = 1024 * 1024
for layer, sizes in enumerate([[40], [24, 20], [30, 12], [45], [16, 16, 8]]):
    os.makedirs(f"{root}/l{layer}", exist_ok=True)
    for i, s in enumerate(sizes):
        mixed(f"{root}/l{layer}/blob{i}.bin", s * MiB)
os.makedirs(f"{root}/l5", exist_ok=True)
for i in range(3000):
    d = f"{root}/l5/pkg{i % 30}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/mod{i}.py", "wb") as f:
        f.write(b"\n".join(b"def f%d(x): return x * %d  # " % (j, j) + rnd.choice(words) for j in range(rnd.randint(20, 400))))
PY
{
  echo 'FROM scratch'
  for l in 0 1 2 3 4 5; do echo "COPY l$l/ /l$l/"; done
} > "$ctx/Dockerfile"
$plinth build -t bench/img:1 --source-date-epoch 0 "$ctx" >/dev/null 2>&1
digest=$($plinth images --format json | python3 -c \
  'import json,sys; print(next(i["digest"] for i in json.load(sys.stdin) if i["name"].endswith("bench/img:1")))')
# The name the store's index.json records for the image (skopeo's oci:DIR:REF).
ref=$(python3 - "$store/index.json" "$digest" <<'PY'
import json, sys
idx = json.load(open(sys.argv[1]))
print(next(m["annotations"]["org.opencontainers.image.ref.name"] for m in idx["manifests"]
           if m["digest"] == sys.argv[2] and "org.opencontainers.image.ref.name" in m.get("annotations", {})))
PY
)
python3 - "$store" "$digest" <<'PY'
import json, sys
store, digest = sys.argv[1], sys.argv[2]
m = json.load(open(f"{store}/blobs/sha256/{digest.split(':')[1]}"))
sizes = [l["size"] for l in m["layers"]]
print(f"image {digest}: {len(sizes)} layers, {sum(sizes) / 1e6:.1f} MB compressed "
      f"({', '.join(f'{s / 1e6:.1f}' for s in sizes)} MB)", file=sys.stderr)
PY
du -sh "$ctx" | awk '{print "tree: " $1}' >&2

# Registries: NAME -> a config on a free port; (re)started empty by reg_reset NAME.
declare -A reg_port reg_pid
# A port never used before in this run: skopeo's blob-info cache (/var/lib/containers/cache for
# root) remembers which repositories of HOST:PORT had a blob and would try to mount from them.
used_ports=" "
free_port() {
  local p
  while :; do
    p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    case "$used_ports" in *" $p "*) ;; *) used_ports+="$p "; free=$p; return ;; esac
  done
}
reg_start() {
  local name=$1 port free d=$work/reg-$1
  free_port
  port=$free
  mkdir -p "$d"
  printf 'version: 0.1\nlog:\n  level: %s\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n  secret: plinth-bench\n' \
    "${REG_LOG_LEVEL:-warn}" "$d/data" "$port" > "$d/config.yml"
  docker-registry serve "$d/config.yml" >>"$d/registry.log" 2>&1 &
  reg_pid[$name]=$!
  reg_pids+=("$!")
  reg_port[$name]=$port
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && return; sleep 0.1; done
  echo "registry $name did not start" >&2; cat "$d/registry.log" >&2; exit 1
}
reg_stop() { kill "${reg_pid[$1]}" 2>/dev/null || true; wait "${reg_pid[$1]}" 2>/dev/null || true; }
reg_reset() { reg_stop "$1"; rm -rf "$work/reg-$1/data"; reg_start "$1"; }
reg_start src
reg_start dst
src=127.0.0.1:${reg_port[src]}/bench/img:1
$plinth push bench/img:1 "$src" >/dev/null 2>&1

time_of() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>"$work/last.err" || { echo "FAILED: $*" >&2; cat "$work/last.err" >&2; kill $$; exit 1; }; e=$(date +%s.%N); echo "$e - $s" | bc; }
check() { # the registry's digest of $1 must be the store's
  local got
  got=$($skopeo inspect --authfile "$work/auth.json" --tls-verify=false "docker://$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')
  [ "$got" = "$digest" ] || { echo "DIGEST CHANGED by $2: $1 is $got, the store has $digest" >&2; kill $$; exit 1; }
}

dst() { echo "127.0.0.1:${reg_port[dst]}/bench/img:1"; }
p_push() { $plinth push bench/img:1 "$(dst)"; }
s_push() { $skopeo copy -q --authfile "$work/auth.json" --preserve-digests --dest-tls-verify=false "oci:$store:$ref" "docker://$(dst)"; }
p_copy() { "$plinth_bin" copy "$src" "$(dst)"; }
s_copy() { $skopeo copy -q --authfile "$work/auth.json" --preserve-digests --src-tls-verify=false --dest-tls-verify=false "docker://$src" "docker://$(dst)"; }

declare -A best
keep() { # keep CASE TOOL SECONDS: the smallest
  local k="$1 $2"
  if [ -z "${best[$k]:-}" ] || [ "$(echo "$3 < ${best[$k]}" | bc)" = 1 ]; then best[$k]=$3; fi
}
for run in $(seq 1 "$runs"); do
  for op in push copy; do
    for tool in p s; do
      reg_reset dst
      keep "$op-empty" $tool "$(time_of ${tool}_$op)"
      check "$(dst)" "$tool $op"
      keep "$op-again" $tool "$(time_of ${tool}_$op)"
    done
  done
  echo "run $run of $runs done" >&2
done

echo "| case | plinth | skopeo copy | plinth / skopeo |"
echo "|---|---|---|---|"
for c in push-empty push-again copy-empty copy-again; do
  p=${best[$c p]} s=${best[$c s]}
  printf '| %s | %.3f s | %.3f s | %.2f |\n' "$c" "$p" "$s" "$(echo "scale=4; $p / $s" | bc)"
done
echo "skopeo: $(skopeo --version); runs: $runs; load: $(uptime | sed 's/.*load average: //')" >&2
