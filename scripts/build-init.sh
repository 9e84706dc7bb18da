#!/usr/bin/env bash
# Builds the fully static plinth-init that goes into images (glibc static-pie: only the
# x86_64-unknown-linux-gnu target exists here) with the size-first `init` profile, and prints
# its path. Its own target directory keeps the static RUSTFLAGS away from the normal build.
# Usage: scripts/build-init.sh            -> prints target/init/x86_64-unknown-linux-gnu/init/plinth-init
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
dir="$PWD/target/init"
# Strip what an outer cargo (e.g. a test calling this script) exports, so this build is its own.
env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET \
  -u CARGO_MAKEFLAGS -u MAKEFLAGS -u MFLAGS \
  RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR="$dir" \
  cargo build --quiet --locked -p plinth-init --profile init --target "$target" >&2
bin="$dir/$target/init/plinth-init"
if ! file "$bin" 2>/dev/null | grep -q 'static'; then
  if command -v file >/dev/null; then
    echo "build-init.sh: $bin is not statically linked" >&2
    exit 1
  fi
fi
echo "$bin"
