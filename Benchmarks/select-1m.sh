#!/usr/bin/env bash
# A million-row MAST CAOM product list (docs/performance.md, "A catalog of a million rows"): how long `haul select --json` takes and how much
# memory it peaks at, Python's `json.load` alone on the same file for scale, and how soon `haul download`
# of the whole list starts transferring (against a closed port, so every transfer fails at once: the
# time to the first progress event and to the first file's result is the time spent before the network).
# Release build first (`swift build -c release`).
#
#   Benchmarks/select-1m.sh [--runs N] [--baseline OTHER_HAUL_BINARY]
#
# The list is written once by the hidden `haul sample` command (25,000 JWST observations of 32 rows and
# 14,300 HST associations of 14: 1,000,200 rows, 810 MB pretty-printed; about 5 minutes) and kept as
# ${HAUL_BENCH_CACHE:-/tmp}/haul-caom1m.json; a compact copy (what the MAST service sends, 608 MB) is
# measured too. --baseline times another build (say, main's) in turn with this one, run for run.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5
baseline=""
while (($#)); do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --baseline) baseline=$2; shift 2 ;;
        *) echo "usage: $0 [--runs N] [--baseline HAUL_BINARY]" >&2; exit 2 ;;
    esac
done
source Benchmarks/common.sh
cache=${HAUL_BENCH_CACHE:-/tmp}
pretty=$cache/haul-caom1m.json
compact=$cache/haul-caom1m-compact.json
if [[ ! -s $pretty ]]; then
    echo "writing $pretty (once; about 5 minutes)" >&2
    "$haul" sample --jwst 25000 --hst 14300 -o "$pretty.tmp" && mv "$pretty.tmp" "$pretty"
fi
if [[ ! -s $compact || $compact -ot $pretty ]]; then
    python3 -c 'import json,sys; json.dump(json.load(open(sys.argv[1])), open(sys.argv[2], "w"), separators=(",", ":"))' "$pretty" "$compact"
fi

python3 - "$runs" "$work" "$pretty" "$compact" "$haul" "$baseline" <<'PY'
import os, signal, statistics, subprocess, sys, time
runs, work, pretty, compact, haul, baseline = int(sys.argv[1]), *sys.argv[2:]
binaries = [("haul", haul)] + ([("baseline", baseline)] if baseline else [])

def timed(cmd):
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) as /usr/bin/time reports them."""
    out = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M"] + cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, check=True)
    e, u, s, m = out.stderr.strip().splitlines()[-1].split()
    return float(e), float(u) + float(s), int(m) / 1024

def first_events(binary, catalog):
    """Seconds from start to the first progress event and to the first file event of a download."""
    out = os.path.join(work, "out")
    start = time.monotonic()
    p = subprocess.Popen([binary, "download", catalog, "--dir", out, "--archive", "http://127.0.0.1:1",
                          "--progress", "json", "--retries", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    progress = file = None
    try:
        for line in p.stdout:
            now = time.monotonic() - start
            if progress is None and '"event":"progress"' in line.replace(" ", ""): progress = now
            if file is None and '"event":"file"' in line.replace(" ", ""): file = now
            if progress is not None and file is not None: break
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
        subprocess.run(["rm", "-rf", out])
    return progress, file

rows = []
for label, catalog in [("pretty, 810 MB", pretty), ("compact, 608 MB", compact)]:
    results = {name: [] for name, _ in binaries}
    python = []
    for _ in range(runs):
        for name, binary in binaries:
            results[name].append(timed([binary, "select", catalog, "--json"]))
        python.append(timed(["python3", "-c", "import json,sys; json.load(open(sys.argv[1]))", catalog]))
    for name, _ in binaries:
        r = results[name]
        rows.append((f"{name} select --json ({label})", statistics.median(x[0] for x in r),
                     statistics.median(x[1] for x in r), statistics.median(x[2] for x in r)))
    rows.append((f"python3 json.load ({label})", statistics.median(x[0] for x in python),
                 statistics.median(x[1] for x in python), statistics.median(x[2] for x in python)))

print(f"\nmedians of {runs} runs; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
print("| run | wall s | CPU s | peak RSS MiB |\n| --- | --- | --- | --- |")
for name, e, c, m in rows:
    print(f"| {name} | {e:.2f} | {c:.2f} | {m:.0f} |")

print("\n| download of the compact list | first progress event s | first file result s |\n| --- | --- | --- |")
for name, binary in binaries:
    firsts = [first_events(binary, compact) for _ in range(max(1, min(runs, 3)))]
    print(f"| {name} | {statistics.median(f[0] for f in firsts):.2f} | {statistics.median(f[1] for f in firsts):.2f} |")
PY
