#!/usr/bin/env python3
"""The yardstick for many slow transfers: a plain asyncio client (epoll underneath), no third-party packages.

    asyncio_fetch.py URL_LIST OUT_DIR PARALLEL

Fetches every http:// URL in URL_LIST (one a line) with HTTP/1.1 GET, at most PARALLEL at once, each on a
connection of its own kept for the next URL, and writes each body to OUT_DIR/NAME (the URL's last path
segment). A body must be the length its Content-Length says; anything else is counted as failed. Prints
`ok N failed M` and exits 1 when something failed. It does what `haul download --dir` does on the wire and
to the disk, minus fsync, and nothing else.
"""
import asyncio
import os
import sys
from urllib.parse import urlsplit


async def fetch_all(urls, out, parallel):
    queue = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)
    counts = {"ok": 0, "failed": 0}

    async def worker():
        conn = None  # (host, port, reader, writer) kept alive between requests
        while True:
            try:
                url = queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port or 80
            try:
                if conn is None or conn[:2] != (host, port):
                    if conn is not None:
                        conn[3].close()
                    reader, writer = await asyncio.open_connection(host, port)
                    conn = (host, port, reader, writer)
                _, _, reader, writer = conn
                path = parts.path or "/"
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept-Encoding: identity\r\n\r\n".encode())
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                length = None
                keep = True
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    name = name.strip().lower()
                    if name == "content-length":
                        length = int(value.strip())
                    elif name == "connection" and value.strip().lower() == "close":
                        keep = False
                if status != 200 or length is None:
                    raise ValueError(f"{url}: status {status}")
                body = await reader.readexactly(length)
                with open(os.path.join(out, os.path.basename(path)), "wb") as f:
                    f.write(body)
                counts["ok"] += 1
                if not keep:
                    writer.close()
                    conn = None
            except Exception as error:  # noqa: BLE001 - a benchmark counts, it does not diagnose
                print(f"failed: {url}: {error}", file=sys.stderr)
                counts["failed"] += 1
                if conn is not None:
                    conn[3].close()
                conn = None
        if conn is not None:
            conn[3].close()

    await asyncio.gather(*(worker() for _ in range(min(parallel, len(urls)))))
    return counts


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        urls = [line.strip() for line in f if line.strip()]
    out, parallel = sys.argv[2], int(sys.argv[3])
    os.makedirs(out, exist_ok=True)
    counts = asyncio.run(fetch_all(urls, out, parallel))
    print(f"ok {counts['ok']} failed {counts['failed']}")
    sys.exit(1 if counts["failed"] else 0)


if __name__ == "__main__":
    main()
