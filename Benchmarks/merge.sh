#!/usr/bin/env bash
# How fast `haul merge` makes one ZIP of a plan's ZIP shards: N files of SIZE bytes (random, so every
# entry is stored) served by Python's http.server on 127.0.0.1, planned into SHARDS shards, each fetched
# with `haul download --shard`, then merged; the merge's bytes a second, against `cp` of the same
# shard ZIPs on the same file system (the disk's own speed here), with a warm page cache as the
# shards were just written (copy_file_range copies through it; a file system that shares extents,
# XFS or Btrfs, copies nothing at all). Release build first (`swift build -c release`).
#
#   Benchmarks/merge.sh [FILES [SIZE [SHARDS]]]     default 18 files of 256 MiB (4.5 GiB: entries past
#                                                   4 GiB, so ZIP64 offsets) in 4 shards; five readers check the result
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-18}
size=${2:-$((256 << 20))}
shards=${3:-4}
haul=${HAUL:-$PWD/.build/release/haul}
[[ -x $haul ]] || { echo "build first: swift build -c release" >&2; exit 1; }
work=$(mktemp -d /tmp/haul-merge.XXXXXX)
server=""
cleanup() { [[ -n $server ]] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/data"
for i in $(seq 1 "$files"); do head -c "$size" /dev/urandom >"$work/data/f$i.fits"; done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
python3 -m http.server --bind 127.0.0.1 --directory "$work/data" "$port" >/dev/null 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
for i in $(seq 1 "$files"); do echo "http://127.0.0.1:$port/f$i.fits"; done >"$work/urls.txt"
"$haul" plan "$work/urls.txt" --shards "$shards" --out "$work/plan" --root merged -q
for i in $(seq 0 $((shards - 1))); do
    "$haul" download --shard "$work/plan" --shard-index "$i" --progress none -q --no-fsync
done
sync
bytes=$(du -cb "$work"/plan/shards/*.zip | tail -1 | cut -f1)
start=$(date +%s.%N)
"$haul" merge "$work/plan" --zip "$work/merged.zip" --no-fsync
end=$(date +%s.%N)
mkdir "$work/cp"
cstart=$(date +%s.%N)
cp "$work"/plan/shards/*.zip "$work/cp/"
cend=$(date +%s.%N)
# The five readers the tests use.
unzip -tq "$work/merged.zip"
zipinfo -t "$work/merged.zip"
bsdtar -tf "$work/merged.zip" >/dev/null
7z t "$work/merged.zip" | grep -q "Everything is Ok"
python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(len(z.infolist()), "entries, CRCs checked by Python")' "$work/merged.zip"
python3 - "$bytes" "$start" "$end" "$cstart" "$cend" <<'PY'
import sys
b, s, e, cs, ce = int(sys.argv[1]), *map(float, sys.argv[2:])
print(f"merge: {b / 2**20:.0f} MiB of shard ZIPs in {e - s:.2f} s = {b / (e - s) / 2**20:.0f} MiB/s; "
      f"cp of the same files: {ce - cs:.2f} s = {b / (ce - cs) / 2**20:.0f} MiB/s")
PY
