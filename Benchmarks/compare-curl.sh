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

haul=$PWD/.build/release/haul
[[ -x $haul ]] || { echo "build first: swift build -c release" >&2; exit 1; }
for tool in nginx curl hyperfine python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/setup --bench" >&2; exit 1; }
done

work=$(mktemp -d /tmp/haul-bench.XXXXXX)
nginx_pid=""
cleanup() {
    if [[ -n $nginx_pid ]]; then kill "$nginx_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# The workloads: many small files (files/s) and fewer large ones (MB/s). Content is incompressible
# random bytes, which is what the wire carries for already-compressed products.
python3 - "$work/data" <<'PY'
import os, sys
root = sys.argv[1]
for name, count, size in (("small", 2000, 16 * 1024), ("large", 64, 16 * 1024 * 1024)):
    folder = os.path.join(root, name)
    os.makedirs(folder)
    block = os.urandom(size)
    for i in range(count):
        with open(os.path.join(folder, f"f{i:05d}.fits"), "wb") as f:
            f.write(block[i % 97:] + block[:i % 97])
PY

# nginx's workers run as an unprivileged user: let them read the data.
chmod 755 "$work"
chmod -R a+rX "$work/data"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$port;
        root $work/data;
    }
}
CONF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
nginx_pid=$!
for _ in $(seq 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/small/f00000.fits" && break
    sleep 0.1
done

echo "haul $("$haul" --version), $(curl --version | head -1 | cut -d' ' -f1-2), nginx on 127.0.0.1:$port, $(nproc) cores, --parallel $parallel, $runs runs each"
for name in small large; do
    count=$(ls "$work/data/$name" | wc -l)
    bytes=$(du -sb "$work/data/$name" | cut -f1)
    : > "$work/$name.urls"
    : > "$work/$name.curl"
    for f in "$work/data/$name"/*; do
        file=$(basename "$f")
        echo "http://127.0.0.1:$port/$name/$file" >> "$work/$name.urls"
        printf 'url = "http://127.0.0.1:%s/%s/%s"\noutput = "%s/out-curl/%s"\n' "$port" "$name" "$file" "$work" "$file" >> "$work/$name.curl"
    done
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
