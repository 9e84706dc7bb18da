#!/usr/bin/env bash
# Benchmark: a Debian bookworm minbase root filesystem made by plinth and by mmdebstrap
# (--variant=minbase --mode=root, same suites: bookworm, bookworm-updates, bookworm-security from
# the host's apt sources), from the same mirror, in the same run.
#   cold:       plinth with an empty store (no index or .deb cache) vs mmdebstrap (which keeps no
#               cache, so its every run is cold);
#   warm-debs:  plinth with the .deb and index cache filled but the layer cache bypassed
#               (--no-cache: dpkg runs again, the layer is written again);
#   warm:       plinth with everything cached (same lock -> the same layer, nothing installed).
# mmdebstrap runs twice: with the default TMPDIR (/tmp, a disk here) and with TMPDIR=/dev/shm,
# since plinth assembles the tree on /dev/shm when it is a tmpfs with room (ratios are given
# against the faster of the two). Prints best-of-N seconds and ratios. Needs root, mmdebstrap (apt). Usage: bench/rootfs.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
work=$(mktemp -d /tmp/plinth-bench-rootfs.XXXXXX)
trap 'rm -rf "$work"' EXIT
cargo build --release -q -p plinth
plinth="$PWD/target/release/plinth"

best() { sort -n | head -1; }
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>"$work/last.err" || { cat "$work/last.err"; exit 1; }; e=$(date +%s.%N); echo "$e - $s" | bc; }

cold=(); mm=(); mmshm=(); warmdebs=(); warm=()
for i in $(seq "$runs"); do
  rm -rf "$work/store" "$work/mm.tar"
  cold+=("$(t $plinth --store "$work/store" rootfs --suite bookworm --variant minbase --lock "$work/plinth.lock" --update-lock --progress plain)")
  mm+=("$(t mmdebstrap --quiet --variant=minbase --mode=root bookworm "$work/mm.tar")")
  rm -f "$work/mm.tar"
  mmshm+=("$(TMPDIR=/dev/shm t mmdebstrap --quiet --variant=minbase --mode=root bookworm "$work/mm.tar")")
  warmdebs+=("$(t $plinth --store "$work/store" rootfs --suite bookworm --variant minbase --lock "$work/plinth.lock" --no-cache --progress plain)")
  warm+=("$(t $plinth --store "$work/store" rootfs --suite bookworm --variant minbase --lock "$work/plinth.lock" --progress plain)")
done
c=$(printf '%s\n' "${cold[@]}" | best); m=$(printf '%s\n' "${mm[@]}" | best); ms=$(printf '%s\n' "${mmshm[@]}" | best)
wd=$(printf '%s\n' "${warmdebs[@]}" | best); w=$(printf '%s\n' "${warm[@]}" | best)
printf 'runs: %s (best of each)\n' "$runs"
printf 'mmdebstrap minbase:        %6.2f s   (all: %s)\n' "$m" "${mm[*]}"
printf 'mmdebstrap, TMPDIR=/dev/shm:%5.2f s   (all: %s)\n' "$ms" "${mmshm[*]}"
fast=$(printf '%s\n%s\n' "$m" "$ms" | best)
printf 'plinth cold:               %6.2f s   ratio %.2f   (all: %s)\n' "$c" "$(echo "$c / $fast" | bc -l)" "${cold[*]}"
printf 'plinth warm .debs:         %6.2f s   ratio %.2f   (all: %s)\n' "$wd" "$(echo "$wd / $fast" | bc -l)" "${warmdebs[*]}"
printf 'plinth warm (cached layer):%6.2f s   ratio %.3f   (all: %s)\n' "$w" "$(echo "$w / $fast" | bc -l)" "${warm[*]}"
