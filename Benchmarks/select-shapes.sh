#!/usr/bin/env bash
# `haul select` on million-row CAOM lists of every shape (docs/performance.md, "A million rows of any shape"): many small observations and few
# large ones, compact and pretty JSON, shuffled columns, long descriptions, non-ASCII and escaped
# strings, nulls and numbers in every form, and the astropy CSV table. Each list is written by
# Benchmarks/catalog-shapes.py (no code shared with `haul sample`), which also works out the totals
# haul must report; a run that reports others fails. For each shape: `select --json` and the default
# summary, wall and CPU seconds and peak RSS as GNU time reports them (the kernel's maximum resident
# set), medians of --runs. Release build first (`swift build -c release`).
#
#   Benchmarks/select-shapes.sh [--runs N] [--rows N] [--shape NAME]... [--baseline OTHER_HAUL_BINARY]
#
# The lists (about 6.5 GB for all ten at a million rows; about 6 minutes of one core to write) go in
# the work folder, removed at the end, or, when HAUL_BENCH_CACHE is set, in
# $HAUL_BENCH_CACHE/haul-shapes-ROWS, kept for the next run. --baseline times another build (say,
# main's) in turn with this one, run for run.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
rows=1000000
baseline=""
shapes=()
while (($#)); do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --rows) rows=$2; shift 2 ;;
        --shape) shapes+=("$2"); shift 2 ;;
        --baseline) baseline=$2; shift 2 ;;
        *) echo "usage: $0 [--runs N] [--rows N] [--shape NAME]... [--baseline HAUL_BINARY]" >&2; exit 2 ;;
    esac
done
source Benchmarks/common.sh
folder=$work/shapes
[[ -n ${HAUL_BENCH_CACHE:-} ]] && folder=$HAUL_BENCH_CACHE/haul-shapes-$rows
((${#shapes[@]})) || shapes=(obs10 obs100 obs1 pretty shuffled jumbled long-desc unicode nulls csv)
for shape in "${shapes[@]}"; do
    if [[ ! -s $folder/$shape.expect.json ]]; then
        python3 Benchmarks/catalog-shapes.py "$folder" --rows "$rows" --shape "$shape"
    fi
done

python3 - "$runs" "$folder" "$haul" "$baseline" "${shapes[@]}" <<'PY'
import json, os, statistics, subprocess, sys
runs, folder, haul, baseline, shapes = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
binaries = [("haul", haul)] + ([("baseline", baseline)] if baseline else [])
out = os.path.join(folder, "select.out")

def timed(cmd):
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) as /usr/bin/time reports them."""
    with open(out, "w") as stdout:
        r = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M"] + cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()[-400:]}")
    e, u, s, m = r.stderr.strip().splitlines()[-1].split()
    return float(e), float(u) + float(s), int(m) / 1024

def check(expect, json_output):
    """The totals haul reported are the generator's (distinct URIs and their stated bytes)."""
    text = open(out).read()
    if json_output:
        got = json.loads(text)
        found = (got["total_files"], got["total_bytes"])
        if found != (expect["total_files"], expect["total_bytes"]):
            raise SystemExit(f"{expect['path']}: haul reported {found}, the generator wrote {expect['total_files']} URIs of {expect['total_bytes']} bytes")
    elif f" of {expect['total_files']:,} file" not in text.splitlines()[0]:
        raise SystemExit(f"{expect['path']}: haul's summary {text.splitlines()[0]!r} does not count {expect['total_files']:,} files")

rows = []
for shape in shapes:
    expect = json.load(open(os.path.join(folder, shape + ".expect.json")))
    size = os.path.getsize(expect["path"]) / 1e6
    for label, flags in [("--json", ["--json"]), ("summary", [])]:
        results = {name: [] for name, _ in binaries}
        for _ in range(runs):
            for name, binary in binaries:
                results[name].append(timed([binary, "select", expect["path"], *flags]))
                check(expect, bool(flags))
        for name, _ in binaries:
            r = results[name]
            rows.append((shape, f"{size:,.0f}", f"{name} {label}", statistics.median(x[0] for x in r),
                         statistics.median(x[1] for x in r), statistics.median(x[2] for x in r)))
os.unlink(out)

print(f"\n{expect['rows']:,} rows a shape; medians of {runs} runs; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
print("| shape | MB | run | wall s | CPU s | peak RSS MiB |\n| --- | --- | --- | --- | --- | --- |")
for shape, size, name, e, c, m in rows:
    print(f"| {shape} | {size} | {name} | {e:.2f} | {c:.2f} | {m:.0f} |")
PY
