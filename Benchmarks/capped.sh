#!/usr/bin/env bash
# One big file over many connections: 2 files × 256 MiB from an nginx that caps every connection at
# 32 MB/s (`limit_rate`), as real archives do, then from the same nginx uncapped. haul (segments over
# several connections, --dir and --zip store from a catalog with sizes, --dir from the plain URL list) against aria2c -x16 -s16 (the peer that splits files),
# wget2 and curl. Medians of N runs in turn; haul's ratio to the fastest peer (below 1: haul faster).
#
#   scripts/setup --bench && swift build -c release && Benchmarks/capped.sh [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
[[ ${1:-} == --runs ]] && runs=$2
source Benchmarks/common.sh nginx curl wget2 aria2c python3
make_files big 2 $((256 << 20)) fits
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

run_case() {  # LABEL
    local label=$1
    make_lists big
    # A catalog with sizes, so haul knows the files are big before it asks (a URL list states none).
    python3 - "$work" "$port" <<'PY'
import json, os, sys
work, port = sys.argv[1], sys.argv[2]
rows = [{"dataURI": f"http://127.0.0.1:{port}/big/{f}", "productFilename": f, "obs_id": "big", "size": os.path.getsize(f"{work}/data/big/{f}")}
        for f in sorted(os.listdir(f"{work}/data/big"))]
json.dump({"fields": [], "data": rows}, open(f"{work}/big.json", "w"))
PY
    declare -A commands=(
        [haul-dir]="$haul download $work/big.json --dir $work/out/dir --layout flat --progress none --no-fsync"
        [haul-zip-store]="$haul download $work/big.json --zip $work/out/big.zip --compression store --layout flat --progress none --no-fsync"
        [haul-dir-urls]="$haul download $work/big.urls --dir $work/out/urls --layout flat --progress none --no-fsync"
        [aria2c-x16]="aria2c --quiet -x16 -s16 -j 2 --allow-overwrite=true --auto-file-renaming=false -d $work/out -i $work/big.urls"
        [wget2]="wget2 --quiet --max-threads=2 --no-robots -P $work/out -i $work/big.urls"
        [curl]="curl --parallel --parallel-max 2 --fail --silent --config $work/big.curl"
    )
    local order=(haul-dir haul-zip-store haul-dir-urls aria2c-x16 wget2 curl)
    for name in "${order[@]}"; do : > "$work/$name.times"; done
    for _ in $(seq "$runs"); do
        for name in "${order[@]}"; do
            rm -rf "$work/out" "$work/out-curl"; mkdir -p "$work/out" "$work/out-curl"
            /usr/bin/time -f '%e %U %S' -a -o "$work/$name.times" bash -c "${commands[$name]}" >/dev/null 2>&1 || echo "$name failed" >&2
        done
    done
    printf '\n%s\n\n| tool | median wall | median CPU |\n| --- | --- | --- |\n' "$label"
    local best=999999 best_name=""
    for name in "${order[@]}"; do
        local wall cpu
        wall=$(awk '{print $1}' "$work/$name.times" | median)
        cpu=$(awk '{print $2 + $3}' "$work/$name.times" | median)
        printf '| %s | %.2f s | %.2f s |\n' "$name" "$wall" "$cpu"
        case $name in haul-*) eval "wall_${name//-/_}=$wall" ;; *) if (( $(bc -l <<<"$wall < $best") )); then best=$wall; best_name=$name; fi ;; esac
    done
    printf '\nhaul --dir / %s: %.2f×; haul --zip store / %s: %.2f×; haul --dir from the URL list / %s: %.2f× (below 1: haul faster)\n' \
        "$best_name" "$(bc -l <<<"$wall_haul_dir / $best")" "$best_name" "$(bc -l <<<"$wall_haul_zip_store / $best")" \
        "$best_name" "$(bc -l <<<"$wall_haul_dir_urls / $best")"
}

nginx_server="limit_rate 32m;" start_nginx
run_case "capped at 32 MB/s per connection"
kill "$nginx_pid"; wait "$nginx_pid" 2>/dev/null || true
nginx_server="" start_nginx
run_case "uncapped"
