#!/usr/bin/env bash
# `haul plan` at scale: a generated 10,000,000-row CAOM product list in 4 files, 30% of its rows
# duplicates of others (Benchmarks/plan-catalog.py, which shares nothing with `haul sample`), planned
# into 1,000 shards. Prints the time and peak memory (GNU time), the biggest shard's bytes against the
# mean and against the bound (1.01 × the mean plus the largest file), and checks that no URI is in two
# shards and every unique one is in one. Release build first (`swift build -c release`).
#
#   Benchmarks/plan-10m.sh [ROWS [SHARDS]]      the catalog is kept in ${HAUL_BENCH_CACHE:-/tmp}
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-10000000}
shards=${2:-1000}
haul=${HAUL:-$PWD/.build/release/haul}
[[ -x $haul ]] || { echo "build first: swift build -c release" >&2; exit 1; }
cache=${HAUL_BENCH_CACHE:-/tmp}
prefix=$cache/haul-plan-$rows
if [[ ! -s $prefix-4.json ]]; then
    echo "writing $prefix-{1..4}.json (once)" >&2
    python3 Benchmarks/plan-catalog.py "$prefix" "$rows" 4 > "$prefix.json.stats"
fi
out=$(mktemp -d /tmp/haul-plan.XXXXXX)
trap 'rm -rf "$out"' EXIT
/usr/bin/time -f "wall %e s, CPU %U s user + %S s system, peak RSS %M KiB" \
    "$haul" plan "$prefix"-1.json "$prefix"-2.json "$prefix"-3.json "$prefix"-4.json --shards "$shards" --out "$out/plan"
python3 - "$out/plan" "$prefix.json.stats" <<'PY'
import csv, json, sys
folder, stats = sys.argv[1], json.load(open(sys.argv[2]))
plan = json.load(open(f"{folder}/plan.json"))
sizes = [s["bytes"] for s in plan["shards"]]
mean = sum(sizes) / len(sizes)
bound = 1.01 * mean + stats["largest"]
print(f"shards {len(sizes)}: biggest {max(sizes):,} B = {max(sizes) / mean:.5f} x the mean ({mean:,.0f} B); "
      f"bound 1.01 x mean + largest file ({stats['largest']:,} B) = {bound:,.0f} B: {'met' if max(sizes) <= bound else 'NOT MET'}; "
      f"smallest {min(sizes) / mean:.5f} x the mean; files per shard {min(s['files'] for s in plan['shards'])}..{max(s['files'] for s in plan['shards'])}")
seen = set()
twice = 0
for shard in plan["shards"]:
    with open(f"{folder}/{shard['path']}", newline="") as f:
        rows = csv.reader(f)
        next(rows)
        for row in rows:
            if row[6] in seen:
                twice += 1
            seen.add(row[6])
print(f"unique URIs in the shards: {len(seen):,} (catalog: {stats['unique']:,}); in two shards: {twice}")
sys.exit(0 if twice == 0 and len(seen) == stats["unique"] and max(sizes) <= bound else 1)
PY
