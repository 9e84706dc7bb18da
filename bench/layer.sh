#!/usr/bin/env bash
# Benchmark: a ~500 MB tree COPY'd into one layer.
#   plinth build  vs  tar -c | gzip -6  vs  buildah bud (same Dockerfile, chroot isolation)
# Prints wall-clock seconds (best of N runs) and ratios. Needs: buildah (apt), a release build.
# Usage: bench/layer.sh [RUNS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
work=$(mktemp -d /tmp/plinth-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cargo build --release -q -p plinth
plinth=$PWD/target/release/plinth

# The tree: 8 x 56 MiB files of mixed text/binary data (compressible about 2:1) and 6000 small
# source-like files, ~500 MB in all. Generated deterministically.
ctx=$work/ctx
mkdir -p "$ctx/big" "$ctx/small"
python3 - "$ctx" <<'PY'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(42)
words = [("".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 9)))).encode() for _ in range(5000)]
for i in range(8):
    with open(f"{root}/big/blob{i}.bin", "wb") as f:
        left = 56 * 1024 * 1024
        while left > 0:
            if rnd.random() < 0.5:
                chunk = b" ".join(rnd.choice(words) for _ in range(2000))
            else:
                chunk = rnd.randbytes(8192)
            chunk = chunk[:left]
            f.write(chunk)
            left -= len(chunk)
for i in range(6000):
    d = f"{root}/small/pkg{i % 60}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/mod{i}.py", "wb") as f:
        f.write(b"\n".join(b"def f%d(x): return x * %d  # " % (j, j) + rnd.choice(words) for j in range(rnd.randint(20, 400))))
PY
printf 'FROM scratch\nCOPY . /data/\n' > "$work/Dockerfile"
du -sh "$ctx" | awk '{print "tree size: " $1}'

best() { # best wall time of $runs runs of "$@"
  local b=""
  for _ in $(seq 1 "$runs"); do
    local s e t
    s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc)
    if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi
  done
  echo "$b"
}

plinth_build() { rm -rf "$work/store"; "$plinth" --store "$work/store" build -f "$work/Dockerfile" --source-date-epoch 0 "$ctx"; }
tar_gzip() { tar -C "$ctx" -cf - . | gzip -6 > "$work/out.tar.gz"; }
export CONTAINERS_CONF=$work/containers.conf
printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n' > "$CONTAINERS_CONF"
buildah_bud() {
  buildah --root "$work/buildah-root" --runroot "$work/buildah-run" rmi -a -f >/dev/null 2>&1 || true
  buildah --root "$work/buildah-root" --runroot "$work/buildah-run" bud --isolation=chroot --layers -f "$work/Dockerfile" -t bench "$ctx"
}

p=$(best plinth_build)
t=$(best tar_gzip)
echo "plinth build:      ${p}s"
echo "tar -c | gzip -6:  ${t}s   (plinth is $(echo "scale=2; $t / $p" | bc)x as fast)"
if command -v buildah >/dev/null; then
  b=$(best buildah_bud)
  echo "buildah bud:       ${b}s   (plinth is $(echo "scale=2; $b / $p" | bc)x as fast)"
  buildah --root "$work/buildah-root" --runroot "$work/buildah-run" rmi -a -f >/dev/null 2>&1 || true
else
  echo "buildah not installed (apt-get install buildah): skipped"
fi
