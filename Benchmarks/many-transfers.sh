#!/usr/bin/env bash
# Many slow transfers at once, and many small files: what the engine's event loop costs per transfer.
#
#   1. n files of 2 KiB from an nginx sending 256 B/s per connection (each transfer lasts about 8 s), for each
#      n in COUNTS: `haul download --dir --parallel n` and Benchmarks/asyncio_fetch.py (a plain asyncio
#      client, epoll underneath) at the same n. Prints wall and CPU seconds of each, and for haul the CPU
#      of its engine thread (the one thread that owns libcurl, named haul-engine) and that per second of
#      wall: what a loop whose cost grows with the number of transfers shows first.
#   2. 2,000 × 256 KiB at full speed: `haul download --dir` (--parallel 64; with fsync, the default, and
#      with --no-fsync, which is what wget2 does) against `wget2 --max-threads=64`, time and CPU.
#
#   Benchmarks/many-transfers.sh [--runs N] [--counts "1000 4000 8000 10000"] [--skip-small] [--no-fsync]
#
# --no-fsync passes --no-fsync to haul in part 1, as the asyncio client does not flush either.
#
# Needs a release build (swift build -c release) and `scripts/setup --bench` (nginx, wget2, time).
# Raises the descriptor limit to its hard limit (raised too where allowed) and skips the counts it cannot
# hold: n transfers need about 2n descriptors in haul and as many in nginx. nginx listens on 127.0.0.1 on a free port and is stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=1
counts="1000 4000 8000 10000"
small=1
flags=()
while (($#)); do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --counts) counts=$2; shift 2 ;;
        --skip-small) small=0; shift ;;
        --no-fsync) flags+=(--no-fsync); shift ;;
        *) echo "usage: $0 [--runs N] [--counts \"N …\"] [--skip-small] [--no-fsync]" >&2; exit 2 ;;
    esac
done

# 2 descriptors a transfer (its socket, its file) in haul and in nginx, plus a margin.
max=0
for n in $counts; do ((n > max)) && max=$n; done
want=$((2 * max + 512))
if (($(ulimit -Hn) < want)); then ulimit -Hn "$want" 2>/dev/null || true; fi
ulimit -n "$(ulimit -Hn)"
limit=$(ulimit -n)
fits=""
for n in $counts; do
    if ((2 * n + 512 <= limit)); then fits+=" $n"; else echo "skipping n=$n: it needs $((2 * n + 512)) descriptors, the limit is $limit" >&2; fi
done
counts=$fits
max=0
for n in $counts; do ((n > max)) && max=$n; done
nginx_connections=$((max + 1024))
nginx_server='location /slow/ { limit_rate 256; }'
source Benchmarks/common.sh nginx python3 wget2 /usr/bin/time
make_files slow "$max" 2048 random
start_nginx
ls "$work/data/slow" | sed "s|^|http://127.0.0.1:$port/slow/|" > "$work/slow.urls"

# measure NAME COMMAND…: runs COMMAND under /usr/bin/time and, while it runs, samples the CPU ticks of
# its thread named haul-engine (if any) from /proc. Prints NAME, wall, user+system CPU, engine CPU.
measure() {
    local name=$1; shift
    /usr/bin/time -f '%e %U %S' -o "$work/time" "$@" > "$work/out.log" 2>&1 &
    local timer=$! pid="" tid="" ticks=0 line rest
    local -a fields
    while kill -0 "$timer" 2>/dev/null; do
        if [[ -z $pid ]]; then pid=$(pgrep -P "$timer" | head -1 || true); fi
        if [[ -n $pid && -z $tid ]]; then
            for task in /proc/"$pid"/task/*; do
                if [[ $(cat "$task/comm" 2>/dev/null) == haul-engine ]]; then tid=${task##*/}; fi
            done
        fi
        if [[ -n $tid ]] && { read -r line < "/proc/$pid/task/$tid/stat"; } 2>/dev/null; then
            rest=${line##*) }
            read -r -a fields <<< "$rest"
            ticks=$((fields[11] + fields[12]))  # utime, stime (fields 14 and 15 of stat)
        fi
        sleep 0.1
    done
    if ! wait "$timer"; then
        echo "$name failed:" >&2; tail -5 "$work/out.log" >&2
    fi
    read -r wall user sys < <(tail -1 "$work/time")
    local hz; hz=$(getconf CLK_TCK)
    python3 - "$name" "$wall" "$user" "$sys" "$ticks" "$hz" "$tid" <<'PY'
import sys
name, wall, user, sys_, ticks, hz, tid = sys.argv[1:]
wall, cpu = float(wall), float(user) + float(sys_)
engine = f"engine {int(ticks) / int(hz):6.2f} s ({int(ticks) / int(hz) / wall:.3f} s/s)" if tid else ""
print(f"  {name:28} wall {wall:6.2f} s  CPU {cpu:6.2f} s (user {float(user):.2f}, sys {float(sys_):.2f})  {engine}", flush=True)
PY
}

echo "haul $("$haul" --version), $(wget2 --version | head -1), Python $(python3 -c 'import sys; print(sys.version.split()[0])'), nginx on 127.0.0.1:$port, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $runs runs each"
echo "1. n × 2 KiB at 256 B/s per connection, --parallel n"
for n in $counts; do
    head -n "$n" "$work/slow.urls" > "$work/slow-$n.urls"
    for ((run = 1; run <= runs; run++)); do
        rm -rf "$work/out-haul" "$work/out-py"
        measure "haul n=$n ${flags[*]}" "$haul" download "$work/slow-$n.urls" --dir "$work/out-haul" --layout flat --parallel "$n" --progress none "${flags[@]}"
        [[ $(ls "$work/out-haul" | grep -c fits) == "$n" ]] || echo "  haul wrote $(ls "$work/out-haul" | grep -c fits) of $n files" >&2
        measure "asyncio n=$n" python3 Benchmarks/asyncio_fetch.py "$work/slow-$n.urls" "$work/out-py" "$n"
    done
done

if ((small)); then
    make_files small 2000 $((256 * 1024)) random
    ls "$work/data/small" | sed "s|^|http://127.0.0.1:$port/small/|" > "$work/small.urls"
    echo "2. 2,000 × 256 KiB (524 MB), 64 at once"
    for ((run = 1; run <= runs; run++)); do
        rm -rf "$work/out-haul" "$work/out-wget2"
        measure "haul --dir" "$haul" download "$work/small.urls" --dir "$work/out-haul" --layout flat --parallel 64 --progress none
        rm -rf "$work/out-haul"
        measure "haul --dir --no-fsync" "$haul" download "$work/small.urls" --dir "$work/out-haul" --layout flat --parallel 64 --progress none --no-fsync
        measure "wget2 --max-threads=64" wget2 --max-threads=64 --quiet --input-file "$work/small.urls" --directory-prefix "$work/out-wget2"
        [[ $(ls "$work/out-wget2" | wc -l) == 2000 ]] || echo "  wget2 wrote $(ls "$work/out-wget2" | wc -l) of 2000 files" >&2
    done
fi
