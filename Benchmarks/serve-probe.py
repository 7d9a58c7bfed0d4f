#!/usr/bin/env python3
"""`haul serve --demo` tried as a hostile client on the same host, and with download managers no one
here wrote (curl, wget, aria2c): half-sent heads (3,000 at the default descriptor limit, then 600 under
`prlimit --nofile=256`), 20 keyless 60 MB bodies (the server's memory from /proc), a quote in
`root` against `curl -OJ`, two `Host` headers, HEAD on each GET route, absolute-form targets, and a
stored bundle's bytes and ETag across two requests, `aria2c -x8 -s8`, `curl -C -`, `wget -c`, and a
`kill -9` and restart with the same `--key-file`. Prints what it saw, a line a check; the test suite
asserts the same (ServeHardeningTests, ServeRangeTests); this is for a person's look and the figures.

    swift build -c release && Benchmarks/serve-probe.py [HAUL]
"""
import hashlib, os, re, socket, subprocess, sys, tempfile, time, urllib.parse

HAUL = sys.argv[1] if len(sys.argv) > 1 else subprocess.run(
    ["swift", "build", "-c", "release", "--show-bin-path"], capture_output=True, text=True, check=True).stdout.strip() + "/haul"
work = tempfile.mkdtemp(prefix="serve-probe-")
import atexit, shutil
atexit.register(shutil.rmtree, work, True)
keyfile = os.path.join(work, "key")


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def start(port, nofile=None):
    log = open(os.path.join(work, f"serve-{port}-{time.time()}.log"), "w")
    cmd = [HAUL, "serve", "--demo", "--port", str(port), "--key-file", keyfile]
    if nofile:
        cmd = ["prlimit", f"--nofile={nofile}", "--"] + cmd
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(600):
        time.sleep(0.1)
        text = open(log.name).read()
        m = re.search(r"http://127\.0\.0\.1:\d+/\?key=([0-9a-f]+)", text)
        if m:
            return p, m.group(1)
        if p.poll() is not None:
            raise SystemExit("server exited: " + text)
    raise SystemExit("no address")


def status(pid):
    out = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            out[k] = int(v.split()[0]) // 1024
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


def request(port, raw, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(raw)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data and raw.startswith(b"HEAD"):
                break
    except socket.timeout:
        pass
    s.close()
    return data


def head_of(data):
    return data.split(b"\r\n\r\n", 1)[0].decode("latin-1")


def timed_get(port, path="/summary.json"):
    t = time.time()
    d = request(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
    return head_of(d).split("\r\n")[0], time.time() - t


def half_heads(port, n, head):
    """n connections that each send the start of a request head and nothing more (fewer if connecting fails)."""
    conns = []
    for i in range(n):
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            c.sendall(head)
            conns.append(c)
        except OSError as e:
            print(f"   connection {i}: {e}")
            break
    time.sleep(1)
    return conns


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()[:16]


server = None


@atexit.register
def stop_server():
    if server is not None and server.poll() is None:
        server.kill()
        server.wait()


port = free_port()
server, key = start(port)
print(f"server pid {server.pid} on {port}; at start {status(server.pid)}")
base = f"http://127.0.0.1:{port}"

# 1. Half-sent heads, then a normal request; then under a 256-descriptor limit.
conns = half_heads(port, 3000, b"GET /summary.json HTTP/1.1\r\nHost: 127")
line, t = timed_get(port)
print(f"1. 3,000 half heads open: {status(server.pid)}; a normal request: {line} in {t*1000:.0f} ms")
t0 = time.time(); closed = 0
deadline = t0 + 60
pending = list(conns)
while pending and time.time() < deadline:
    still = []
    for c in pending:
        c.setblocking(False)
        try:
            d = c.recv(1)
            if d == b"" or d:
                closed += 1; c.close(); continue
        except BlockingIOError:
            still.append(c); continue
        except OSError:
            closed += 1; c.close(); continue
    pending = still
    time.sleep(0.5)
print(f"   closed by the server: {closed} of 3,000 within {time.time()-t0:.1f} s; after: {status(server.pid)}")
for c in pending: c.close()

# 2. Keyless 60 MB bodies.
before = status(server.pid)
bodies = []
for i in range(20):
    c = socket.create_connection(("127.0.0.1", port), timeout=30)
    c.sendall(f"POST /download.zip?layout=flat HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/plain\r\nContent-Length: 60000000\r\n\r\n".encode())
    bodies.append(c)
answers = []
chunk = b"mast:JWST/product/x.fits\n" * 4000
for c in bodies:
    sent = 0
    try:
        c.settimeout(2)
        while sent < 60_000_000:
            sent += c.send(chunk)
    except OSError:
        pass
    try:
        c.settimeout(5)
        answers.append(c.recv(200).split(b"\r\n")[0].decode())
    except OSError as e:
        answers.append(f"({e.__class__.__name__})")
    c.close()
after = status(server.pid)
print(f"2. 20 keyless 60 MB bodies: RSS {before['VmRSS']} -> {after['VmRSS']} MB (peak {after['VmHWM']} MB); answers {sorted(set(answers))}")

# 3. Content-Disposition with a quote in root.
evil = urllib.parse.quote('x"; filename="evil.html.sh')
d = request(port, f"GET /script.sh?root={evil} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
cd = [l for l in head_of(d).split("\r\n") if l.lower().startswith("content-disposition")]
print(f"3. root with a quote: {cd}")
cdir = os.path.join(work, "cd"); os.makedirs(cdir)
subprocess.run(["curl", "-sOJ", f"{base}/script.sh?root={evil}"], cwd=cdir)
print(f"   curl -OJ saved: {os.listdir(cdir)}")

# 4. Two Host headers.
d = request(port, f"GET /summary.json HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example\r\nConnection: close\r\n\r\n".encode())
print(f"4. two Host headers: {head_of(d).splitlines()[0]}")

# 6. HEAD and absolute form.
for path in ["/", "/summary.json", "/export.csv", "/script.sh", f"/download.zip?key={key}&compression=store&quick=recommended"]:
    d = request(port, f"HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
    h = head_of(d)
    length = re.search(r"(?i)content-length: (\d+)", h)
    print(f"6. HEAD {path.split('?')[0]}: {h.splitlines()[0]}, Content-Length {length.group(1) if length else '-'}, {len(d) - len(h) - 4} body bytes")
d = request(port, f"GET http://127.0.0.1:{port}/summary.json HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
print(f"6. absolute form naming this server: {head_of(d).splitlines()[0]}")
d = request(port, f"GET http://elsewhere.example/summary.json HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
print(f"6. absolute form naming another host: {head_of(d).splitlines()[0]}")

# 5. A stored bundle: the same bytes, ranges, resumes, a restart.
url = f"{base}/download.zip?key={key}&compression=store&quick=recommended"
etags = []
for name in ["a.zip", "b.zip"]:
    out = subprocess.run(["curl", "-sS", "-D", "-", "-o", os.path.join(work, name), url], capture_output=True, text=True).stdout
    etags.append(re.search(r"(?i)etag: (\S+)", out).group(1))
print(f"5. two plain curls: ETags equal {etags[0] == etags[1]}, bytes equal {sha(os.path.join(work,'a.zip')) == sha(os.path.join(work,'b.zip'))}, {os.path.getsize(os.path.join(work,'a.zip')):,} bytes")
ref = sha(os.path.join(work, "a.zip"))
t = time.time()
r = subprocess.run(["/usr/bin/time", "-f", "%e %M", "aria2c", "-q", "-x8", "-s8", "-k1M", "--allow-overwrite=true", "-d", work, "-o", "aria.zip", url], capture_output=True, text=True)
print(f"5. aria2c -x8 -s8: exit {r.returncode}, same bytes {sha(os.path.join(work,'aria.zip')) == ref}, {time.time()-t:.2f} s; server {status(server.pid)}")
part = os.path.join(work, "part.zip")
subprocess.run(["curl", "-s", "-r", "0-9999999", "-o", part, url])
r = subprocess.run(["curl", "-sS", "-C", "-", "-o", part, "-w", "%{http_code}", url], capture_output=True, text=True)
print(f"5. curl -C - after 10 MB: HTTP {r.stdout}, same bytes {sha(part) == ref}")
part2 = os.path.join(work, "part2.zip")
subprocess.run(["curl", "-s", "-r", "0-19999999", "-o", part2, url])
r = subprocess.run(["wget", "-q", "-c", "-O", part2, url])
print(f"5. wget -c after 20 MB: exit {r.returncode}, same bytes {sha(part2) == ref}")
part3 = os.path.join(work, "part3.zip")
subprocess.run(["curl", "-s", "-r", "0-29999999", "-o", part3, url])
server.kill(); server.wait()
server, key2 = start(port)
r = subprocess.run(["curl", "-sS", "-C", "-", "-o", part3, "-w", "%{http_code}", url], capture_output=True, text=True)
print(f"5. after kill -9 and a restart (same key file, key kept {key2 == key}): curl -C - after 30 MB: HTTP {r.stdout}, same bytes {sha(part3) == ref}")

# 1b. Under a 256-descriptor limit.
server.kill(); server.wait()
port2 = free_port()
server, key = start(port2, nofile=256)
conns = half_heads(port2, 600, b"GET / HTTP/1.1\r\n")
line, t = timed_get(port2)
print(f"1b. 256 descriptors, {len(conns)} half heads: alive {server.poll() is None}, {status(server.pid)}, a normal request: {line} in {t*1000:.0f} ms")
for c in conns: c.close()
time.sleep(2)
line, t = timed_get(port2)
print(f"1b. after they close: {line} in {t*1000:.0f} ms, alive {server.poll() is None}")
server.kill(); server.wait()
