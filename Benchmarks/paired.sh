#!/usr/bin/env bash
# haul against wget2 on the two workloads of the performance issue, in turns in one run, with an older
# build of haul beside the current one when given: 8 × 256 MiB FITS-like noise into a stored ZIP
# (`--zip --compression store`, wget2 --max-threads=8 writing plain files), and 2,000 × 256 KiB into a
# folder (`--dir --parallel 64`, wget2 --max-threads=64). haul runs with its final flush (the default) and
# with --no-fsync (what wget2 does). Each run starts after its output was removed and `sync`; medians of
# N runs of wall and CPU (user + system), and each haul's ratio to wget2 from the same runs.
#
#   scripts/setup --bench && swift build -c release && Benchmarks/paired.sh [--runs N] [--baseline PATH] [--only big|small]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
baseline=""
only=""
while (($#)); do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --baseline) baseline=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        *) echo "usage: $0 [--runs N] [--baseline PATH] [--only big|small]" >&2; exit 2 ;;
    esac
done
source Benchmarks/common.sh nginx wget2 python3 /usr/bin/time
[[ -z $baseline || -x $baseline ]] || { echo "no executable at $baseline" >&2; exit 1; }
workloads=()
[[ $only != small ]] && workloads+=(big)
[[ $only != big ]] && workloads+=(small)
[[ " ${workloads[*]} " == *" big "* ]] && make_files big 8 $((256 << 20)) fits
[[ " ${workloads[*]} " == *" small "* ]] && make_files small 2000 $((256 * 1024)) random
start_nginx
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "$(wget2 --version | head -1), nginx on 127.0.0.1:$port, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $runs runs"
for workload in "${workloads[@]}"; do
    make_lists "$workload"
    declare -A commands=()
    order=()
    builds=(haul)
    [[ -n $baseline ]] && builds+=(baseline)
    for build in "${builds[@]}"; do
        binary=$haul
        [[ $build == baseline ]] && binary=$baseline
        if [[ $workload == big ]]; then
            output="--zip $work/out/big.zip --compression store --layout flat"
        else
            output="--dir $work/out/dir --layout flat --parallel 64"
        fi
        commands[$build]="$binary download $work/$workload.urls $output --progress none"
        commands[$build-no-fsync]="$binary download $work/$workload.urls $output --progress none --no-fsync"
        order+=("$build" "$build-no-fsync")
    done
    threads=$([[ $workload == big ]] && echo 8 || echo 64)
    commands[wget2]="wget2 --quiet --max-threads=$threads --no-robots -P $work/out -i $work/$workload.urls"
    order+=(wget2)
    for name in "${order[@]}"; do : > "$work/$workload-$name.times"; done
    for _ in $(seq "$runs"); do
        for name in "${order[@]}"; do
            rm -rf "$work/out"; mkdir -p "$work/out"
            sync
            /usr/bin/time -f '%e %U %S' -a -o "$work/$workload-$name.times" bash -c "${commands[$name]}" >/dev/null 2>&1
        done
    done
    bytes=$(du -sb "$work/data/$workload" | cut -f1)
    wall0=$(awk '{print $1}' "$work/$workload-wget2.times" | median)
    cpu0=$(awk '{print $2 + $3}' "$work/$workload-wget2.times" | median)
    printf '\n%s: %s files, %s MB\n\n| tool | median wall | median CPU | / wget2 time | / wget2 CPU |\n| --- | --- | --- | --- | --- |\n' \
        "$workload" "$(ls "$work/data/$workload" | wc -l)" "$((bytes / 1000000))"
    for name in "${order[@]}"; do
        wall=$(awk '{print $1}' "$work/$workload-$name.times" | median)
        cpu=$(awk '{print $2 + $3}' "$work/$workload-$name.times" | median)
        printf '| %s | %.2f s | %.2f s | %.2f× | %.2f× |\n' "$name" "$wall" "$cpu" "$(bc -l <<<"$wall / $wall0")" "$(bc -l <<<"$cpu / $cpu0")"
    done
    unset commands
done
