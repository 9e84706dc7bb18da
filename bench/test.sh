#!/usr/bin/env bash
# Benchmark: a 20-test container-structure-test suite (8 commandTests, 8 fileExistenceTests,
# 3 fileContentTests, 1 metadataTest) against one busybox image, run by
#   plinth test IMAGE --config suite.yaml                    (plinth's sandbox, no daemon)
#   container-structure-test --driver docker                  (against a private dockerd)
# and the 12 tests without commands (the tar driver cannot run commands) by
#   plinth test                    vs   container-structure-test --driver tar (the docker archive)
# Prints best-of-N wall seconds and ratios. Needs root, dockerd and container-structure-test
# (scripts/install-deps.sh). Usage: bench/test.sh [RUNS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
cargo build --release -q -p plinth
plinth="${CARGO_TARGET_DIR:-$PWD/target}/release/plinth"
cst=${PLINTH_CST:-/opt/plinth-tools/bin/container-structure-test}
work=$(mktemp -d /tmp/plinth-bench-test.XXXXXX)
dockerd_pid=""
cleanup() {
  [ -n "$dockerd_pid" ] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
store="$work/store"
ctx="$work/ctx"
mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/etc" "$ctx/rootfs/tmp" "$ctx/app"
cp /bin/busybox "$ctx/rootfs/bin/busybox"
for a in sh echo cat ls id test grep wc sleep true false env printf; do ln -s busybox "$ctx/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/app:/bin/sh\n' > "$ctx/rootfs/etc/passwd"
printf 'root:x:0:\napp:x:1000:\n' > "$ctx/rootfs/etc/group"
printf '[server]\nport = 8080\n' > "$ctx/app/config.ini"
cat > "$ctx/Dockerfile" <<'DF'
FROM scratch
COPY rootfs/ /
COPY app/ /app/
ENV APP_MODE=prod
LABEL team=platform
WORKDIR /app
CMD ["sh"]
DF
"$plinth" --store "$store" build --no-lint -t bench-test:1 "$ctx" >/dev/null 2>&1
"$plinth" --store "$store" save bench-test:1 -o "$work/image.tar" --format docker-archive

files=""
for i in 1 2 3 4 5 6 7 8; do
  files+="  - name: file $i
    path: /bin/$(echo sh echo cat ls id test grep wc | cut -d' ' -f$i)
    shouldExist: true
"
done
commands=""
for i in 1 2 3 4 5 6 7 8; do
  commands+="  - name: command $i
    command: sh
    args: [\"-c\", \"echo run $i\"]
    expectedOutput: [\"run $i\"]
"
done
static="fileExistenceTests:
$files
fileContentTests:
  - name: config port
    path: /app/config.ini
    expectedContents: [\"port = 8080\"]
  - name: passwd app
    path: /etc/passwd
    expectedContents: [\"app:x:1000\"]
  - name: group app
    path: /etc/group
    expectedContents: [\"app:x:1000\"]
metadataTest:
  envVars:
    - key: APP_MODE
      value: prod
  workdir: /app
"
printf 'schemaVersion: 2.0.0\ncommandTests:\n%s%s' "$commands" "$static" > "$work/all.yaml"
printf 'schemaVersion: 2.0.0\n%s' "$static" > "$work/static.yaml"

sock="$work/docker.sock"
dockerd --data-root "$work/docker" --exec-root "$work/exec" --pidfile "$work/docker.pid" \
  --host "unix://$sock" --bridge none --iptables=false --ip-masq=false >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 1 60); do DOCKER_HOST="unix://$sock" docker version >/dev/null 2>&1 && break; sleep 0.5; done
DOCKER_HOST="unix://$sock" docker load -i "$work/image.tar" >/dev/null

best() { sort -n | head -1; }
time_one() {
  local s e
  s=$(date +%s.%N)
  "$@" >"$work/last.out" 2>&1 || true
  e=$(date +%s.%N)
  echo "$e - $s" | bc -l
}
check() { # the run must have passed every test
  if ! grep -q "$1" "$work/last.out"; then echo "bench/test.sh: unexpected result of $2:" >&2; cat "$work/last.out" >&2; exit 1; fi
}
declare -a tp tc tps tct
for _ in $(seq 1 "$runs"); do
  tp+=("$(time_one "$plinth" --store "$store" test bench-test:1 --config "$work/all.yaml" --format tap)"); check '^ok 20 ' "plinth test (20)"
  tc+=("$(time_one env DOCKER_HOST="unix://$sock" "$cst" test --driver docker --image bench-test:1 --config "$work/all.yaml")"); check 'Passes: *20' "container-structure-test docker"
  tps+=("$(time_one "$plinth" --store "$store" test bench-test:1 --config "$work/static.yaml" --format tap)"); check '^ok 12 ' "plinth test (12)"
  tct+=("$(time_one "$cst" test --driver tar --image "$work/image.tar" --config "$work/static.yaml")"); check 'Passes: *12' "container-structure-test tar"
done
p=$(printf '%s\n' "${tp[@]}" | best); c=$(printf '%s\n' "${tc[@]}" | best)
ps=$(printf '%s\n' "${tps[@]}" | best); ct=$(printf '%s\n' "${tct[@]}" | best)
echo "| suite | plinth test | container-structure-test | plinth / cst |"
echo "|---|---|---|---|"
printf '| 20 tests (8 commands), docker driver | %.2f s | %.2f s | %.3f |\n' "$p" "$c" "$(echo "$p / $c" | bc -l)"
printf '| 12 tests (no commands), tar driver | %.2f s | %.2f s | %.3f |\n' "$ps" "$ct" "$(echo "$ps / $ct" | bc -l)"
