#!/usr/bin/env bash
# Compares `haul download --dir` with `curl --parallel` fetching the same files from the same nginx,
# in one run, and prints files/s, MB/s and the ratio haul/curl for each workload.
#
#   Benchmarks/compare-curl.sh [--runs N] [--parallel N]
#
# Needs a release build (swift build -c release) and `scripts/setup --bench` (nginx, curl, hyperfine).
# nginx listens on 127.0.0.1 on a free port and is stopped by its PID when the script exits.
# HYPERFINE_FLAGS=--show-output shows both tools' output when a run fails.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5
parallel=64
while (($#)); do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --parallel) parallel=$2; shift 2 ;;
        *) echo "usage: $0 [--runs N] [--parallel N]" >&2; exit 2 ;;
    esac
done

source Benchmarks/common.sh nginx curl hyperfine python3
make_files small 2000 $((16 * 1024)) random
make_files large 64 $((16 * 1024 * 1024)) random
start_nginx

echo "haul $("$haul" --version), $(curl --version | head -1 | cut -d' ' -f1-2), nginx on 127.0.0.1:$port, $(nproc) cores, --parallel $parallel, $runs runs each"
for name in small large; do
    count=$(ls "$work/data/$name" | wc -l)
    bytes=$(du -sb "$work/data/$name" | cut -f1)
    make_lists "$name"
    hyperfine ${HYPERFINE_FLAGS:---style none} --runs "$runs" --warmup 1 --export-json "$work/$name.json" \
        --prepare "rm -rf $work/out-haul $work/out-curl; mkdir -p $work/out-curl" \
        --command-name haul "$haul download $work/$name.urls --dir $work/out-haul --layout flat --parallel $parallel --progress none" \
        --command-name curl "curl --parallel --parallel-max $parallel --fail --silent --config $work/$name.curl" \
        > /dev/null
    python3 - "$work/$name.json" "$name" "$count" "$bytes" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
name, count, size = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def line(tool):
    r = results[tool]
    t = r["median"]
    cpu = r["user"] + r["system"]
    return f"  {tool:5} {t:7.3f} s median (±{r['stddev']:.3f})  {count / t:9.0f} files/s  {size / t / 1e6:8.1f} MB/s  CPU {cpu:6.2f} s"
print(f"{name}: {count} files, {size / 1e6:.1f} MB")
print(line("haul"))
print(line("curl"))
h, c = results["haul"]["median"], results["curl"]["median"]
print(f"  haul/curl throughput ratio: {c / h:.2f} (above 1: haul faster)")
PY
done
