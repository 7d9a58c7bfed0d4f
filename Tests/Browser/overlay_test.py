#!/usr/bin/env python3
"""The overlay page in a real browser: headless Chromium driven by Selenium against `haul serve --demo`.

Every numbered element is used as a person would: Recommended, a level box, a bad regex with its caret,
the paginated preview (next page, page size), NESTED/FLAT, Export and API QUERY, and START DOWNLOAD,
whose ZIP `unzip -t` must accept with exactly the entries the selection names. What the page shows is
compared with what `haul select` prints for the same selectors.

    overlay_test.py URL HAUL CATALOG DOWNLOADS [--screenshot PNG]
"""
import json
import os
import socket
import threading
import subprocess
import sys
import time
import urllib.parse
import urllib.request

from downloads_page import chromium, resume_interrupted
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

url, haul, catalog, downloads = sys.argv[1:5]
screenshot = sys.argv[sys.argv.index("--screenshot") + 1] if "--screenshot" in sys.argv else None
base = url.split("/?")[0]
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message, file=sys.stderr)


def select(*arguments, token=None):
    """What `haul select CATALOG ARGUMENTS` prints (standard output, standard error, status)."""
    environment = dict(os.environ, MAST_API_TOKEN=token) if token else None
    run = subprocess.run([haul, "select", catalog, *arguments], capture_output=True, timeout=60, env=environment)
    # Bytes decoded as they are: the CSV's CRLF line ends must stay.
    return run.stdout.decode(), run.stderr.decode(), run.returncode


def summary_line(*arguments):
    return select(*arguments)[0].split("\n")[0]


driver = chromium(downloads)
wait = WebDriverWait(driver, 30)
by_id = lambda name: driver.find_element(By.ID, name)


DEMO_TOKEN = "haul-demo-token-0123456789abcdef"


def server_log():
    """The lines `haul serve` has written so far."""
    with open(os.environ["HAUL_SERVE_LOG"], encoding="utf-8", errors="replace") as f:
        return [line.rstrip("\n").removeprefix("haul: ") for line in f]


def saved(name):
    """Waits (bounded) for the browser to finish saving NAME in the downloads folder; its path."""
    path = os.path.join(downloads, name)
    deadline = time.time() + 120
    while time.time() < deadline and not (os.path.exists(path) and not any(n.endswith(".crdownload") for n in os.listdir(downloads))):
        time.sleep(0.2)
    check(os.path.exists(path), f"the browser saved {path} (folder: {os.listdir(downloads)})")
    return path


def check_zip(path, expected, what):
    """`unzip -t` accepts the ZIP at PATH and it holds exactly EXPECTED; its entries, or None."""
    if not os.path.exists(path):
        return None
    test = subprocess.run(["unzip", "-t", path], capture_output=True, text=True)
    check(test.returncode == 0 and "No errors detected" in test.stdout, f"{what}: unzip -t: {test.stdout[-500:]}")
    listed = sorted(subprocess.run(["zipinfo", "-1", path], capture_output=True, text=True).stdout.split("\n")[:-1])
    check(listed == expected, f"{what}: entries {listed} expected {expected}")
    print(f"{what}: {len(listed)} entries, {os.path.getsize(path):,} bytes, unzip -t OK")
    return listed


class CuttingProxy:
    """A loopback TCP proxy in front of the server that cuts the first bundle download's connection
    after `cut_after` bytes of its answer, as a network that drops does: the browser sees the download
    break mid-body. Every other connection (the resume, favicon requests) passes whole. The Host header
    is rewritten to the server's own, which it requires."""

    def __init__(self, target, cut_after):
        self.target, self.cut_after, self.cuts = target, cut_after, 1
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.relay, args=(client,), daemon=True).start()

    def relay(self, client):
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                data = client.recv(65536)
                if not data:
                    return
                head += data
            lines = head.split(b"\r\n")
            lines = [b"Host: " + self.target.encode() if l.lower().startswith(b"host:") else l for l in lines]
            request = b"\r\n".join(lines)
            cut = False
            if lines[0].startswith(b"GET /download.zip") and not any(l.lower().startswith(b"range:") for l in lines):
                with self.lock:
                    cut, self.cuts = self.cuts > 0, self.cuts - 1
            host, port = self.target.split(":")
            upstream = socket.create_connection((host, int(port)))
            upstream.sendall(request)
            relayed = 0
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                if cut and relayed + len(data) >= self.cut_after:
                    client.sendall(data[: self.cut_after - relayed])
                    break
                client.sendall(data)
                relayed += len(data)
            upstream.close()
        except OSError:
            pass
        finally:
            client.close()


def clear(field):
    """Empties a text box as typing does (with input events, which clear() does not send)."""
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.BACKSPACE)


def summary_is(expected, what):
    try:
        wait.until(lambda d: by_id("summary").text == expected)
    except Exception:
        pass
    check(by_id("summary").text == expected, f"{what}: summary {by_id('summary').text!r}, expected {expected!r}")


try:
    driver.get(url)
    wait.until(lambda d: by_id("summary").text not in ("", "…"))
    for n, element in enumerate(["summary-box", "quick-box", "levels-box", "guidestar-box", "regex-box", "view-box", "layout-box", "download-box"], 1):
        box = by_id(element)
        check(box.find_element(By.CLASS_NAME, "n").text == str(n), f"element {n} is numbered {n}")
    # 1 and 2: All is the page's start (every box checked); the exclusive-access warning with its lock.
    summary_is(summary_line("--quick", "all"), "All")
    check(by_id("exclusive").is_displayed() and "exclusive-access files are excluded" in by_id("exclusive").text, "the exclusive-access warning shows")
    check(len(by_id("exclusive").find_elements(By.CSS_SELECTOR, "svg.lock")) == 1, "the warning has the lock")
    check(by_id("token-row").is_displayed(), "the token box shows while exclusive-access files are selected")
    by_id("quick-recommended").click()
    summary_is(summary_line("--quick", "recommended"), "Recommended")
    check(not by_id("token-row").is_displayed() or "excluded" in by_id("exclusive").text, "the token box follows the exclusive count")

    # 3: a level box (JWST 2b) adds its files to the quick set, and checks its product types.
    level = driver.find_element(By.CSS_SELECTOR, "#levels-box input[name=level][value='2b']")
    level.click()
    summary_is(summary_line("--quick", "recommended", "--level", "2b"), "Recommended + level 2b")
    types = driver.find_elements(By.CSS_SELECTOR, f"input[name=suffix][data-level='{level.get_attribute('id')}']")
    check(len(types) > 0 and all(t.is_selected() for t in types), "checking a level checks its product types")
    # 4: guide stars (highest level only) add to it.
    by_id("guidestar").click()
    summary_is(summary_line("--quick", "recommended", "--level", "2b", "--guidestar"), "+ guide stars")
    by_id("guidestar").click()
    summary_is(summary_line("--quick", "recommended", "--level", "2b"), "guide stars off again")

    # 5: a bad regex: the error under the character where it broke, START disabled.
    regex = by_id("regex")
    regex.send_keys("_(cal")
    wait.until(lambda d: by_id("regex-error").is_displayed())
    _, error, status = select("--regex", "_(cal")
    expected = error.strip().removeprefix("haul: error: --regex: ")
    shown = by_id("regex-error").text
    check(status == 2 and shown == expected, f"regex error {shown!r}, expected {expected!r}")
    lines = shown.split("\n")
    check(len(lines) == 3 and lines[2].rstrip().endswith("^") and lines[1].strip() == "_(cal", f"pattern and caret lines: {lines!r}")
    position = int(shown.split("at character ")[1].split(":")[0])
    caret = lines[2].index("^") - (len(lines[1]) - len(lines[1].lstrip()))
    check(caret == position - 1, f"the caret is under character {caret + 1}, where it broke ({position})")
    check(not by_id("start").is_enabled(), "START DOWNLOAD is disabled while the regex is broken")
    clear(regex)
    regex.send_keys("_(i2d|x1d|cal)\\.fits$")
    summary_is(summary_line("--quick", "recommended", "--level", "2b", "--regex", "_(i2d|x1d|cal)\\.fits$"), "a good regex")
    check(not by_id("regex-error").is_displayed(), "the regex error goes away")

    # 6: the preview, grouped by dataset, paged, page size changeable; the lock on exclusive rows.
    clear(regex)
    by_id("quick-all").click()
    summary_is(summary_line("--quick", "all"), "All again")
    by_id("view").click()
    wait.until(lambda d: by_id("preview").is_displayed() and by_id("range").text != "")
    total = json.loads(select("--quick", "all", "--json")[0])["rows_total"]
    check(by_id("range").text == f"1–100 of {total:,}", f"range {by_id('range').text!r}")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#preview-table tr.dataset")) > 1, "rows are grouped by dataset")
    by_id("next").click()
    wait.until(lambda d: by_id("range").text.startswith("101–"))
    check(by_id("range").text == f"101–200 of {total:,}", f"page 2 range {by_id('range').text!r}")
    Select(by_id("page-size")).select_by_visible_text("25")
    wait.until(lambda d: by_id("range").text.startswith("1–25 "))
    check(len(driver.find_elements(By.CSS_SELECTOR, "#preview-table tbody tr:not(.dataset)")) == 25, "25 rows on a page of 25")
    by_id("last").click()
    wait.until(lambda d: by_id("range").text.endswith(f"of {total:,}") and not by_id("range").text.startswith("1–"))
    locks = 0
    for _ in range((total + 24) // 25):
        locks += len(driver.find_elements(By.CSS_SELECTOR, "#preview-table tr.exclusive svg.lock"))
        if not by_id("prev").is_enabled():
            break
        before = by_id("range").text
        by_id("prev").click()
        wait.until(lambda d: by_id("range").text != before)
    expected_locks = sum(1 for r in json.loads(select("--quick", "all", "--json", "--page-size", "1000")[0])["rows"] if r["access"] == "EXCLUSIVE_ACCESS")
    check(locks == expected_locks and locks > 0, f"{locks} locks on exclusive rows, expected {expected_locks}")

    # Export and API QUERY answer what the CLI writes.
    export = urllib.request.urlopen(by_id("export").get_attribute("href"), timeout=30).read().decode()
    expected_export = select("--quick", "all", "--export-csv", "-")[0]
    difference = next((f"line {i + 1}: {a!r} != {b!r}" for i, (a, b) in enumerate(zip(export.split("\n"), expected_export.split("\n"))) if a != b), f"{len(export)} != {len(expected_export)} characters")
    check(export == expected_export, f"Export Selected File List ({by_id('export').get_attribute('href')}) equals select --export-csv: {difference}")
    script = urllib.request.urlopen(by_id("api").get_attribute("href"), timeout=30).read().decode()
    check(script.startswith("#!/usr/bin/env bash") or script.startswith("#!/bin/bash"), "API QUERY is a bash script")

    # 7: FLAT changes the links' layout.
    by_id("layout-flat").click()
    wait.until(lambda d: "layout=flat" in by_id("api").get_attribute("href"))
    by_id("layout-nested").click()
    wait.until(lambda d: "layout=nested" in by_id("api").get_attribute("href"))

    # A screenshot of a typical state: Recommended, the preview's first page.
    by_id("quick-recommended").click()
    Select(by_id("page-size")).select_by_visible_text("10")
    summary_is(summary_line("--quick", "recommended"), "Recommended for the screenshot")
    wait.until(lambda d: by_id("range").text.startswith("1–10 "))
    if screenshot:
        driver.execute_script("window.scrollTo(0, 0)")
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1400, min(max(height, 1050), 2400))
        driver.save_screenshot(screenshot)

    # 8: START DOWNLOAD streams the ZIP through the browser.
    regex.send_keys("_(i2d|x1d)\\.fits$")
    selectors = ["--quick", "recommended", "--regex", "_(i2d|x1d)\\.fits$"]
    summary_is(summary_line(*selectors), "the download's selection")
    rows = json.loads(select(*selectors, "--json", "--page-size", "1000")[0])["rows"]
    expected_names = sorted(["demo/" + r["path"].removeprefix("selection/") for r in rows if r["status"] == "download"] + ["demo/manifest.html", "demo/manifest.csv"])
    by_id("start").click()
    zip_path = saved("demo.zip")
    check_zip(zip_path, expected_names, "START DOWNLOAD")

    # START DOWNLOAD stored: the answer states its length and ETag (the browser shows the time left and
    # can resume it); the server's log says every byte of that length went out.
    Select(by_id("compression")).select_by_value("store")
    by_id("start").click()
    stored_path = saved("demo (1).zip")
    names = check_zip(stored_path, expected_names, "START DOWNLOAD, stored")
    if names:
        size = os.path.getsize(stored_path)
        check(any(line.endswith(f"GET /download.zip 200: {len(expected_names) - 2} OK, {size} bytes sent") for line in server_log()),
              f"the log says the stored bundle's {size} bytes went out: {server_log()[-3:]}")
        manifest = subprocess.run(["unzip", "-p", stored_path, "demo/manifest.csv"], capture_output=True, text=True).stdout.splitlines()
        check(manifest[0].endswith(",Last-Modified,ETag,Attempts,Seconds,Note,Source") and all(l.endswith(",,,,,") for l in manifest[1:] if l),
              "a stored bundle's manifest leaves the transfer columns empty")
        print(f"START DOWNLOAD, stored: {size:,} bytes, stated length, unzip -t OK")

    # 5: exclusive access. The page asks for a token only when exclusive files are selected; a wrong one
    # is refused by the archive's /whoami; the demo's opens them, and appears in no page or log.
    driver.get(url)
    wait.until(lambda d: by_id("summary").text not in ("", "…"))
    regex = by_id("regex")
    regex.send_keys("_(i2d|x1d)\\.fits$")
    summary_is(summary_line("--quick", "all", "--regex", "_(i2d|x1d)\\.fits$"), "All, with the regex")
    check(by_id("token-row").is_displayed(), "the token box shows while exclusive-access files are selected")
    by_id("token").send_keys("not-the-demo-token")
    by_id("start").click()
    # The answer is the server's error page (the overlay's own page has no element "error").
    wait.until(lambda d: d.find_elements(By.ID, "error"))
    refused = by_id("error").text
    check("token" in refused.lower() and "not-the-demo-token" not in driver.page_source, f"a wrong token is refused without being shown: {refused[:300]!r}")
    driver.get(url)
    wait.until(lambda d: by_id("summary").text not in ("", "…"))
    by_id("regex").send_keys("_(i2d|x1d)\\.fits$")
    summary_is(summary_line("--quick", "all", "--regex", "_(i2d|x1d)\\.fits$"), "All, with the regex, again")
    by_id("token").send_keys(DEMO_TOKEN)
    by_id("start").click()
    rows = json.loads(select("--quick", "all", "--regex", "_(i2d|x1d)\\.fits$", "--json", "--page-size", "1000", token=DEMO_TOKEN)[0])["rows"]
    exclusive = [r for r in rows if r["status"] == "download" and r.get("access") == "EXCLUSIVE_ACCESS"]
    token_names = sorted(["demo/" + r["path"].removeprefix("selection/") for r in rows if r["status"] == "download"] + ["demo/manifest.html", "demo/manifest.csv"])
    token_path = saved("demo (2).zip")
    if check_zip(token_path, token_names, "START DOWNLOAD with the token"):
        manifest = subprocess.run(["unzip", "-p", token_path, "demo/manifest.csv"], capture_output=True, text=True).stdout
        check("Demo Astronomer" in manifest and "... SUCCESS" in manifest, "the manifest names the signed-in user")
        check(len(exclusive) > 0 and all(r["path"].removeprefix("selection/") in manifest for r in exclusive), "the exclusive files are in the bundle")
        print(f"START DOWNLOAD with the token: {len(token_names) - 2} files, {len(exclusive)} of them exclusive")
    # A stored download whose connection breaks mid-body resumes: the browser asks for the rest with
    # Range and If-Range, the server answers 206 with the same bytes, and the file is whole.
    proxy = CuttingProxy(base.removeprefix("http://"), cut_after=4 << 20)
    key = url.split("key=")[1]
    driver.get(f"http://127.0.0.1:{proxy.port}/download.zip?key={key}&quick=recommended&compression=store&root=resumed")
    resumed_path = os.path.join(downloads, "resumed.zip")
    deadline = time.time() + 60
    clicked = False
    while time.time() < deadline and not any(line.startswith("GET /download.zip 206") for line in server_log()):
        time.sleep(0.2)
        # An interrupted download waits for its Resume button (when the browser does not resume by itself).
        if not any(line.startswith("GET /download.zip 206") for line in server_log()) and time.time() > deadline - 50:
            clicked = True
            resume_interrupted(driver)
            time.sleep(1)
    saved("resumed.zip")
    rows = json.loads(select("--quick", "recommended", "--json", "--page-size", "1000")[0])["rows"]
    resumed_names = sorted(["resumed/" + r["path"].removeprefix("selection/") for r in rows if r["status"] == "download"] + ["resumed/manifest.html", "resumed/manifest.csv"])
    resumed_lines = [line for line in server_log() if line.startswith("GET /download.zip 206")]
    check(len(resumed_lines) == 1 and resumed_lines[0].endswith(f" of {os.path.getsize(resumed_path) if os.path.exists(resumed_path) else -1})"),
          f"the browser resumed the broken download with one ranged request: {server_log()[-4:]}")
    if check_zip(resumed_path, resumed_names, "a broken download, resumed by the browser") and resumed_lines:
        print(f"resumed ({'Resume clicked' if clicked else 'by the browser itself'}): {resumed_lines[0]}")

    # (The startup lines name the demo's token, for the person running it; no request's line may.)
    requests = [line for line in server_log() if line.startswith(("GET ", "POST "))]
    check(not any(DEMO_TOKEN in line or "not-the-demo-token" in line for line in requests), "no token in the server's log of requests")
finally:
    driver.quit()

if failures:
    print(f"browser test: {len(failures)} failure(s)", file=sys.stderr)
    sys.exit(1)
print("browser test: every element works")
