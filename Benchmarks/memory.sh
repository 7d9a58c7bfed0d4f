#!/usr/bin/env bash
# Peak resident memory of haul for the memory-limit cases: 256 files × 32 MiB at --parallel 256 with the
# default limit (256 MiB), in every output mode, on FITS-like noise and on zeros (which deflate to almost
# nothing, the shape that once hung), and 1,000 files × 2 MiB at --parallel 1000. Figures are the kernel's
# peak (VmHWM) that haul reports in its JSON summary, and GNU time's maximum resident set as a cross-check.
#
#   scripts/setup --bench && swift build -c release && Benchmarks/memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/common.sh nginx curl python3

make_files fits1 1 $((32 << 20)) fits
mkdir -p "$work/data/fits" "$work/data/zeros" "$work/data/small"
# One FITS-like file linked 256 times, and sparse files of zeros: 16 GiB served from almost no disk.
for i in $(seq -w 0 255); do
    ln "$work/data/fits1/f00000.fits" "$work/data/fits/f$i.fits"
    truncate -s 32M "$work/data/zeros/z$i.fits"
done
for i in $(seq -w 0 999); do truncate -s 2M "$work/data/small/s$i.fits"; done
chmod -R a+rX "$work/data"
start_nginx
for set in fits zeros small; do
    : > "$work/$set.urls"
    for f in "$work/data/$set"/*; do echo "http://127.0.0.1:$port/$set/$(basename "$f")" >> "$work/$set.urls"; done
done

measure() {  # LABEL SET PARALLEL ARGS…
    local label=$1 set=$2 parallel=$3; shift 3
    rm -rf "$work/out" "$work/out.zip" "$work/out.zip.haul-part"
    local timing="$work/time.txt"
    /usr/bin/time -f '%M %e %U %S' -o "$timing" "$haul" download "$work/$set.urls" --parallel "$parallel" --progress json "$@" \
        > "$work/events.json" 2>"$work/stderr.txt" || { echo "$label: haul failed"; tail -5 "$work/stderr.txt"; return; }
    local summary rss pauses
    summary=$(grep '"event":"summary"' "$work/events.json" "$work/stderr.txt" -h | tail -1)
    rss=$(sed -E 's/.*"peak_rss_bytes":([0-9]+).*/\1/' <<<"$summary")
    pauses=$(sed -E 's/.*"memory_pauses":([0-9]+).*/\1/' <<<"$summary")
    read -r maxrss seconds user system < "$timing"
    printf '| %-44s | %7.1f MiB | %7.1f MiB | %6s | %6.2f s | %6.2f s |\n' "$label" "$(bc -l <<<"$rss / 1048576")" \
        "$(bc -l <<<"$maxrss / 1024")" "$pauses" "$seconds" "$(bc -l <<<"$user + $system")"
}

echo "| case (default --memory-limit 256) | peak RSS (VmHWM) | GNU time max RSS | pauses for memory | wall | CPU |"
echo "| --- | --- | --- | --- | --- | --- |"
measure "256 × 32 MiB FITS, --zip store, --parallel 256" fits 256 --zip "$work/out.zip" --compression store
measure "256 × 32 MiB zeros, --zip deflate, --parallel 256" zeros 256 --zip "$work/out.zip" --compression deflate
measure "256 × 32 MiB zeros, --zip auto, --parallel 256" zeros 256 --zip "$work/out.zip"
measure "256 × 32 MiB FITS, --zip deflate -1, --parallel 256" fits 256 --zip "$work/out.zip" --compression deflate --compression-level 1
measure "256 × 32 MiB zeros, --zip - deflate, --parallel 256" zeros 256 --zip - --compression deflate
measure "256 × 32 MiB FITS, --dir, --parallel 256" fits 256 --dir "$work/out"
measure "1,000 × 2 MiB zeros, --zip deflate, --parallel 1000" small 1000 --zip "$work/out.zip" --compression deflate
measure "1,000 × 2 MiB zeros, --dir, --parallel 1000" small 1000 --dir "$work/out"
