import Foundation
@testable import Haul
import HaulArchive
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Each entry's local header offset and Haul's region marker (nil when the header has none), as
/// Python's `zipfile` finds the headers from the central directory.
func regionMarkers(_ path: String) async throws -> [String: Int?] {
    let script = #"""
import struct, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[1], "rb") as f:
    for i in z.infolist():
        f.seek(i.header_offset)
        h = f.read(30)
        n, e = struct.unpack("<HH", h[26:30])
        f.seek(i.header_offset + 30 + n)
        extra = f.read(e)
        marker = "none"
        p = 0
        while p + 4 <= len(extra):
            hid, size = struct.unpack("<HH", extra[p:p+4])
            if hid == 0x4C48 and size == 1:
                marker = str(extra[p+4])
            p += 4 + size
        print(marker, i.filename)
"""#
    let listed = try await runTool("python3", ["-c", script, path])
    #expect(listed.status == 0, "\(listed.output.suffix(1500))")
    var markers: [String: Int?] = [:]
    for line in listed.output.split(separator: "\n") {
        let parts = line.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { continue }
        markers[String(parts[1])] = Int(parts[0])
    }
    return markers
}

@Suite("ZIP: big stored entries written in place")
struct PlacementTests {
    /// A configuration whose in-memory share per entry is small (128 KiB), so 2 MB files are placed.
    static func configuration() -> Configuration {
        var c = testConfiguration(parallel: 8, retries: 1)
        c.memoryLimit = Configuration.minimumMemoryLimit
        c.watchdog = .init(after: .seconds(20), action: .fail)
        return c
    }

    @Test("A stored entry bigger than its share goes straight to its place: marked whole, exact, every reader agrees")
    func placed() async throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/out.zip"
        try await withTestArchive { archive in
            let products = (0..<6).map { product("big\($0).fits", dataset: "p", size: 2_000_000 + Int64($0)) }
                + (0..<6).map { product("small\($0).fits", dataset: "p", size: 5_000) }
            for p in products { archive.add(uri: p.uri, size: p.size!, content: .mixed) }
            let report = try await downloadZip(try zipPlan(products, archive: archive), to: path, compression: DownloadTarget.Compression(.store), configuration: Self.configuration())
            #expect(report.ok == 12)
            let markers = try await regionMarkers(path)
            for i in 0..<6 {
                #expect(markers["bundle/p/big\(i).fits"] == .some(1), "big\(i): \(String(describing: markers["bundle/p/big\(i).fits"]))")
                #expect(markers["bundle/p/small\(i).fits"] == .some(nil), "small files are staged and appended whole")
            }
            let reading = try await readWithPython(path, extractTo: folder.path + "/x")
            for p in products { #expect(Bytes(readBytes(folder.path + "/x/bundle/p/" + p.filename)) == Bytes(archive.content(of: p.uri)), "\(p.filename)") }
            try await checkWithReaders(path, names: reading.names)
        }
    }

    @Test("A placed entry that fails in the middle of the archive leaves no hole: the others move down over it")
    func failedRegionCompacted() async throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/out.zip"
        try await withTestArchive { archive in
            // The broken file's region is reserved early and never completes; the others finish after it.
            let broken = product("broken.fits", dataset: "p", size: 3_000_000)
            archive.add(uri: broken.uri, size: 3_000_000, faults: [.init(.closeAfter(1_000_000))], content: .mixed)
            let others = (0..<5).map { product("ok\($0).fits", dataset: "p", size: 1_500_000 + Int64($0) * 1000) }
                + (0..<5).map { product("tiny\($0).fits", dataset: "p", size: 3_000) }
            for p in others { archive.add(uri: p.uri, size: p.size!, content: .ramp) }
            let report = try await downloadZip(try zipPlan([broken] + others, archive: archive), to: path, compression: DownloadTarget.Compression(.store), configuration: Self.configuration())
            #expect(report.ok == 10)
            #expect(report.failed == 1)
            #expect(report.status(broken.uri)?.hasPrefix("FAILED") == true)
            let reading = try await readWithPython(path, extractTo: folder.path + "/x")
            #expect(reading.names == others.map { "bundle/p/" + $0.filename } + ["bundle/manifest.html", "bundle/manifest.csv"])
            for p in others { #expect(Bytes(readBytes(folder.path + "/x/bundle/p/" + p.filename)) == Bytes(archive.content(of: p.uri)), "\(p.filename)") }
            // The entries follow each other with nothing between, as bsdtar reading the stream (in
            // checkWithReaders) requires: the first local header at 0, the directory right after the last entry.
            let layout = try await runTool("python3", ["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); l = z.infolist(); print(min(i.header_offset for i in l), z.start_dir == max(i.header_offset for i in l) + 30 + len(l[-1].filename.encode()) + len(l[-1].extra) + l[-1].compress_size)", path])
            #expect(layout.output.trimmingCharacters(in: .whitespacesAndNewlines) == "0 True", "\(layout.output)")
            try await checkWithReaders(path, names: reading.names)
        }
    }

    @Test("kill -9 while placed entries are arriving: the next run skips their regions and keeps every complete entry after them", .prompt)
    func killWithRegions() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            // Four big files reach half their bytes and stall (their regions stay marked as arriving);
            // thirty small ones complete after them.
            let slow = (0..<4).map { "mast:JWST/product/slow\($0).fits" }
            let quick = (0..<30).map { "mast:JWST/product/q\($0).fits" }
            for uri in slow { archive.add(uri: uri, size: 1_000_000, faults: [.init(.stall(after: 500_000), times: 1)], content: .random) }
            for uri in quick { archive.add(uri: uri, size: 20_000 + Int64(quick.firstIndex(of: uri)!)) }
            try (slow + quick).map { $0 + "\n" }.joined().write(toFile: folder.path + "/list.txt", atomically: true, encoding: .utf8)
            let arguments = ["download", "list.txt", "--zip", "out.zip", "--compression", "store", "--memory-limit", "4", "--parallel", "8",
                             "--archive", archive.url, "--progress", "none", "--stall-timeout", "600"]
            let haul = try HaulProcess(arguments, in: folder.path)
            func partSize() -> Int {
                var st = stat()
                return stat(folder.path + "/out.zip.haul-part", &st) == 0 ? Int(st.st_size) : -1
            }
            // The small files' bodies all sent (bytesSent counts finished responses), and the part file past
            // the four regions: small entries were appended after them.
            try await waitUntil("34 requests, the small files sent and appended after the regions", seen: { "\(archive.statistics.requests) requests, \(archive.statistics.bytesSent) bytes sent, part file \(partSize()) bytes" }) {
                archive.statistics.requests >= 34 && archive.statistics.bytesSent >= 30 * 20_000 && partSize() >= 4_000_000 + 25 * 20_000
            }
            try await Task.sleep(for: .milliseconds(500))
            kill(haul.pid, SIGKILL)
            _ = await haul.wait()
            #expect(fileExists(folder.path + "/out.zip.haul-part"))

            let rerun = try await runHaul(arguments, in: folder.path)
            #expect(rerun.status == 0, "\(rerun.stderr)")
            let kept = quick.filter { archive.requests(for: $0) == 1 }.count
            // Every small file that was complete before the kill is kept, though regions lie before them.
            #expect(kept >= 25, "only \(kept) of 30 complete small files were kept: \(rerun.stderr)")
            #expect(slow.allSatisfy { archive.requests(for: $0) == 2 })
            let reading = try await readWithPython(folder.path + "/out.zip", extractTo: folder.path + "/x")
            for uri in slow + quick {
                let name = "out/JWST/product/" + uri.dropFirst("mast:JWST/product/".count)
                #expect(Bytes(readBytes(folder.path + "/x/" + name)) == Bytes(archive.content(of: uri)), "\(name)")
            }
            try await checkWithReaders(folder.path + "/out.zip", names: reading.names)
        }
    }
}
