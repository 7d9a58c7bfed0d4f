import Foundation
import Haul
import HaulArchive
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The `haul` executable built next to this test bundle.
let haulExecutable: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("haul").path
}()

/// A `haul` process (or another program) writing its output to files in `folder`.
final class HaulProcess: Sendable {
    let spawned: Spawned
    let stdoutPath: String
    let stderrPath: String

    init(_ arguments: [String], in folder: String, environment changes: [String: String] = [:], executable: String = haulExecutable) throws {
        #expect(FileManager.default.isExecutableFile(atPath: executable), "\(executable) is not there")
        stdoutPath = folder + "/stdout-\(UUID().uuidString)"
        stderrPath = folder + "/stderr-\(UUID().uuidString)"
        var env = environment(["HAUL_ARCHIVE": nil, "MAST_API_TOKEN": nil])
        env.merge(changes) { $1 }
        spawned = try Spawned(
            executable, arguments, environment: env, directory: folder,
            stdin: .null, stdout: .file(stdoutPath), stderr: .file(stderrPath)
        )
    }

    var pid: pid_t { spawned.pid }

    /// Waits for the exit, killing the process after `timeout`.
    func wait(timeout: Duration = .seconds(60)) async -> Int32 {
        let (status, timedOut) = await spawned.wait(timeout: timeout)
        if timedOut { Issue.record("the process did not exit within \(timeout)") }
        return status
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
}

/// Runs `haul` (or another program) in `folder`, standard input empty, without HAUL_ARCHIVE or MAST_API_TOKEN
/// from the test's environment.
func runHaul(
    _ arguments: [String], in folder: String, environment: [String: String] = [:], executable: String = haulExecutable,
    timeout: Duration = .seconds(60)
) async throws -> (status: Int32, stdout: String, stderr: String) {
    let p = try HaulProcess(arguments, in: folder, environment: environment, executable: executable)
    let status = await p.wait(timeout: timeout)
    return (status, p.stdout, p.stderr)
}

@Suite("haul command")
struct CommandLineTests {
    @Test("A malformed catalog exits 2 naming the file, line and column; nothing is downloaded")
    func malformedCatalog() async throws {
        let folder = TemporaryFolder()
        try "{\"data\": [\n  {\"dataURI\": \"mast:X/a.fits\"},\n  {\"dataURI\": }\n]}\n".write(toFile: folder.path + "/bad.json", atomically: true, encoding: .utf8)
        let run = try await runHaul(["download", "bad.json", "--dir", "out", "--archive", "http://127.0.0.1:9"], in: folder.path)
        #expect(run.status == 2)
        #expect(run.stderr.hasPrefix("haul: error: bad.json:3:15: malformed JSON"))
        #expect(!fileExists(folder.path + "/out"))
    }

    @Test("Usage errors exit 2", arguments: [
        ["download", "--dir", "out"],
        ["download", "c.txt"],
        ["download", "c.txt", "--dir", "out", "--parallel", "0"],
        ["download", "c.txt", "--dir", "out", "--layout", "sideways"],
        ["download", "c.txt", "--dir", "out", "--archive", "ftp://example.org"],
        ["download", "c.txt", "--dir", "out", "--root", "../up"],
        ["download", "c.txt", "--zip", "-", "--refresh"],
        ["frobnicate"],
    ])
    func usage(arguments: [String]) async throws {
        let folder = TemporaryFolder()
        try "mast:JWST/product/a.fits\n".write(toFile: folder.path + "/c.txt", atomically: true, encoding: .utf8)
        let run = try await runHaul(arguments, in: folder.path)
        #expect(run.status == 2, "\(arguments): \(run.stderr)")
        #expect(!run.stderr.isEmpty)
        #expect(!fileExists(folder.path + "/out"))
    }

    @Test("download fetches a MAST product list from the archive named by HAUL_ARCHIVE, with JSON progress")
    func download() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let sample = SampleCatalog(jwstObservations: 2, hstObservations: 2, scale: 0.05)
            try sample.install(in: archive, catalogAt: folder.path + "/products.json")
            let run = try await runHaul(
                ["download", "products.json", "--quick", "recommended", "--dir", "data", "--progress", "json"],
                in: folder.path, environment: ["HAUL_ARCHIVE": archive.url]
            )
            #expect(run.status == 0, "\(run.stderr)")
            let lines = run.stdout.split(separator: "\n").map(String.init)
            let files = lines.filter { $0.hasPrefix(#"{"event":"file""#) }
            // Two JWST observations of 6 recommended files (the second exclusive-access: excluded without a
            // token) and two HST observations of 5: 16 OK and 6 EXCLUDED rows.
            #expect(files.count == 6 + 10 + 6)
            #expect(lines.last?.hasPrefix(#"{"event":"summary","ok":16,"skipped":0,"unchanged":0,"replaced":0,"failed":0,"cancelled":0,"duplicates":0,"excluded":6,"#) == true)
            #expect(lines.contains { $0.hasPrefix(#"{"event":"progress","files_done":16,"files_total":16,"#) })
            for line in lines { #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "not JSON: \(line)") }
            let cal = "jw02736001001_02101_00001_nrca1"
            #expect(Bytes(readBytes(folder.path + "/data/\(cal)/\(cal)_cal.fits")) == Bytes(archive.content(of: "mast:JWST/product/\(cal)_cal.fits")))
            // A file's event carries what its manifest row records: CRC-32, Last-Modified, ETag.
            let event = try #require(files.lazy.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .first { $0["uri"] as? String == "mast:JWST/product/\(cal)_cal.fits" })
            #expect(event["etag"] as? String == archive.etag(of: "mast:JWST/product/\(cal)_cal.fits"))
            #expect((event["last_modified"] as? NSNumber)?.int64Value == archive.lastModified(of: "mast:JWST/product/\(cal)_cal.fits"))
            #expect((event["crc32"] as? String)?.count == 8)
            #expect(fileExists(folder.path + "/data/manifest.html"))
            #expect(run.stderr.contains("haul: 16 files OK, 6 excluded"))
        }
    }

    @Test("Some files failing exits 1 and the summary names them")
    func someFailed() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            archive.add(uri: "mast:HST/product/ok.fits", size: 1000)
            try "mast:HST/product/ok.fits\nmast:HST/product/missing.fits\n".write(toFile: folder.path + "/list.txt", atomically: true, encoding: .utf8)
            let run = try await runHaul(["download", "list.txt", "--dir", "out", "--archive", archive.url, "--progress", "none"], in: folder.path)
            #expect(run.status == 1)
            #expect(run.stderr.contains("haul:   HST/product/missing.fits: FAILED: HTTP 404"))
            #expect(fileExists(folder.path + "/out/HST/product/ok.fits"))
        }
    }

    @Test("Ctrl-C (SIGINT) stops the download: exit 130, complete files kept, the rest CANCELLED")
    func interrupt() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try writeURIList(
                (0..<3).map { ("mast:JWST/product/quick\($0).fits", 5_000, []) }
                    + (0..<10).map { ("mast:JWST/product/slow\($0).fits", 1_000_000, [.init(.stall(after: 10_000))]) },
                to: archive, at: folder.path + "/list.txt"
            )
            let haul = try HaulProcess(["download", "list.txt", "--dir", "out", "--archive", archive.url, "--progress", "none"], in: folder.path)
            // Wait until every transfer has started and the quick files are in place.
            let quickDone = { (0..<3).filter { fileExists(folder.path + "/out/JWST/product/quick\($0).fits") }.count }
            try await waitUntil("13 requests and 3 quick files", seen: { "\(archive.statistics.requests) requests, \(quickDone()) files" }) {
                archive.statistics.requests >= 13 && quickDone() == 3
            }
            kill(haul.pid, SIGINT)
            let status = await haul.wait(timeout: .seconds(30))
            #expect(status == 130, "\(haul.stderr)")
            let csv = try String(contentsOfFile: folder.path + "/out/manifest.csv", encoding: .utf8)
            let statuses = csv.split(separator: "\r\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false)[3] }
            #expect(statuses == Array(repeating: "OK", count: 3) + Array(repeating: "CANCELLED", count: 10))
            #expect(listing(folder.path + "/out") == ["JWST/", "JWST/product/", "JWST/product/quick0.fits", "JWST/product/quick1.fits", "JWST/product/quick2.fits", "manifest.csv", "manifest.html"])
            #expect(haul.stderr.contains("10 CANCELLED"))
        }
    }

    @Test("A second Ctrl-C ends at once a stop that cannot finish (a pipe nobody reads), exit 130; the re-run completes the bundle", .prompt)
    func secondInterrupt() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try writeURIList(
                (0..<8).map { ("mast:JWST/product/quick\($0).fits", 100_000, []) }
                    + (0..<4).map { ("mast:JWST/product/slow\($0).fits", 1_000_000, [.init(.stall(after: 10_000), times: 1)]) },
                to: archive, at: folder.path + "/list.txt"
            )
            // Standard output is a pipe whose reader never reads: once its 64 KiB buffer is full, the
            // bundle cannot be written, so the graceful stop the first Ctrl-C starts cannot finish.
            let fifo = folder.path + "/pipe"
            #expect(mkfifo(fifo, 0o600) == 0)
            let reader = open(fifo, O_RDONLY | O_NONBLOCK)
            #expect(reader >= 0)
            defer { close(reader) }
            let haul = try Spawned(
                haulExecutable, ["download", "list.txt", "--zip", "-", "--compression", "store", "--archive", archive.url, "--progress", "none", "--stall-timeout", "60"],
                environment: environment(["HAUL_ARCHIVE": nil, "MAST_API_TOKEN": nil]), directory: folder.path,
                stdout: .file(fifo), stderr: .file(folder.path + "/stderr")
            )
            func stderr() -> String { (try? String(contentsOfFile: folder.path + "/stderr", encoding: .utf8)) ?? "" }
            // Every quick file sent: 800 kB of complete entries to write, more than the pipe holds; and the
            // pipe full, so haul is certainly blocked on it (on a busy machine it may lag behind the archive).
            func queued() -> Int32 {
                var n: Int32 = 0
                return ioctl(reader, UInt(FIONREAD), &n) == 0 ? n : -1
            }
            try await waitUntil("12 requests, the quick files sent and the pipe full", seen: { "\(archive.statistics.requests) requests, \(archive.statistics.bytesSent) bytes, \(queued()) bytes in the pipe" }) {
                archive.statistics.requests >= 12 && archive.statistics.bytesSent >= 800_000 && queued() >= 60_000
            }
            kill(haul.pid, SIGINT)
            try await waitUntil("the first Ctrl-C to be noticed", seen: stderr) { stderr().contains("interrupted: stopping transfers") || haul.poll() != nil }
            // Still running: the stop waits on the pipe.
            try await Task.sleep(for: .seconds(1))
            #expect(haul.poll() == nil, "the first Ctrl-C ended the process: \(stderr())")
            kill(haul.pid, SIGINT)
            let (status, timedOut) = await haul.wait(timeout: .seconds(10))
            #expect(!timedOut, "a second Ctrl-C did not end the process within 10 s")
            #expect(status == 130, "\(stderr())")

            // The same download into a file afterwards is complete and valid.
            let rerun = try await runHaul(["download", "list.txt", "--zip", "out.zip", "--archive", archive.url, "--progress", "none"], in: folder.path)
            #expect(rerun.status == 0, "\(rerun.stderr)")
            let names = (0..<8).map { "out/JWST/product/quick\($0).fits" } + (0..<4).map { "out/JWST/product/slow\($0).fits" } + ["out/manifest.html", "out/manifest.csv"]
            #expect(try await readWithPython(folder.path + "/out.zip").names.sorted() == names.sorted())
        }
    }

    @Test("haul demo downloads the sample's recommended set from the loopback archive into a ZIP")
    func demo() async throws {
        let folder = TemporaryFolder()
        let run = try await runHaul(["demo", "--dir", "demo", "--progress", "none", "--scale", "0.1"], in: folder.path)
        #expect(run.status == 0, "\(run.stderr)")
        let reading = try await readWithPython(folder.path + "/demo/recommended.zip", extractTo: folder.path + "/x")
        #expect(reading.entries.count == 206)
        #expect(reading.names.suffix(2) == ["recommended/manifest.html", "recommended/manifest.csv"])
        let csv = try String(contentsOfFile: folder.path + "/x/recommended/manifest.csv", encoding: .utf8)
        let rows = csv.split(separator: "\r\n").dropFirst()
        #expect(rows.filter { $0.contains(",OK,") }.count == 204)
        #expect(rows.filter { $0.contains(",EXCLUDED: exclusive access needs a token,") }.count == 6)
        #expect(run.stderr.contains("haul: 204 files OK, 6 excluded"))
        #expect(fileExists(folder.path + "/demo/catalog.json"))
    }
}
