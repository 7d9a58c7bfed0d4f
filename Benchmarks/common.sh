# Shared by the comparison scripts: a work folder removed on exit, test data, nginx on 127.0.0.1,
# URL lists for haul and config files for curl. Source it after `set -euo pipefail` and `cd` to the repo.

haul=${HAUL:-$PWD/.build/release/haul}  # HAUL=PATH measures another build
[[ -x $haul ]] || { echo "build first: swift build -c release" >&2; exit 1; }
for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/setup --bench" >&2; exit 1; }
done

work=$(mktemp -d /tmp/haul-bench.XXXXXX)
nginx_pid=""
cleanup() {
    if [[ -n $nginx_pid ]]; then kill "$nginx_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/data"

# make_files NAME COUNT SIZE random|fits: COUNT files of SIZE bytes in $work/data/NAME.
# fits: a 2,880-byte FITS header, then 16-bit sky-noise pixels (Gaussian, sigma 300) drawn from a pool
# of 64 KiB blocks, which deflates to about 0.78 like the loopback archive's products and real images.
# random: incompressible bytes, as the wire carries for already-compressed products.
make_files() {
    python3 - "$work/data/$1" "$2" "$3" "$4" <<'PY'
import os, random, struct, sys, math
folder, count, size, kind = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
os.makedirs(folder)
rng = random.Random(0x4841554C)
def noise_block():
    pixels = [max(-32768, min(32767, int(12000 + rng.gauss(0, 300)))) for _ in range(32768)]
    return struct.pack(">32768h", *pixels)
pool = [noise_block() if kind == "fits" else rng.randbytes(65536) for _ in range(32)]
for i in range(count):
    name = f"f{i:05d}.fits"
    with open(os.path.join(folder, name), "wb") as f:
        written = 0
        if kind == "fits":
            cards = ["SIMPLE  =                    T", "BITPIX  =                   16", "NAXIS   =                    1",
                     f"NAXIS1  = {(size - 2880) // 2:20d}", f"FILENAME= '{name}'", "END"]
            header = "".join(c.ljust(80) for c in cards).ljust(2880).encode()
            f.write(header[:size]); written = min(size, 2880)
        block = i * 7919
        while written < size:
            chunk = pool[block % 32][: size - written]
            f.write(chunk); written += len(chunk); block += 1
PY
    chmod -R a+rX "$work/data"
}

# start_nginx: serves $work/data on 127.0.0.1:$port (a free port), one worker, sendfile on.
# Optional: nginx_connections (default 4096) sizes the worker's connections and descriptors; nginx_server
# adds directives to the server block (a `location` with `limit_rate`, say).
start_nginx() {
    local connections=${nginx_connections:-4096}
    chmod 755 "$work"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    mkdir -p "$work/nginx"
    cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile $(( $(ulimit -Hn) < 2 * connections + 64 ? $(ulimit -Hn) : 2 * connections + 64 ));
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
daemon off;
events { worker_connections $connections; }
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
        listen 127.0.0.1:$port backlog=4096;
        root $work/data;
        ${nginx_server:-}
    }
}
CONF
    nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
    nginx_pid=$!
    for _ in $(seq 50); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" || true) != 000 ]] && break
        sleep 0.1
    done
}

# make_lists NAME: $work/NAME.urls (haul's catalog) and $work/NAME.curl (curl's config, into $work/out-curl).
make_lists() {
    : > "$work/$1.urls"
    : > "$work/$1.curl"
    for f in "$work/data/$1"/*; do
        file=$(basename "$f")
        echo "http://127.0.0.1:$port/$1/$file" >> "$work/$1.urls"
        printf 'url = "http://127.0.0.1:%s/%s/%s"\noutput = "%s/out-curl/%s"\n' "$port" "$1" "$file" "$work" "$file" >> "$work/$1.curl"
    done
}
