import Foundation
import Haul
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to its end and returns its exit status and its output (standard output and error merged).
///
/// It waits without holding a thread: the tests run side by side on Swift's shared pool, which has one
/// thread per core, and two readers checking a 4 GiB archive while blocking their threads stopped every
/// other test (a download's event reader among them) for a minute on a two-core machine.
func runTool(_ tool: String, _ arguments: [String], stdin: String? = nil, timeout: Duration = .seconds(900)) async throws -> (status: Int32, output: String) {
    let output = NSTemporaryDirectory() + "/haul-tool-\(UUID().uuidString)"
    defer { unlink(output) }
    let child = try Spawned(
        "/usr/bin/env", [tool] + arguments, environment: ProcessInfo.processInfo.environment,
        stdin: stdin.map { .file($0) } ?? .null, stdout: .file(output), stderr: .standardOutput
    )
    let (status, timedOut) = await child.wait(timeout: timeout)
    let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    return (status, timedOut ? text + "\n(\(tool) killed after \(timeout))" : text)
}

/// ``runTool(_:_:stdin:timeout:)`` for a quick command where no task can wait: a `static let` or a
/// `deinit`. It holds its thread until the command ends.
func runToolBlocking(_ tool: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let output = NSTemporaryDirectory() + "/haul-tool-\(UUID().uuidString)"
    defer { unlink(output) }
    let child = try Spawned(
        "/usr/bin/env", [tool] + arguments, environment: ProcessInfo.processInfo.environment,
        stdout: .file(output), stderr: .standardOutput
    )
    let status = child.waitBlocking()
    return (status, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
}

/// An entry as Python's `zipfile` sees it, with what its local header says.
struct ReadEntry: Decodable, Hashable {
    var name: String
    var size: UInt64
    var compressedSize: UInt64
    var crc: UInt32
    var method: Int
    var flags: Int
    /// The local header's "version needed to extract".
    var localVersion: Int
    /// IDs of the local header's extra fields (1 = ZIP64, 0x5455 = extended timestamp).
    var localExtras: [Int]
    /// The local header's ZIP64 sizes, when it has them.
    var localZip64: [UInt64]?
    /// The extended timestamp's modification time (Unix seconds).
    var mtime: Int64?
    /// Where its local header starts.
    var offset: UInt64
}

/// What independent readers make of an archive.
struct ArchiveReading {
    var entries: [ReadEntry]
    /// The end of central directory record's entry count (0xFFFF when the ZIP64 record holds it).
    var endRecordCount: Int
    var hasZip64End: Bool
    /// Where the central directory starts: the end of the entries.
    var endOfEntries: UInt64

    var names: [String] { entries.map(\.name) }
    func entry(_ name: String) -> ReadEntry? { entries.first { $0.name == name } }
}

/// Python's zipfile: `testzip()` (every entry's CRC), the listing, the local headers; optionally every
/// entry extracted under `extractTo`.
func readWithPython(_ path: String, extractTo: String? = nil) async throws -> ArchiveReading {
    let script = #"""
import json, struct, sys, zipfile
path, out = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
with zipfile.ZipFile(path) as z:
    bad = z.testzip()
    if bad is not None:
        print("CRC error in", bad); sys.exit(3)
    entries = []
    with open(path, "rb") as f:
        for i in z.infolist():
            f.seek(i.header_offset)
            h = f.read(30)
            sig, ver, flags, method, t, d, crc, cs, us, nl, el = struct.unpack("<IHHHHHIIIHH", h)
            assert sig == 0x04034b50
            f.read(nl)
            extra = f.read(el)
            ids, zip64, p = [], None, 0
            while p + 4 <= len(extra):
                eid, size = struct.unpack("<HH", extra[p:p + 4])
                ids.append(eid)
                if eid == 1:
                    zip64 = list(struct.unpack("<QQ", extra[p + 4:p + 20]))
                p += 4 + size
            mtime, p = None, 0
            while p + 4 <= len(i.extra):
                eid, size = struct.unpack("<HH", i.extra[p:p + 4])
                if eid == 0x5455 and i.extra[p + 4] & 1:
                    mtime = struct.unpack("<i", i.extra[p + 5:p + 9])[0]
                p += 4 + size
            entries.append(dict(name=i.filename, size=i.file_size, compressedSize=i.compress_size, crc=i.CRC,
                                method=i.compress_type, flags=i.flag_bits, localVersion=ver, localExtras=ids,
                                localZip64=zip64, mtime=mtime, offset=i.header_offset))
    start = z.start_dir
    if out:
        z.extractall(out)
with open(path, "rb") as f:
    f.seek(-22, 2)
    end = f.read(22)
    assert end[:4] == b"PK\x05\x06", "no end record where expected"
    count = struct.unpack("<H", end[10:12])[0]
    f.seek(-42, 2)
    locator = f.read(4) == b"PK\x06\x07"
print(json.dumps(dict(entries=entries, endRecordCount=count, hasZip64End=locator, endOfEntries=start)))
"""#
    let run = try await runTool("python3", ["-c", script, path] + (extractTo.map { [$0] } ?? []))
    guard run.status == 0, let data = run.output.split(separator: "\n").last.map({ Data($0.utf8) }) else {
        Issue.record("python3 zipfile rejected \(path): \(run.output)")
        throw ReaderFailure()
    }
    return try JSONDecoder().decode(ArchiveReading.self, from: data)
}

extension ArchiveReading: Decodable {}

struct ReaderFailure: Error {}

/// Checks `path` with Info-ZIP `unzip -t` and `zipinfo`, libarchive's `bsdtar` (from the file, and
/// as a stream from standard input, which reads the local headers in order), and `7z t`: each must
/// accept it without a warning and list `names`.
func checkWithReaders(_ path: String, names: [String]) async throws {
    let unzip = try await runTool("unzip", ["-t", path])
    #expect(unzip.status == 0, "unzip -t: \(unzip.output.suffix(2000))")
    #expect(unzip.output.contains("No errors detected"), "unzip -t: \(unzip.output.suffix(2000))")
    #expect(!unzip.output.lowercased().contains("warning"), "unzip -t: \(unzip.output.suffix(2000))")

    let zipinfo = try await runTool("zipinfo", ["-t", path])
    #expect(zipinfo.status == 0, "zipinfo: \(zipinfo.output.suffix(2000))")
    #expect(zipinfo.output.hasPrefix("\(names.count) file"), "zipinfo: \(zipinfo.output.suffix(2000))")

    let bsdtar = try await runTool("bsdtar", ["-tf", path])
    #expect(bsdtar.status == 0, "bsdtar -tf: \(bsdtar.output.suffix(2000))")
    #expect(bsdtar.output.split(separator: "\n").map(String.init).sorted() == names.sorted())
    let streamed = try await runTool("bsdtar", ["-tf", "-"], stdin: path)
    #expect(streamed.status == 0, "bsdtar -tf - : \(streamed.output.suffix(2000))")
    #expect(streamed.output.split(separator: "\n").map(String.init).sorted() == names.sorted())

    let sevenZip = try await runTool("7z", ["t", path])
    #expect(sevenZip.status == 0, "7z t: \(sevenZip.output.suffix(2000))")
    #expect(sevenZip.output.contains("Everything is Ok"), "7z t: \(sevenZip.output.suffix(2000))")
    #expect(!sevenZip.output.contains("WARNING") && !sevenZip.output.contains("Warnings"), "7z t: \(sevenZip.output.suffix(2000))")
}

/// Collects what is written to a pipe into a file on a thread of its own: a real non-seekable output.
final class PipeCollector: @unchecked Sendable {
    let writeEnd: Int32
    private let readEnd: Int32
    private let thread: Thread
    private let done = DispatchSemaphore(value: 0)

    init(into path: String) {
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0)
        readEnd = fds[0]
        writeEnd = fds[1]
        let readEnd = fds[0]
        let done = self.done
        let out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(out >= 0)
        thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                _ = buffer.withUnsafeBytes { write(out, $0.baseAddress, n) }
            }
            close(out)
            close(readEnd)
            done.signal()
        }
        thread.start()
    }

    /// Closes the write end and waits for every byte to land in the file.
    func finish() {
        close(writeEnd)
        done.wait()
    }
}
