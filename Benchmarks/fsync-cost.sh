#!/usr/bin/env bash
# Measures what durability costs: `haul download` with the default fsync (each file before its
# rename, the folders after; the archive before its rename) against the same run with --no-fsync,
# on one nginx, for --dir and --zip --compression store:
#
#   1. 2,000 files of 256 KiB (524 MB): many small files, one fsync each under --dir.
#   2. 8 files of 256 MiB (2.1 GB): few large files, where fsync waits for the data to reach the disk.
#
#   Benchmarks/fsync-cost.sh [--runs N] [--output FOLDER]
#
# Needs a release build (swift build -c release) and `scripts/setup --bench`. Uses about 7 GB of /tmp.
# The outputs go to the work folder in /tmp, or to --output FOLDER: on a tmpfs (say /dev/shm) a flush
# costs the disk nothing, so what is left of the difference is what the flushing itself costs haul
# (its system calls, the writeback thread, the folders' flushes).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3
output=""
while (($#)); do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --output) output=$2; shift 2 ;;
        *) echo "usage: $0 [--runs N] [--output FOLDER]" >&2; exit 2 ;;
    esac
done

source Benchmarks/common.sh nginx curl hyperfine python3
make_files small 2000 $((256 * 1024)) random
make_files large 8 $((256 * 1024 * 1024)) random
start_nginx
make_lists small
make_lists large
out=$work
if [[ -n $output ]]; then
    out=$(mktemp -d "$output/haul-fsync-cost.XXXXXX")
    trap 'rm -rf "$out"; cleanup' EXIT
fi

echo "haul $("$haul" --version), nginx on 127.0.0.1:$port, $(nproc) cores, $runs runs each, output on $(df --output=source,fstype "$out" | tail -1)"
for set in small large; do
    bytes=$(du -sb "$work/data/$set" | cut -f1)
    count=$(ls "$work/data/$set" | wc -l)
    echo "workload $set: $count files, $((bytes / 1000000)) MB"
    base="$haul download $work/$set.urls --layout flat --parallel 64 --progress none"
    # Page cache emptied of earlier runs' dirty pages before each run, so every run starts equal.
    hyperfine --style none --runs "$runs" --warmup 1 --export-json "$work/$set.json" \
        --prepare "rm -rf $out/out $out/out.zip; sync" \
        --command-name "dir fsync" "$base --dir $out/out" \
        --command-name "dir no-fsync" "$base --dir $out/out --no-fsync" \
        --command-name "zip fsync" "$base --zip $out/out.zip --compression store" \
        --command-name "zip no-fsync" "$base --zip $out/out.zip --compression store --no-fsync" \
        > /dev/null
    python3 - "$work/$set.json" "$bytes" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
size = int(sys.argv[2])
for name, r in results.items():
    print(f"  {name:18} {r['median']:7.3f} s median (±{r['stddev']:.3f}, min {r['min']:.3f})  {size / r['median'] / 1e6:7.1f} MB/s")
for mode in ("dir", "zip"):
    a, b = results[f"{mode} fsync"]["median"], results[f"{mode} no-fsync"]["median"]
    print(f"  --{mode}: fsync costs {a - b:+.3f} s ({(a / b - 1) * 100:+.0f} %)")
PY
done
