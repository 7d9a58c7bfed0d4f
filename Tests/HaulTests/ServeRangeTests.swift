import Foundation
import Haul
import HaulArchive
import HaulServe
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A stored bundle is one set of bytes for its selection: the same on every request and after a
/// restart, so any range of it is answered (206) whether or not the server sent it before, and real
/// download managers (aria2c splitting it eight ways, wget -c, curl -C -) end with the bytes of one
/// plain download.
@Suite("Overlay server: a stored bundle is one set of bytes")
struct ServeRangeTests {
    /// A loopback archive with the demo's sample at `scale` (about 12 MB of recommended files at
    /// 0.05), its catalog in `folder`.
    static func withSample(scale: Double = 0.05, _ body: (TestArchive, borrowing TemporaryFolder) async throws -> Void) async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try SampleCatalog(scale: scale).install(in: archive, catalogAt: folder.path + "/sample.json")
            try await body(archive, folder)
        }
    }

    static func serve(
        _ archive: TestArchive, in folder: borrowing TemporaryFolder, _ extra: [String] = [], _ body: (ServeTests.Served) async throws -> Void
    ) async throws {
        try await ServeTests.withServeProcess(["sample.json", "--archive", archive.url, "--parallel", "8"] + extra, in: folder.path, body)
    }

    static func url(_ server: ServeTests.Served) -> String {
        "\(server.baseURL)/download.zip?key=\(server.key)&quick=recommended&compression=store"
    }

    /// The whole stored bundle as one server process sends it (with `extra` arguments), kept as
    /// `whole.zip` in `folder` too: the reference a test's ranges are held to.
    static func wholeBundle(
        _ archive: TestArchive, in folder: borrowing TemporaryFolder, _ extra: [String] = []
    ) async throws -> (bytes: [UInt8], path: String) {
        var whole: [UInt8] = []
        try await serve(archive, in: folder, extra) { server in
            whole = try await ServeTests.curl(url(server), in: folder.path).body
        }
        let path = folder.path + "/whole.zip"
        try Data(whole).write(to: URL(fileURLWithPath: path))
        return (whole, path)
    }

    /// Where each file's entry starts and ends in a bundle (its manifests excluded), read back by Python.
    static func fileSpans(_ path: String) async throws -> [(start: UInt64, end: UInt64)] {
        let reading = try await readWithPython(path)
        let starts = reading.entries.map(\.offset).sorted()
        return (0..<(starts.count - 2)).map { (starts[$0], starts[$0 + 1]) }
    }

    @Test("The same selection gives the same bytes and ETag on every request, on HEAD, and from another server process over the same archive")
    func sameBytes() async throws {
        try await Self.withSample { archive, folder in
            var first: ServeTests.Answer?
            try await Self.serve(archive, in: folder) { server in
                let a = try await ServeTests.curl(Self.url(server), in: folder.path)
                let b = try await ServeTests.curl(Self.url(server), in: folder.path)
                let head = try await ServeTests.curl(Self.url(server), ["-I"], in: folder.path)
                #expect(a.status == 200 && b.status == 200)
                #expect(Bytes(a.body) == Bytes(b.body))
                let tag = ServeTests.header("ETag", in: a.headers)
                #expect(tag != nil && tag == ServeTests.header("ETag", in: b.headers) && tag == ServeTests.header("ETag", in: head.headers))
                first = a
            }
            try await Self.serve(archive, in: folder) { server in
                let again = try await ServeTests.curl(Self.url(server), in: folder.path)
                #expect(Bytes(again.body) == Bytes(first?.body))
                #expect(ServeTests.header("ETag", in: again.headers) == first.flatMap { ServeTests.header("ETag", in: $0.headers) })
            }
            let path = folder.path + "/whole.zip"
            try Data(first?.body ?? []).write(to: URL(fileURLWithPath: path))
            try await checkWithReaders(path, names: try await readWithPython(path).names)
        }
    }

    @Test("Ranges of a bundle the server never sent: 206 with exactly those bytes; only the files whose entries overlap are fetched; the end waits for every CRC-32")
    func rangesNeverSent() async throws {
        try await Self.withSample { archive, folder in
            // The reference: a whole bundle from one server, then each range from a fresh one.
            let (whole, path) = try await Self.wholeBundle(archive, in: folder)
            let spans = try await Self.fileSpans(path)
            let length = whole.count
            let files = spans.count
            #expect(files > 20 && length > 4 << 20)
            let middle = (spans[files / 2].start + 10, spans[files / 2 + 2].start + 10)
            let cases: [(range: String, first: Int, last: Int)] = [
                ("bytes=\(middle.0)-\(middle.1)", Int(middle.0), Int(middle.1)),
                ("bytes=0-99", 0, 99),
                ("bytes=-1000", length - 1000, length - 1),
                ("bytes=\(length / 2)-", length / 2, length - 1),
            ]
            for item in cases {
                try await Self.serve(archive, in: folder) { server in
                    let requests = archive.statistics.requests
                    let answer = try await ServeTests.curl(Self.url(server), ["-H", "Range: \(item.range)"], in: folder.path)
                    #expect(answer.status == 206, "\(item.range)")
                    #expect(ServeTests.header("Content-Range", in: answer.headers) == "bytes \(item.first)-\(item.last)/\(length)", "\(item.range)")
                    #expect(Bytes(answer.body) == Bytes(Array(whole[item.first...item.last])), "\(item.range)")
                    let fetched = archive.statistics.requests - requests
                    let overlapping = spans.filter { $0.start <= UInt64(item.last) && $0.end > UInt64(item.first) }.count
                    if item.last < Int(spans[files - 1].end) {
                        // Within the files: exactly the files whose entries overlap.
                        #expect(fetched == overlapping, "\(item.range): \(fetched) fetched, \(overlapping) overlap")
                    } else {
                        // The end: every file, once each, for its CRC-32.
                        #expect(fetched == files, "\(item.range): \(fetched) fetched of \(files)")
                    }
                }
            }
        }
    }

    @Test("aria2c -x8 -s8, wget -c and curl -C - (a server restarted in between) end with the bytes of one plain curl; aria2's eight ranges are one download")
    func downloadManagers() async throws {
        let aria2 = try #require(["/usr/bin/aria2c"].first { FileManager.default.isExecutableFile(atPath: $0) }, "aria2c (Debian's aria2) is needed")
        let wget = try #require(["/usr/bin/wget"].first { FileManager.default.isExecutableFile(atPath: $0) }, "wget is needed")
        try await Self.withSample(scale: 0.1) { archive, folder in
            let plain = folder.path + "/plain.zip"
            try await Self.serve(archive, in: folder, ["--max-downloads", "1"]) { server in
                let run = try await runHaul(["-sS", "-o", plain, Self.url(server)], in: folder.path, executable: "/usr/bin/curl")
                #expect(run.status == 0, "\(run.stderr)")
            }
            let reference = try #require(readBytes(plain))
            // A fresh server each time: none of them sent this bundle before.
            try await Self.serve(archive, in: folder, ["--max-downloads", "1"]) { server in
                let run = try await runHaul(
                    ["-q", "-x8", "-s8", "-k1M", "--max-tries=1", "--allow-overwrite=true", "-d", folder.path, "-o", "aria.zip", Self.url(server)],
                    in: folder.path, executable: aria2
                )
                #expect(run.status == 0, "\(run.stdout) \(run.stderr) \(server.log.suffix(20))")
                #expect(Bytes(readBytes(folder.path + "/aria.zip")) == Bytes(reference))
                // A range whose client left while others ran logs once its transfers in flight end.
                try await waitUntil("a 206 in the log", timeout: .seconds(300), seen: { server.log.suffix(20).joined(separator: "\n") }) {
                    server.log.contains { $0.hasPrefix("GET /download.zip 206") }
                }
                #expect(!server.log.contains { $0.contains(" 503") }, "\(server.log.suffix(20))")
            }
            try await Self.serve(archive, in: folder) { server in
                try Data(reference.prefix(reference.count / 3)).write(to: URL(fileURLWithPath: folder.path + "/wget.zip"))
                let run = try await runHaul(["-q", "-c", "-O", "wget.zip", Self.url(server)], in: folder.path, executable: wget)
                #expect(run.status == 0, "\(run.stderr)")
                #expect(Bytes(readBytes(folder.path + "/wget.zip")) == Bytes(reference))
            }
            try await Self.serve(archive, in: folder) { server in
                try Data(reference.prefix(reference.count * 2 / 3)).write(to: URL(fileURLWithPath: folder.path + "/curl.zip"))
                let run = try await runHaul(["-sS", "-C", "-", "-o", "curl.zip", Self.url(server)], in: folder.path, executable: "/usr/bin/curl")
                #expect(run.status == 0, "\(run.stderr)")
                #expect(Bytes(readBytes(folder.path + "/curl.zip")) == Bytes(reference))
            }
            try await checkWithReaders(folder.path + "/aria.zip", names: try await readWithPython(plain).names)
        }
    }

    @Test("A server restarted with the same --key-file resumes from the records it kept: a range in the manifests fetches no file, and a file changed under a half-sent entry gets the whole new bundle (200), never a mix")
    func restartWithRecords() async throws {
        try await Self.withSample { archive, folder in
            let keyFile = folder.path + "/serve.key"
            let withKey = ["--key-file", keyFile]
            let (whole, path) = try await Self.wholeBundle(archive, in: folder, withKey)
            let records = try FileManager.default.contentsOfDirectory(atPath: keyFile + ".bundles")
            #expect(records.count == 1 && records[0].hasSuffix(".records"), "\(records)")
            var st = stat()
            #expect(lstat(keyFile + ".bundles", &st) == 0 && st.st_mode & 0o777 == 0o700)
            #expect(lstat(keyFile + ".bundles/" + records[0], &st) == 0 && st.st_mode & 0o777 == 0o600)
            let entries = try await readWithPython(path).entries.sorted { $0.offset < $1.offset }
            let spans = try await Self.fileSpans(path)
            let manifests = spans[spans.count - 1].end

            // Restarted: the end of the bundle comes from the records alone (without them, every file
            // would be fetched again for its CRC-32).
            try await Self.serve(archive, in: folder, withKey) { server in
                let requests = archive.statistics.requests
                let answer = try await ServeTests.curl(Self.url(server), ["-H", "Range: bytes=\(manifests + 5)-"], in: folder.path)
                #expect(answer.status == 206)
                #expect(Bytes(answer.body) == Bytes(Array(whole[Int(manifests + 5)...])))
                #expect(archive.statistics.requests - requests == 0)
            }

            // The file under the middle entry changes on the archive; a client holds half of that entry.
            let middle = entries[entries.count / 2]
            let filename = String(middle.name.split(separator: "/").last ?? "")
            let uri = try #require(SampleCatalog(scale: 0.05).rows.first { $0.productFilename == filename }?.dataURI, "\(middle.name)")
            archive.reprocess(uri: uri)
            let halfway = middle.offset + 100
            try await Self.serve(archive, in: folder, withKey) { server in
                let probe = try await ServeTests.curl(Self.url(server), ["-I"], in: folder.path)
                let tag = try #require(ServeTests.header("ETag", in: probe.headers))
                let resumed = try await ServeTests.curl(Self.url(server), ["-H", "Range: bytes=\(halfway)-", "-H", "If-Range: \(tag)"], in: folder.path)
                try #require(resumed.status == 200, "\(server.log.suffix(5))")
                #expect(ServeTests.header("Content-Range", in: resumed.headers) == nil)
                #expect(resumed.body.count == whole.count && Bytes(resumed.body) != Bytes(whole))
                #expect(server.log.contains { $0.contains("changed on the archive") && $0.contains(filename) }, "\(server.log.suffix(5))")
                // The whole new bundle, as a plain request now gets it, and a valid archive.
                let now = try await ServeTests.curl(Self.url(server), in: folder.path)
                #expect(Bytes(now.body) == Bytes(resumed.body))
                let renewed = folder.path + "/renewed.zip"
                try Data(resumed.body).write(to: URL(fileURLWithPath: renewed))
                try await checkWithReaders(renewed, names: try await readWithPython(renewed).names)
            }
        }
    }

    @Test("Two ranges of one bundle at once fetch the file at their boundary once: the second waits for the first's transfer and writes its copy")
    func concurrentRangesShareFiles() async throws {
        try await Self.withSample { archive, folder in
            let (whole, path) = try await Self.wholeBundle(archive, in: folder)
            let entries = try await readWithPython(path).entries.sorted { $0.offset < $1.offset }
            let middle = entries[entries.count / 2]
            let filename = String(middle.name.split(separator: "/").last ?? "")
            let rows = SampleCatalog(scale: 0.05).rows
            func uri(_ entry: ReadEntry) -> String? {
                let name = entry.name.split(separator: "/").last.map(String.init)
                return rows.first { $0.productFilename == name }?.dataURI
            }
            let row = try #require(rows.first { $0.productFilename == filename }, "\(middle.name)")
            let earlier = entries[..<(entries.count / 2)].compactMap(uri)
            // The same bytes, held back (its first request only): the range that starts inside the
            // entry is fetching it for as long as the test needs.
            archive.add(uri: row.dataURI, size: row.size, faults: [.init(.hold, times: 1)])
            let boundary = Int(middle.offset) + 100
            // The held transfer must not count as stalled however long a loaded machine takes.
            try await Self.serve(archive, in: folder, ["--stall-timeout", "900"]) { server in
                let before = archive.requests(for: row.dataURI)
                let fetchedBefore = earlier.map { archive.requests(for: $0) }
                // The range that starts inside the entry fetches its file first …
                let (url, work) = (Self.url(server), folder.path)
                let tail = Task { try await ServeTests.curl(url, ["-H", "Range: bytes=\(boundary)-"], in: work) }
                try await waitUntil("the archive sees the boundary file asked for", timeout: .seconds(120)) { archive.requests(for: row.dataURI) > before }
                // … the range that ends inside it runs meanwhile: once it has asked for every file before
                // that entry, it is one of the bundle's requests, so the held file, when it comes, is kept
                // for it (or it already waits for that transfer).
                let head = Task { try await ServeTests.curl(url, ["-H", "Range: bytes=0-\(boundary - 1)"], in: work) }
                try await waitUntil("the other range asks for the files before the boundary", timeout: .seconds(300)) {
                    zip(earlier, fetchedBefore).allSatisfy { archive.requests(for: $0) > $1 }
                }
                archive.release()
                let (first, rest) = (try await head.value, try await tail.value)
                #expect(first.status == 206 && rest.status == 206)
                #expect(Bytes(first.body) == Bytes(Array(whole[..<boundary])))
                #expect(Bytes(rest.body) == Bytes(Array(whole[boundary...])))
                #expect(archive.requests(for: row.dataURI) - before == 1, "\(server.log.suffix(4))")
            }
        }
    }
    @Test("aria2c -x8 -s8 on a bundle whose first file is big: its ranges start inside files the first connection fetched alone, yet every file comes from the archive once, and the bytes are one plain curl's")
    func downloadManagerFetchesEachFileOnce() async throws {
        let aria2 = try #require(["/usr/bin/aria2c"].first { FileManager.default.isExecutableFile(atPath: $0) }, "aria2c (Debian's aria2) is needed")
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            // Four files, the smallest (the bundle's first) 6 MB: the head goes out once it is whole,
            // and aria2c's eight ranges of the 30 MB bundle, 3.75 MB apart, start inside every file.
            let sizes: [Int64] = [6_000_000, 7_000_000, 8_000_000, 9_000_000]
            let uris = sizes.indices.map { "mast:JWST/product/big\($0)_cal.fits" }
            for (uri, size) in zip(uris, sizes) { archive.add(uri: uri, size: size, content: .random) }
            let rows = zip(uris, sizes).map { uri, size in "\(uri),\(size),obs,\(uri.split(separator: "/").last!)\n" }
            try ("dataURI,size,obs_id,productFilename\n" + rows.joined()).write(toFile: folder.path + "/list.csv", atomically: true, encoding: .utf8)
            // --memory-limit 16 at --parallel 8: an entry keeps 1 MiB in memory, so every file spills
            // to a spool file, which a request alone keeps (BundleFileCache).
            let arguments = ["list.csv", "--archive", archive.url, "--parallel", "8", "--memory-limit", "16", "--max-downloads", "1"]
            func url(_ server: ServeTests.Served) -> String { "\(server.baseURL)/download.zip?key=\(server.key)&quick=all&compression=store" }
            func fetched(since before: [Int]) -> [Int] { zip(uris, before).map { archive.requests(for: $0) - $1 } }
            let plain = folder.path + "/plain.zip"
            try await ServeTests.withServeProcess(arguments, in: folder.path) { server in
                let before = uris.map { archive.requests(for: $0) }
                let run = try await runHaul(["-sS", "-o", plain, url(server)], in: folder.path, executable: "/usr/bin/curl")
                #expect(run.status == 0, "\(run.stderr)")
                #expect(fetched(since: before) == [1, 1, 1, 1])
            }
            let reference = try #require(readBytes(plain))
            #expect(reference.count > 30_000_000)
            // A fresh server, which never sent this bundle.
            try await ServeTests.withServeProcess(arguments, in: folder.path) { server in
                let before = uris.map { archive.requests(for: $0) }
                let run = try await runHaul(
                    ["-q", "-x8", "-s8", "-k1M", "--max-tries=1", "--allow-overwrite=true", "-d", folder.path, "-o", "aria.zip", url(server)],
                    in: folder.path, executable: aria2
                )
                #expect(run.status == 0, "\(run.stdout) \(run.stderr) \(server.log.suffix(20))")
                #expect(Bytes(readBytes(folder.path + "/aria.zip")) == Bytes(reference))
                let ranges = server.log.filter { $0.hasPrefix("GET /download.zip 206") }
                #expect(ranges.count >= 4, "\(server.log.suffix(20))")
                #expect(fetched(since: before) == [1, 1, 1, 1], "\(server.log.suffix(20))")
            }
        }
    }

    @Test("With --key-file, an entry's record is written and flushed to the disk (fdatasync) before the entry's first byte goes to the client")
    func recordsFlushedBeforeBytes() async throws {
        let strace = try #require(["/usr/bin/strace"].first { FileManager.default.isExecutableFile(atPath: $0) }, "strace is needed")
        try await Self.withSample { archive, folder in
            let (whole, path) = try await Self.wholeBundle(archive, in: folder)
            let starts = try await Self.fileSpans(path).map(\.start)
            let trace = folder.path + "/trace.txt"
            // The server under strace: the writes of records (pwrite64), their flushes, and the
            // writes to sockets, with the file or the connection each descriptor is (-yy).
            let process = try HaulProcess(
                ["-f", "--seccomp-bpf", "-qq", "-yy", "-s", "0", "-e", "trace=pwrite64,fdatasync,fsync,write,writev,sendmsg", "-e", "signal=none",
                 "-o", trace, haulExecutable, "serve", "sample.json", "--archive", archive.url, "--parallel", "8", "--key-file", folder.path + "/serve.key"],
                in: folder.path, executable: strace
            )
            var address = ""
            do {
                try await waitUntil("the server's address", timeout: .seconds(120), seen: { process.stderr }) {
                    address = process.stderr.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix("http://127.0.0.1:") }.map(String.init) ?? ""
                    return !address.isEmpty
                }
                let server = ServeTests.Served(process: process, url: address)
                let answer = try await ServeTests.curl(Self.url(server), in: folder.path)
                #expect(answer.status == 200 && Bytes(answer.body) == Bytes(whole))
                let headLength = answer.headers.utf8.count
                // The server is strace's child: SIGTERM to it, and strace ends with it.
                let children = (try? String(contentsOfFile: "/proc/\(process.pid)/task/\(process.pid)/children", encoding: .utf8)) ?? ""
                let served = try #require(children.split(separator: " ").first.flatMap { pid_t($0) }, "the server's pid")
                kill(served, SIGTERM)
                #expect(await process.wait(timeout: .seconds(120)) == 0, "\(process.stderr.suffix(2000))")
                let calls = StraceCalls(try String(contentsOfFile: trace, encoding: .utf8))
                let records = calls.calls.filter { $0.descriptor.hasSuffix(".records>") }
                let flushes = records.filter { $0.name == "fdatasync" }
                #expect(!flushes.isEmpty)
                // The bytes to the client, by where each write began in the body.
                let port = ":\(server.port)->"
                var sent = -headLength
                var writes: [(from: Int, to: Int, start: Int)] = []
                for call in calls.calls where ["write", "writev", "sendmsg"].contains(call.name) && call.descriptor.contains(port) && call.result > 0 {
                    writes.append((sent, sent + call.result, call.start))
                    sent += call.result
                }
                #expect(sent == whole.count, "\(sent) body bytes written, \(whole.count) expected")
                for (position, start) in starts.enumerated() {
                    // The write that carries the entry's first byte …
                    guard let write = writes.first(where: { $0.to > Int(start) }) else {
                        Issue.record("no write carries entry \(position)")
                        continue
                    }
                    // … began after a flush that began after the record's slot was written.
                    let offset = BundleRecordLog.headerLength + position * BundleRecordLog.slotLength
                    let slot = records.last { $0.name == "pwrite64" && $0.offset == offset && $0.end < write.start }
                    let flushed = slot.map { slot in flushes.contains { $0.start > slot.end && $0.end < write.start } } ?? false
                    #expect(slot != nil && flushed, "entry \(position): record written \(slot != nil), flushed before its first byte went out \(flushed)")
                }
            } catch {
                kill(process.pid, SIGKILL)
                _ = await process.wait()
                throw error
            }
        }
    }
}

/// System calls as `strace -f -yy` wrote them, in the order they began, each with the lines where it
/// began and ended (a call another thread's interrupted shows as `<unfinished ...>`, then `resumed`).
struct StraceCalls {
    struct Call {
        var name: String
        /// The first argument as strace shows it with -yy: `7</path/file>`, `12<TCP:[…:8080->…:4711]>`.
        var descriptor: String
        /// The fourth argument, for pwrite64 (its offset).
        var offset: Int?
        var result: Int
        var start: Int
        var end: Int
    }

    private(set) var calls: [Call] = []

    init(_ text: String) {
        var pending: [Substring: Call] = [:]
        for (number, line) in text.split(separator: "\n").enumerated() {
            guard let space = line.firstIndex(of: " ") else { continue }
            let pid = line[..<space]
            let rest = line[line.index(after: space)...].drop { $0 == " " }
            if rest.hasPrefix("<... ") {
                guard var call = pending.removeValue(forKey: pid) else { continue }
                call.result = Self.result(rest)
                call.end = number
                calls.append(call)
                continue
            }
            guard let paren = rest.firstIndex(of: "(") else { continue }
            let name = String(rest[..<paren])
            let arguments = rest[rest.index(after: paren)...]
            // The descriptor: up to the first ", " outside its <…>.
            var descriptor = ""
            var depth = 0
            for c in arguments {
                if c == "<" { depth += 1 } else if c == ">" { depth -= 1 } else if (c == "," || c == ")") && depth == 0 { break }
                descriptor.append(c)
            }
            if let cut = descriptor.range(of: " <unfinished") { descriptor = String(descriptor[..<cut.lowerBound]) }
            var offset: Int?
            if name == "pwrite64", let last = arguments.split(separator: ",").last {
                offset = Int(String(last.drop { $0 == " " }.prefix { $0.isNumber }))
            }
            var call = Call(name: name, descriptor: descriptor, offset: offset, result: -1, start: number, end: number)
            if rest.hasSuffix("<unfinished ...>") {
                pending[pid] = call
            } else {
                call.result = Self.result(rest)
                calls.append(call)
            }
        }
    }

    /// The number after the last ` = `.
    private static func result(_ line: Substring) -> Int {
        guard let range = line.range(of: " = ", options: .backwards) else { return -1 }
        return Int(line[range.upperBound...].prefix { $0 == "-" || $0.isNumber }) ?? -1
    }
}
