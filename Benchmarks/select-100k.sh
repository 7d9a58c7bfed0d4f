#!/usr/bin/env bash
# How long `haul select` takes on a 100,000-row MAST CAOM product list (the overlay's target: under 2 s),
# and on the same list with every selector at once. Needs hyperfine (scripts/setup --bench).
#   Benchmarks/select-100k.sh [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5
[[ ${1:-} == --runs ]] && runs=$2
source Benchmarks/common.sh hyperfine
# 2,500 JWST observations of 32 rows and 1,430 HST associations of 14: 100,020 rows, about 80 MB.
"$haul" sample --jwst 2500 --hst 1430 -o "$work/caom100k.json"
hyperfine --runs "$runs" --warmup 1 --export-markdown "$work/select.md" \
    -n "select (summary and first page)" "$haul select $work/caom100k.json" \
    -n "select --json, every selector" "$haul select $work/caom100k.json --quick recommended --level 2b --suffix i2d --guidestar --pipeline-inputs --regex '/_(cal|i2d|uncal)\\./i' --json" \
    -n "select --export-csv (all rows)" "$haul select $work/caom100k.json --export-csv $work/export.csv"
cat "$work/select.md"
/usr/bin/time -f "peak RSS %M KB, %e s" "$haul" select "$work/caom100k.json" > /dev/null
