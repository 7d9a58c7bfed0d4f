import Foundation
import Haul
import HaulArchive
import HaulServe
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `haul serve` against hostile and careless clients, as a separate process under the kernel's own
/// limits: connections that never finish their head, bodies from clients without the key, names
/// that try to end a header, and requests of the forms HTTP allows but browsers seldom send.
///
/// Deadlines here are what the server guarantees (a head in 10 s, no byte for 10 s) plus a wide
/// margin for a busy machine.
@Suite("Overlay server under attack")
struct ServeHardeningTests {
    typealias Served = ServeTests.Served

    /// Runs a Python script with arguments in `folder`; its standard output.
    static func python(_ script: String, _ arguments: [String], in folder: String) async throws -> String {
        let run = try await runHaul(["-c", script] + arguments, in: folder, executable: "/usr/bin/python3")
        #expect(run.status == 0, "\(run.stderr)")
        return run.stdout
    }

    /// The server process's resident memory, from the kernel, in bytes.
    static func residentBytes(_ pid: pid_t) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") ?? 0) * 1024
    }

    /// The process's open descriptors now.
    static func openDescriptors(_ pid: pid_t) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count ?? 0
    }

    /// Opens `count` connections that each send part of a request head and nothing more, holds them
    /// at most `hold` seconds, and prints how many were opened, how many the server closed, and when
    /// the last closed (seconds from the first connection).
    static let halfHeads = #"""
import socket, sys, time, select
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
start = time.time()
socks = []
for i in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /summary.json HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Slow: " % port)
        s.setblocking(False)
        socks.append(s)
    except Exception as e:
        break
open_ = {s.fileno(): s for s in socks}
closed, last = 0, 0.0
while time.time() < start + hold and open_:
    ready, _, _ = select.select(list(open_.values())[:900], [], [], 0.5)
    for s in ready:
        try:
            d = s.recv(4096)
        except Exception:
            d = b""
        if not d:
            del open_[s.fileno()]
            closed += 1
            last = time.time() - start
print(len(socks), closed, round(last, 1))
"""#

    @Test("Descriptors never run out: 600 connections that never finish their head, under a 256-descriptor limit, during a download; each is closed, the server answers throughout and lives")
    func descriptorExhaustion() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            // A download that lasts: its writer's dispatch queues have work the whole time (what made
            // the process trap when the descriptors ran out).
            var uris: [String] = []
            for i in 0..<4 {
                let uri = "mast:JWST/product/jw01000001001_02101_0000\(i)_nrca1_cal.fits"
                archive.add(uri: uri, size: 4 << 20, faults: [.init(.trickle(bytesPerSecond: 128 << 10))])
                uris.append(uri)
            }
            try (uris.joined(separator: "\n") + "\n").write(toFile: folder.path + "/slow.txt", atomically: true, encoding: .utf8)
            try await ServeTests.withServeProcess(
                ["slow.txt", "--archive", archive.url, "--max-downloads", "1", "--parallel", "4"], in: folder.path, descriptors: 256
            ) { server in
                let download = try HaulProcess(
                    ["-sS", "-o", "slow.zip", "\(server.baseURL)/download.zip?key=\(server.key)"], in: folder.path, executable: "/usr/bin/curl"
                )
                try await waitUntil("the download to start", timeout: .seconds(60), seen: { "\(archive.statistics.requests) requests" }) {
                    archive.statistics.requests > 0
                }
                // The flood, and beside it a client with a whole request, and the descriptors counted.
                let path = folder.path
                async let flood = Self.python(Self.halfHeads, [String(server.port), "600", "60"], in: path)
                var answered = 0
                var most = 0
                for _ in 0..<40 {
                    try await Task.sleep(for: .milliseconds(500))
                    most = max(most, Self.openDescriptors(server.process.pid))
                    if answered == 0, try await ServeTests.curl("\(server.baseURL)/summary.json", ["-m", "30"], in: folder.path).status == 200 {
                        answered += 1
                    }
                }
                let counts = try await flood.split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
                #expect(counts.count == 3)
                if counts.count == 3 {
                    // Every half-sent head is closed by the server, none later than its deadline allows
                    // (10 s after a connection that waited in the queue was accepted).
                    #expect(counts[0] == 600, "connections opened: \(counts[0])")
                    #expect(counts[1] == counts[0], "closed by the server: \(counts[1]) of \(counts[0])")
                    #expect(counts[2] < 55, "the last closed after \(counts[2]) s")
                }
                #expect(answered == 1, "a whole request was answered during the flood")
                #expect(most < 256 - 16, "at most \(most) descriptors open")
                #expect(server.process.spawned.poll() == nil, "the server is running")
                #expect(try await ServeTests.curl("\(server.baseURL)/summary.json", in: folder.path).status == 200)
                kill(download.pid, SIGKILL)
                _ = await download.wait()
            }
        }
    }

    /// Connections that POST a product list without the key: each announces a 60 MB body, sends
    /// at most that much (never all of it) as fast as the server takes it, for at most `seconds`; prints
    /// how many bytes the server took in all and how many connections it closed.
    static let keylessUploads = #"""
import socket, sys, time
port, n, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
L = 60 << 20
socks, sent, closed = [], [0] * n, [False] * n
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /download.zip HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % (port, L + 1000))
    s.settimeout(0.05)
    socks.append(s)
chunk = b"mast:JWST/product/x.fits\n" * 40000
end = time.time() + seconds
while time.time() < end and not all(closed[i] or sent[i] >= L for i in range(n)):
    for i, s in enumerate(socks):
        if closed[i] or sent[i] >= L: continue
        try:
            k = s.send(chunk[:L - sent[i]])
            sent[i] += k
        except socket.timeout:
            pass
        except Exception:
            closed[i] = True
for i, s in enumerate(socks):
    if closed[i]: continue
    try:
        s.settimeout(0.5)
        while s.recv(65536): pass
        closed[i] = True
    except Exception:
        pass
print(sum(sent), sum(closed))
"""#

    @Test("A client without the key is refused on its head: 20 keyless 60 MB uploads are not read, the server's memory does not grow; a body shorter than its Content-Length times out")
    func keylessBodies() async throws {
        try await ServeTests.withServer(["--max-upload", "64"]) { server, _, folder in
            let before = Self.residentBytes(server.process.pid)
            let out = try await Self.python(Self.keylessUploads, [String(server.port), "20", "20"], in: folder)
            let after = Self.residentBytes(server.process.pid)
            let numbers = out.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
            #expect(numbers.count == 2)
            if numbers.count == 2 {
                // What the kernel's socket buffers took before the 403 and the close: far from 20 × 60 MB.
                #expect(numbers[0] < 200 << 20, "\(numbers[0]) bytes taken")
                #expect(numbers[1] == 20, "\(numbers[1]) connections closed")
            }
            #expect(after < before + (64 << 20), "resident \(before >> 20) MB before, \(after >> 20) MB after")
            #expect(server.log.filter { $0 == "POST /download.zip 403" }.count == 20)

            // With the key, a Content-Length never reached: answered 408 once the client is silent
            // (10 s), not held for ever.
            let short = #"""
import socket, sys, time
port, key = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /download.zip?key=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 1000\r\n\r\nmast:JWST/product/x.fits\n" % (key.encode(), port))
s.settimeout(90)
start = time.time()
answer = s.recv(200)
print(answer.split(b"\r\n")[0].decode(), round(time.time() - start))
"""#
            let answer = try await Self.python(short, [String(server.port), server.key], in: folder)
            #expect(answer.hasPrefix("HTTP/1.1 408 Request Timeout"), "\(answer)")
            #expect((Int(answer.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 99) < 60, "\(answer)")
        }
    }

    @Test("The key travels in the address or X-Haul-Key, never only in a body: a form POST with it only in its body is refused")
    func keyOnTheHead() async throws {
        try await ServeTests.withServer { server, archive, folder in
            let inBody = try await ServeTests.curl("\(server.baseURL)/download.zip", ["-d", "key=\(server.key)", "-d", "quick=all"], in: folder)
            #expect(inBody.status == 403)
            let inHeader = try await ServeTests.curl(
                "\(server.baseURL)/catalog", ["-H", "X-Haul-Key: \(server.key)", "--data-binary", "mast:JWST/product/x_cal.fits\n"], in: folder
            )
            #expect(inHeader.status == 200, "\(inHeader.text)")
            #expect(archive.statistics.requests == 0)
        }
    }

    @Test("Content-Disposition: a root or list name with quotes, controls or non-ASCII cannot add a parameter; curl -OJ and wget --content-disposition save under the name given")
    func contentDisposition() async throws {
        try await ServeTests.withServer { server, _, folder in
            let hostile = "x\"; filename=\"evil.html.sh"
            let root = hostile.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            for (path, suffix) in [("export.csv", "-selection.csv"), ("script.sh", ".sh")] {
                let answer = try await ServeTests.curl("\(server.baseURL)/\(path)?root=\(root)", in: folder)
                #expect(answer.status == 200, "\(answer.text)")
                let value = try #require(ServeTests.header("Content-Disposition", in: answer.headers))
                #expect(value == "attachment; filename=\"x__ filename=_evil.html.sh\(suffix)\"; filename*=UTF-8''x%22%3B%20filename%3D%22evil.html.sh\(suffix)")
            }
            let accented = "données été"
            let answer = try await ServeTests.curl(
                "\(server.baseURL)/script.sh?root=\(accented.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)", in: folder
            )
            #expect(ServeTests.header("Content-Disposition", in: answer.headers) == "attachment; filename=\"donn_es _t_.sh\"; filename*=UTF-8''donn%C3%A9es%20%C3%A9t%C3%A9.sh")

            // What real clients save it as.
            let saved = folder + "/saved"
            try FileManager.default.createDirectory(atPath: saved, withIntermediateDirectories: true)
            let url = "\(server.baseURL)/export.csv?root=\(root)"
            let curl = try await runHaul(["-sS", "-OJ", url], in: saved, executable: "/usr/bin/curl")
            #expect(curl.status == 0, "\(curl.stderr)")
            if let wget = ["/usr/bin/wget"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
                let run = try await runHaul(["-q", "--content-disposition", url], in: saved, executable: wget)
                #expect(run.status == 0, "\(run.stderr)")
            }
            let names = try FileManager.default.contentsOfDirectory(atPath: saved).filter { !$0.hasPrefix("stdout-") && !$0.hasPrefix("stderr-") }
            #expect(!names.isEmpty)
            for name in names {
                #expect(!name.hasPrefix("evil") && name.hasSuffix("-selection.csv"), "saved as \(name)")
            }
        }
    }

    /// Sends `request` as it is and prints the answer's status line.
    static let raw = #"""
import socket, sys
port, request = int(sys.argv[1]), sys.argv[2].replace("PORT", sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(request.encode().decode("unicode_escape").encode("latin-1"))
s.settimeout(30)
data = b""
while b"\r\n" not in data:
    d = s.recv(4096)
    if not d: break
    data += d
print(data.split(b"\r\n")[0].decode())
"""#

    @Test("Exactly one Host; absolute-form targets are served when they name this server; HEAD answers every GET route with GET's head and no body")
    func hostTargetAndHead() async throws {
        try await ServeTests.withServer { server, archive, folder in
            let port = String(server.port)
            func status(_ request: String) async throws -> String {
                try await Self.python(Self.raw, [port, request], in: folder).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            #expect(try await status("GET /summary.json HTTP/1.1\\r\\nHost: 127.0.0.1:PORT\\r\\nHost: 127.0.0.1:PORT\\r\\n\\r\\n") == "HTTP/1.1 400 Bad Request")
            #expect(try await status("GET /summary.json HTTP/1.1\\r\\nHost: 127.0.0.1:PORT\\r\\nHost: evil.example\\r\\n\\r\\n") == "HTTP/1.1 400 Bad Request")
            #expect(try await status("GET /summary.json HTTP/1.1\\r\\n\\r\\n") == "HTTP/1.1 400 Bad Request")
            #expect(try await status("GET /summary.json HTTP/1.1\\r\\nHost: 127.0.0.1:PORT\\r\\n\\r\\n") == "HTTP/1.1 200 OK")
            // Absolute form: served as its path when the address is this server's, refused otherwise.
            #expect(try await status("GET http://127.0.0.1:PORT/summary.json HTTP/1.1\\r\\nHost: 127.0.0.1:PORT\\r\\n\\r\\n") == "HTTP/1.1 200 OK")
            #expect(try await status("GET http://evil.example/summary.json HTTP/1.1\\r\\nHost: 127.0.0.1:PORT\\r\\n\\r\\n") == "HTTP/1.1 403 Forbidden")
            #expect(try await status("GET * HTTP/1.1\\r\\nHost: 127.0.0.1:PORT\\r\\n\\r\\n") == "HTTP/1.1 400 Bad Request")
            let absolute = try await ServeTests.curl(
                "\(server.baseURL)/summary.json?quick=recommended", ["--request-target", "http://127.0.0.1:\(port)/summary.json?quick=recommended"], in: folder
            )
            let plain = try await ServeTests.curl("\(server.baseURL)/summary.json?quick=recommended", in: folder)
            #expect(absolute.status == 200 && Bytes(absolute.body) == Bytes(plain.body))

            // HEAD: GET's status and headers (its Content-Length among them), no body, no download.
            let key = server.key
            for path in [
                "/?key=\(key)", "/summary.json", "/preview.json", "/export.csv", "/script.sh",
                "/download.zip?key=\(key)&quick=all&regex=%5C.fits%24&compression=store",
            ] {
                let get = try await ServeTests.curl(server.baseURL + path, in: folder)
                let head = try await ServeTests.curl(server.baseURL + path, ["-I"], in: folder)
                #expect(head.status == 200 && get.status == 200, "HEAD \(path): \(head.status)")
                // curl -I writes the head where the body would go: nothing else came.
                #expect(head.text == head.headers, "HEAD \(path)")
                #expect(ServeTests.header("Content-Length", in: head.headers) == String(get.body.count), "HEAD \(path)")
                for name in ["Content-Type", "Content-Disposition", "ETag"] {
                    #expect(ServeTests.header(name, in: head.headers) == ServeTests.header(name, in: get.headers), "HEAD \(path): \(name)")
                }
            }
            let requests = archive.statistics.requests
            let chunked = try await ServeTests.curl("\(server.baseURL)/download.zip?key=\(key)&quick=recommended", ["-I"], in: folder)
            #expect(chunked.status == 200 && ServeTests.header("Accept-Ranges", in: chunked.headers) == "none")
            #expect(try await ServeTests.curl("\(server.baseURL)/download.zip?quick=recommended", ["-I"], in: folder).status == 403)
            #expect(archive.statistics.requests == requests, "HEAD fetched nothing")
            #expect(try await ServeTests.curl("\(server.baseURL)/summary.json", ["-X", "DELETE"], in: folder).status == 405)
        }
    }
}
