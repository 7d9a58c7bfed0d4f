#!/usr/bin/env bash
# Measures `haul download --zip` against curl on the same nginx, in one run (issue 4's targets):
#
#   1. 2,000 × 256 KiB FITS-like files: --zip --compression store against `curl --parallel` writing the
#      files (target: time ratio ≤ 1.0), and --compression deflate --compression-level 1 against curl
#      then `zip -1 -r` (target: ≤ 0.5, with the ZIP at most 1.02 × zip's size).
#   2. 256 × 32 MiB at --parallel 256: peak resident memory of haul (target ≤ 256 MiB, the default
#      --memory-limit), with store and with deflate level 1.
#
#   Benchmarks/compare-zip.sh [--runs N] [--parallel N] [--skip-memory]
#
# Needs a release build (swift build -c release) and `scripts/setup --bench`. Uses about 9 GB of /tmp.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3
parallel=64
memory=1
while (($#)); do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --parallel) parallel=$2; shift 2 ;;
        --skip-memory) memory=0; shift ;;
        *) echo "usage: $0 [--runs N] [--parallel N] [--skip-memory]" >&2; exit 2 ;;
    esac
done

source Benchmarks/common.sh nginx curl hyperfine python3 zip
make_files zip 2000 $((256 * 1024)) fits
start_nginx
make_lists zip
count=2000
bytes=$(du -sb "$work/data/zip" | cut -f1)

echo "haul $("$haul" --version), $(curl --version | head -1 | cut -d' ' -f1-2), $(zip -v | sed -n 2p | sed 's/^ *//' | cut -d' ' -f3-4), nginx on 127.0.0.1:$port, $(nproc) cores, --parallel $parallel, $runs runs each"
echo "workload 1: $count FITS-like files of 256 KiB, $((bytes / 1000000)) MB"
fetch_curl="curl --parallel --parallel-max $parallel --fail --silent --config $work/zip.curl"
haul_zip="$haul download $work/zip.urls --layout flat --parallel $parallel --progress none"
hyperfine ${HYPERFINE_FLAGS:---style none} --runs "$runs" --warmup 1 --export-json "$work/zip.json" \
    --prepare "rm -rf $work/out-curl $work/*.zip; mkdir -p $work/out-curl" \
    --command-name "haul --zip store" "$haul_zip --zip $work/store.zip --compression store" \
    --command-name "curl --parallel" "$fetch_curl" \
    --command-name "haul --zip deflate -1" "$haul_zip --zip $work/deflate.zip --compression deflate --compression-level 1" \
    --command-name "curl + zip -1 -r" "sh -c '$fetch_curl && cd $work/out-curl && zip -1 -q -r $work/zip-1.zip .'" \
    > /dev/null
# Once more each, to compare the archive sizes.
rm -rf "$work/out-curl" "$work"/*.zip && mkdir -p "$work/out-curl"
$haul_zip --zip "$work/deflate.zip" --compression deflate --compression-level 1
sh -c "$fetch_curl && cd $work/out-curl && zip -1 -q -r $work/zip-1.zip ."
haul_size=$(stat -c %s "$work/deflate.zip")
zip_size=$(stat -c %s "$work/zip-1.zip")
python3 - "$work/zip.json" "$count" "$bytes" "$haul_size" "$zip_size" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
count, size, haul_size, zip_size = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
for name, r in results.items():
    t = r["median"]
    print(f"  {name:22} {t:7.3f} s median (±{r['stddev']:.3f})  {count / t:7.0f} files/s  {size / t / 1e6:7.1f} MB/s  CPU {r['user'] + r['system']:6.2f} s")
m = {k: v["median"] for k, v in results.items()}
print(f"  store:   haul/curl time ratio {m['haul --zip store'] / m['curl --parallel']:.2f} (target <= 1.0)")
print(f"  deflate: haul/(curl + zip -1) time ratio {m['haul --zip deflate -1'] / m['curl + zip -1 -r']:.2f} (target <= 0.5)")
print(f"  deflate: ZIP size haul {haul_size / 1e6:.1f} MB, zip -1 {zip_size / 1e6:.1f} MB, ratio {haul_size / zip_size:.3f} (target <= 1.02)")
PY

if ((memory)); then
    rm -rf "$work/data/zip" "$work"/*.zip "$work/out-curl"
    make_files big 256 $((32 * 1024 * 1024)) fits
    make_lists big
    echo "workload 2: 256 FITS-like files of 32 MiB (8.6 GB) at --parallel 256, default --memory-limit (256 MiB)"
    for mode in store "deflate --compression-level 1"; do
        rm -f "$work/big.zip"
        /usr/bin/time -f "%M %e %U %S" -o "$work/time.txt" \
            "$haul" download "$work/big.urls" --zip "$work/big.zip" --layout flat --parallel 256 --compression $mode --progress none 2> "$work/haul.err" \
            || { cat "$work/haul.err"; exit 1; }
        read -r rss elapsed user sys < "$work/time.txt"
        size=$(stat -c %s "$work/big.zip")
        echo "  --compression $mode: peak RSS $((rss / 1024)) MiB, $elapsed s, CPU $user user + $sys sys, $((8589934592 / 1000000)) MB in, ZIP $((size / 1000000)) MB"
    done
fi
