#!/usr/bin/env bash
# 8 files × 256 MiB (FITS-like noise) from one nginx: `haul download --zip --compression store` (entries
# written once, in place) against the fastest peers writing plain files — wget2 (8 threads), aria2c
# (8 downloads at once) and curl --parallel — and `haul download --dir`; haul with and without its final
# fsync (the peers do not flush). Medians of N runs in turn,
# wall and CPU (user + system) per tool, and haul's ratio to the fastest peer (below 1 is faster).
#
#   scripts/setup --bench && swift build -c release && Benchmarks/big-store.sh [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5
[[ ${1:-} == --runs ]] && runs=$2
source Benchmarks/common.sh nginx curl wget2 aria2c python3
make_files big 8 $((256 << 20)) fits
start_nginx
make_lists big
bytes=$(du -sb "$work/data/big" | cut -f1)

declare -A commands=(
    [haul-zip-store]="$haul download $work/big.urls --zip $work/out/big.zip --compression store --layout flat --progress none"
    [haul-zip-store-no-fsync]="$haul download $work/big.urls --zip $work/out/big.zip --compression store --layout flat --progress none --no-fsync"
    [haul-dir-no-fsync]="$haul download $work/big.urls --dir $work/out/dir --layout flat --progress none --no-fsync"
    [haul-dir]="$haul download $work/big.urls --dir $work/out/dir --layout flat --progress none"
    [wget2]="wget2 --quiet --max-threads=8 --no-robots -P $work/out -i $work/big.urls"
    [aria2c]="aria2c --quiet -j 8 -x 1 --allow-overwrite=true --auto-file-renaming=false -d $work/out -i $work/big.urls"
    [curl]="curl --parallel --parallel-max 8 --fail --silent --config $work/big.curl"
)
order=(haul-zip-store haul-zip-store-no-fsync wget2 aria2c curl haul-dir haul-dir-no-fsync)
for name in "${order[@]}"; do : > "$work/$name.times"; done
for run in $(seq "$runs"); do
    for name in "${order[@]}"; do
        rm -rf "$work/out" "$work/out-curl"; mkdir -p "$work/out" "$work/out-curl"
        sync
        /usr/bin/time -f '%e %U %S' -a -o "$work/$name.times" bash -c "${commands[$name]}" >/dev/null 2>&1
    done
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
printf '%s MB, %s runs, %s cores\n\n| tool | median wall | MB/s | median CPU |\n| --- | --- | --- | --- |\n' "$((bytes / 1000000))" "$runs" "$(nproc)"
best_wall=999999; best_cpu=0; best=""
for name in "${order[@]}"; do
    wall=$(awk '{print $1}' "$work/$name.times" | median)
    cpu=$(awk '{print $2 + $3}' "$work/$name.times" | median)
    printf '| %s | %.2f s | %.0f | %.2f s |\n' "$name" "$wall" "$(bc -l <<<"$bytes / 1000000 / $wall")" "$cpu"
    case $name in haul-*) ;; *) if (( $(bc -l <<<"$wall < $best_wall") )); then best_wall=$wall; best_cpu=$cpu; best=$name; fi ;; esac
    printf '%s %s %s\n' "$name" "$wall" "$cpu" >> "$work/summary"
done
zip_wall=$(awk '$1 == "haul-zip-store" {print $2}' "$work/summary")
zip_cpu=$(awk '$1 == "haul-zip-store" {print $3}' "$work/summary")
printf '\nhaul --zip store / fastest peer (%s): time %.2f×, CPU %.2f× (below 1: haul is faster / uses less)\n' \
    "$best" "$(bc -l <<<"$zip_wall / $best_wall")" "$(bc -l <<<"$zip_cpu / $best_cpu")"
