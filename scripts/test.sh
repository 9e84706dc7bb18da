#!/usr/bin/env bash
# Runs plinth's whole test suite with the real tools it checks against.
# Usage: scripts/test.sh [extra cargo test args]
# Installs the tools (scripts/install-deps.sh), builds the static plinth-init
# (scripts/build-init.sh, PLINTH_INIT_BINARY), starts a private dockerd for the `docker load`
# and `docker stop` tests when it can (PLINTH_TEST_DOCKER_HOST), and stops it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

workdir=$(mktemp -d /tmp/plinth-test.XXXXXX)
dockerd_pid=""
cleanup() {
  if [ -n "$dockerd_pid" ]; then
    kill "$dockerd_pid" 2>/dev/null || true
    wait "$dockerd_pid" 2>/dev/null || true
  fi
  rm -rf "$workdir" 2>/dev/null || true
}
trap cleanup EXIT

if [ "${PLINTH_TEST_NO_DOCKER:-}" != 1 ] && [ "$(id -u)" -eq 0 ] && command -v dockerd >/dev/null; then
  sock="$workdir/docker.sock"
  dockerd --data-root "$workdir/docker" --exec-root "$workdir/exec" --pidfile "$workdir/docker.pid" \
    --host "unix://$sock" --bridge none --iptables=false --ip-masq=false >"$workdir/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 60); do
    [ -S "$sock" ] && DOCKER_HOST="unix://$sock" docker version >/dev/null 2>&1 && break
    sleep 0.5
  done
  if DOCKER_HOST="unix://$sock" docker version >/dev/null 2>&1; then
    export PLINTH_TEST_DOCKER_HOST="unix://$sock"
    echo "test.sh: dockerd is up at $PLINTH_TEST_DOCKER_HOST (for the docker load test)"
  else
    echo "test.sh: dockerd did not start; see below" >&2
    tail -20 "$workdir/dockerd.log" >&2
    exit 1
  fi
fi

# The static plinth-init that images get from the built-in `plinth-init` context (the example
# family's base-root, the plinth-init tests under `plinth run` and docker).
PLINTH_INIT_BINARY=$(scripts/build-init.sh)
export PLINTH_INIT_BINARY

export PLINTH_TEST_TOOLS=1
cargo test --workspace --locked "$@"
