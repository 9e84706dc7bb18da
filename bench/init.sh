#!/usr/bin/env bash
# Benchmark: plinth-init against tini (Debian's tini package, tini-static 0.19) as the PID 1 of
# a new PID namespace (`unshare --fork --pid --mount-proc`), on three measures:
#   size         the static binaries (plinth-init from scripts/build-init.sh, /usr/bin/tini-static)
#   start->exec  wall time of `INIT -- /bin/true` as PID 1, minus `/bin/true` as PID 1 (the same
#                unshare), mean over N runs, runs interleaved
#   memory       VmRSS and RssAnon of the init process while its service sleeps
# plinth-init runs with no image contract present (no env.toml, hooks, services: the same job
# as tini), and once more with a 3-variable env contract and one hook, to show what those cost.
# Usage: bench/init.sh [N]   (default 200; needs root for unshare, apt's tini)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
command -v tini-static >/dev/null || { echo "bench/init.sh: apt-get install tini" >&2; exit 1; }
init=$(scripts/build-init.sh)
tini=$(command -v tini-static)
work=$(mktemp -d /tmp/plinth-bench-init.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/empty/app" "$work/empty/container" "$work/full/app" "$work/full/container/init.d"
cat > "$work/full/app/env.toml" <<'TOML'
[vars.PORT]
description = "Port"
type = "port"
default = "8080"
[vars.LOG_LEVEL]
description = "Level"
type = "enum"
values = ["debug", "info"]
default = "info"
[vars.NAME]
description = "Name"
default = "bench"
TOML
printf '#!/bin/sh\n:\n' > "$work/full/container/init.d/10-hook"
chmod +x "$work/full/container/init.d/10-hook"

python3 - "$n" "$init" "$tini" "$work" <<'PY'
import os, subprocess, sys, time
n, init, tini, work = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
U = ["unshare", "--fork", "--pid", "--mount-proc"]
def env(kind):
    e = dict(os.environ)
    e["PLINTH_APP_DIR"] = f"{work}/{kind}/app"
    e["PLINTH_CONTAINER_DIR"] = f"{work}/{kind}/container"
    return e
cases = {
    "bare /bin/true": (U + ["/bin/true"], None),
    "tini": (U + [tini, "--", "/bin/true"], None),
    "plinth-init": (U + [init, "--", "/bin/true"], env("empty")),
    "plinth-init + contract + hook": (U + [init, "--", "/bin/true"], env("full")),
}
total = {k: 0.0 for k in cases}
for i in range(n):
    for k, (cmd, e) in cases.items():
        t = time.perf_counter()
        subprocess.run(cmd, env=e, check=True)
        total[k] += time.perf_counter() - t
mean = {k: v / n for k, v in total.items()}
base = mean["bare /bin/true"]
over = {k: mean[k] - base for k in cases}

def mem(cmd, e):
    p = subprocess.Popen(U + cmd, env=e)
    time.sleep(0.3)
    child = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()[0]
    st = dict(l.split(":", 1) for l in open(f"/proc/{child}/status").read().splitlines())
    rss, anon = st["VmRSS"].strip(), st["RssAnon"].strip()
    p.kill(); p.wait()
    return int(rss.split()[0]), int(anon.split()[0])
mt = mem([tini, "--", "sleep", "2"], None)
mp = mem([init, "--", "sleep", "2"], env("empty"))
mf = mem([init, "--", "sleep", "2"], env("full"))
st, sp = os.path.getsize(tini), os.path.getsize(init)
print(f"runs: {n} (interleaved), unshare --fork --pid --mount-proc each")
print("| measure | tini-static | plinth-init | plinth-init / tini |")
print("|---|---|---|---|")
print(f"| static binary size | {st/1024:.0f} KiB | {sp/1024:.0f} KiB | {sp/st:.2f} |")
print(f"| start->exec overhead (mean, over bare /bin/true {base*1000:.2f} ms) | {over['tini']*1000:.2f} ms | {over['plinth-init']*1000:.2f} ms | {over['plinth-init']/over['tini']:.2f} |")
print(f"| same, plinth-init with a 3-variable env contract and one hook | | {over['plinth-init + contract + hook']*1000:.2f} ms | {over['plinth-init + contract + hook']/over['tini']:.2f} |")
print(f"| memory: VmRSS while the service runs (mostly the binary's pages, shared) | {mt[0]} KiB | {mp[0]} KiB | {mp[0]/mt[0]:.2f} |")
print(f"| memory: RssAnon (private to the process) | {mt[1]} KiB | {mp[1]} KiB | {mp[1]/mt[1]:.2f} |")
print(f"| memory with the contract and hook: VmRSS / RssAnon | | {mf[0]} / {mf[1]} KiB | {mf[0]/mt[0]:.2f} / {mf[1]/mt[1]:.2f} |")
PY
