#!/usr/bin/env bash
# 1 GB streamed by `haul serve` against `haul download` on the same set from the same archive: the
# demo's recommended set at --scale 4.1 (204 files, 1.00 GB) from the loopback archive, which runs in
# the server's process (`haul serve --demo`). Per compression mode: GET /download.zip read by curl, and
# START DOWNLOAD clicked in headless Chromium (with --browser; needs scripts/setup --browser), with the
# server's peak resident memory (VmHWM, the archive's included), and for store aria2c -x8 -s8 (eight
# ranges of a bundle the server never sent; the same bytes as curl's); then `haul download --zip FILE` and
# `--zip -` into a file from that archive, with their own peak (GNU time). Every ZIP passes unzip -t.
#
# With --records, every server keeps a stored bundle's records (`--key-file`, a new one each start), so
# the figures include flushing each entry's record before it goes out.
#
#   swift build -c release && Benchmarks/serve-1gb.sh [--browser] [--records] [store|auto|deflate …]
set -euo pipefail
cd "$(dirname "$0")/.."
haul="$(swift build -c release --show-bin-path)/haul"
browser=0
[[ ${1:-} == --browser ]] && { browser=1; shift; }
records=0
[[ ${1:-} == --records ]] && { records=1; shift; }
modes=("$@")
((${#modes[@]})) || modes=(store auto)
work="$(mktemp -d)"
server=""
stop_server() { if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; server=""; fi; }
trap 'stop_server; rm -rf "$work"' EXIT
"$haul" sample --scale 4.1 -o "$work/catalog.json" 2>/dev/null

start_server() {
    rm -f "$work/serve.log"    # not the last server's address
    local extra=()
    if ((records)); then rm -rf "$work/keys"; mkdir -p "$work/keys"; extra=(--key-file "$work/keys/serve.key"); fi
    "$haul" serve --demo --scale 4.1 "${extra[@]}" 2>"$work/serve.log" &
    server=$!
    url=""
    for _ in $(seq 1 300); do
        url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/?key=[0-9a-f]*' "$work/serve.log" 2>/dev/null || true)
        [[ -n "$url" ]] && break
        sleep 0.1
    done
    [[ -n "$url" ]] || { cat "$work/serve.log" >&2; exit 1; }
    archive=$(grep -o 'loopback archive at http://127\.0\.0\.1:[0-9]*' "$work/serve.log" | grep -o 'http.*')
}
peak() { awk '/VmHWM/ {printf "%.0f MB", $2 / 1024}' "/proc/$server/status"; }
check() { unzip -tq "$1" >/dev/null || { echo "unzip -t failed on $1" >&2; exit 1; }; rm -f "$1"; }

for mode in "${modes[@]}"; do
    start_server
    curl -s -o "$work/get.zip" -w "$mode  curl GET /download.zip      %{size_download} bytes  %{time_total} s  " "${url%%/?key*}/download.zip?key=${url##*key=}&quick=recommended&compression=$mode"
    echo "server peak $(peak)"
    stop_server
    if [[ $mode == store ]] && command -v aria2c >/dev/null; then
        # A download manager's eight ranges of a bundle the server never sent: one download, the same bytes.
        start_server
        start=$(date +%s.%N)
        aria2c -q -x8 -s8 -k1M --max-tries=1 --allow-overwrite=true -d "$work" -o aria.zip "${url%%/?key*}/download.zip?key=${url##*key=}&quick=recommended&compression=store"
        echo "$mode  aria2c -x8 -s8              $(stat -c %s "$work/aria.zip") bytes  $(echo "$(date +%s.%N) - $start" | bc) s  server peak $(peak)"
        cmp -s "$work/get.zip" "$work/aria.zip" || { echo "aria2c's bundle differs from curl's" >&2; exit 1; }
        rm -f "$work/aria.zip"
        stop_server
    fi
    check "$work/get.zip"
    if ((browser)); then
        start_server
        mkdir -p "$work/downloads"
        python3 - "$url" "$work/downloads" "$mode" <<'PY'
import os, sys, time
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
url, downloads, mode = sys.argv[1:4]
options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]:
    options.add_argument(a)
options.add_experimental_option("prefs", {"download.default_directory": downloads, "download.prompt_for_download": False})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
try:
    driver.get(url)
    wait = WebDriverWait(driver, 30)
    wait.until(lambda d: d.find_element(By.ID, "summary").text not in ("", "…"))
    driver.find_element(By.ID, "quick-recommended").click()
    wait.until(lambda d: d.find_element(By.ID, "summary").text.startswith("204 of"))
    Select(driver.find_element(By.ID, "compression")).select_by_value(mode)
    time.sleep(0.5)
    started = time.time()
    driver.find_element(By.ID, "start").click()
    path = os.path.join(downloads, "demo.zip")
    while time.time() - started < 900 and not (os.path.exists(path) and not any(n.endswith(".crdownload") for n in os.listdir(downloads))):
        time.sleep(0.05)
    print(f"{mode}  Chromium START DOWNLOAD    {os.path.getsize(path)} bytes  {time.time() - started:.3f} s  ", end="")
finally:
    driver.quit()
PY
        echo "server peak $(peak)"
        check "$work/downloads/demo.zip"
        stop_server
    fi
    start_server
    /usr/bin/time -o "$work/time" -f "%e s  peak %M kB" "$haul" download "$work/catalog.json" --quick recommended --compression "$mode" --zip "$work/file.zip" --archive "$archive" --progress none 2>/dev/null || true
    echo "$mode  haul download --zip FILE   $(stat -c %s "$work/file.zip") bytes  $(cat "$work/time")"
    check "$work/file.zip"
    /usr/bin/time -o "$work/time" -f "%e s  peak %M kB" "$haul" download "$work/catalog.json" --quick recommended --compression "$mode" --zip - --archive "$archive" --progress none >"$work/stream.zip" 2>/dev/null || true
    echo "$mode  haul download --zip -      $(stat -c %s "$work/stream.zip") bytes  $(cat "$work/time")"
    check "$work/stream.zip"
    stop_server
done
