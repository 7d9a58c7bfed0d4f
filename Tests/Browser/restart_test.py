#!/usr/bin/env python3
"""A browser's download survives a restart of the server: headless Chromium driven by Selenium.

`haul serve --demo --key-file KEY --port P` streams a stored bundle to Chromium at a limited rate; a
quarter of the way in, the server is killed (SIGKILL, as a crash or a reboot would) and started again
with the same port and key file. The browser's interrupted download is resumed from chrome://downloads
(Range and If-Range on the same address), the new server answers 206 for a bundle it never sent,
fetching only the files the range overlaps, and the saved file is byte for byte what one plain `curl`
of the same address gets.

    restart_test.py HAUL WORK
"""
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from downloads_page import chromium, resume_interrupted

haul, work = sys.argv[1:3]
downloads = os.path.join(work, "restart-downloads")
os.makedirs(downloads, exist_ok=True)
key_file = os.path.join(work, "serve.key")
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message, file=sys.stderr)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


port = free_port()


def start(log):
    """`haul serve` on `port` with the key file; the process and the address it printed."""
    # A fifth of the sample (about 50 MB of recommended files) at 6 MiB/s: some seconds to cut into.
    command = [haul, "serve", "--demo", "--scale", "0.2", "--port", str(port), "--key-file", key_file, "--limit-rate", "6M"]
    process = subprocess.Popen(command, stderr=open(log, "w"), stdout=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        with open(log, encoding="utf-8", errors="replace") as f:
            for line in f:
                if "the Download Overlay is at " in line:
                    return process, line.split("the Download Overlay is at ")[1].strip()
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    sys.exit(f"restart test: the server printed no address: {open(log).read()}")


def log_lines(log):
    with open(log, encoding="utf-8", errors="replace") as f:
        return [line.rstrip("\n").removeprefix("haul: ") for line in f]


first, address = start(os.path.join(work, "serve-1.log"))
key = address.split("key=")[1]
check(oct(os.stat(key_file).st_mode & 0o777) == "0o600", f"the key file is mode 600: {oct(os.stat(key_file).st_mode)}")
download = f"http://127.0.0.1:{port}/download.zip?key={key}&quick=recommended&compression=store&root=restarted"
length = int(urllib.request.urlopen(urllib.request.Request(download, method="HEAD"), timeout=60).headers["Content-Length"])

driver = chromium(downloads)
second = None
try:
    driver.get(download)
    # A quarter of the bundle in the browser's partial file, then the server dies.
    partial = lambda: sum(os.path.getsize(os.path.join(downloads, n)) for n in os.listdir(downloads) if n.endswith(".crdownload"))
    deadline = time.time() + 120
    while time.time() < deadline and partial() < length // 4:
        time.sleep(0.05)
    cut_at = partial()
    check(length // 4 <= cut_at < length, f"the download was cut part-way: {cut_at:,} of {length:,} bytes")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    # What a killed `haul serve --demo` cannot remove itself: its sample catalog's folder.
    shutil.rmtree(os.path.join(tempfile.gettempdir(), f"haul-serve-{first.pid}"), ignore_errors=True)

    second, again = start(os.path.join(work, "serve-2.log"))
    check(again == address, f"the restarted server has the same address: {again} against {address}")
    # The download broke with the server; resume it as a person would, until the new server answers.
    deadline = time.time() + 120
    while time.time() < deadline and not any(l.startswith("GET /download.zip 206") for l in log_lines(os.path.join(work, "serve-2.log"))):
        resume_interrupted(driver)
        time.sleep(1)
    saved = os.path.join(downloads, "restarted.zip")
    deadline = time.time() + 180
    while time.time() < deadline and not (os.path.exists(saved) and not any(n.endswith(".crdownload") for n in os.listdir(downloads))):
        time.sleep(0.2)
    check(os.path.exists(saved), f"the browser saved restarted.zip (folder: {os.listdir(downloads)})")
    resumed = [l for l in log_lines(os.path.join(work, "serve-2.log")) if l.startswith("GET /download.zip 206")]
    check(len(resumed) >= 1 and all(l.endswith(f" of {length})") for l in resumed), f"the new server answered the resumption with 206: {resumed}")
    print(f"resumed after a restart at {cut_at:,} of {length:,} bytes: {resumed[:1]}")

    # What one plain curl of the same address gets, from the restarted server.
    whole = os.path.join(work, "curl.zip")
    curl = subprocess.run(["curl", "-sS", "--fail", "-o", whole, download], capture_output=True, text=True, timeout=600)
    check(curl.returncode == 0, f"curl: {curl.stderr}")
    if os.path.exists(saved) and os.path.exists(whole):
        digest = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
        check(os.path.getsize(saved) == length and digest(saved) == digest(whole),
              f"the resumed file is curl's: {os.path.getsize(saved):,} bytes, {digest(saved)[:16]} against {digest(whole)[:16]}")
        test = subprocess.run(["unzip", "-tq", saved], capture_output=True, text=True)
        check(test.returncode == 0, f"unzip -t: {test.stdout[-300:]}")
finally:
    driver.quit()
    for process in (first, second):
        if process and process.poll() is None:
            process.terminate()
            process.wait(timeout=30)

if failures:
    print(f"restart test: {len(failures)} failure(s)", file=sys.stderr)
    sys.exit(1)
print("restart test: the browser's download resumed from a restarted server, byte for byte curl's")
