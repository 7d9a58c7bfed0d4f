#!/usr/bin/env bash
# A real `haul bench` report: nginx on 127.0.0.1 serving 400 small files and 8 big ones (the big ones
# capped at 4 MB/s a connection, as archives cap theirs), a URL list with one missing file, 8 seconds at
# 150 requests a second. Writes OUT.json and OUT.html (default ./bench-report); docs/bench.md's picture of
# a report (docs/bench-report.png) is a screenshot of the HTML.
#   Benchmarks/bench-report.sh [OUT]        HAUL=.build/debug/haul to use a debug build
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$PWD/bench-report}
source Benchmarks/common.sh nginx curl
make_files small 400 262144 random
make_files big 8 16777216 random
nginx_server='location /big/ { limit_rate 4m; }'
start_nginx
make_lists small
make_lists big
cat "$work/small.urls" "$work/big.urls" > "$work/all.urls"
echo "http://127.0.0.1:$port/small/missing.fits" >> "$work/all.urls"
status=0
"$haul" bench "$work/all.urls" --duration 8 --rate 150 --parallel 64 --retries 0 \
    --label "nginx on 127.0.0.1" --json "$out.json" --html "$out.html" --progress none || status=$?
echo "haul bench exited $status (1: the missing file is an error, as it should be)" >&2
