import CZlib
import Foundation
import Haul
import HaulArchive
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One way of writing a bundle.
struct ZipCase: CustomTestStringConvertible, Sendable {
    var compression: DownloadTarget.Compression.Mode
    var pipe: Bool
    var layout: Plan.Layout
    var testDescription: String { "\(compression.rawValue), \(pipe ? "pipe" : "file"), \(layout.rawValue)" }

    static let all: [ZipCase] = DownloadTarget.Compression.Mode.allCases.flatMap { mode in
        [false, true].flatMap { pipe in Plan.Layout.allCases.map { ZipCase(compression: mode, pipe: pipe, layout: $0) } }
    }
}

/// Products shaped like a JWST listing: a compressible image, an association file shared by two
/// observations (a duplicate), a file larger than an entry's in-memory share (it spills), an empty
/// file, an already-compressed `.fz`, random bytes under a neutral name, a non-ASCII name, a file the
/// archive does not have, and two different URIs with one name (renamed in the flat layout).
func zipFixture(_ archive: TestArchive) -> [Product] {
    let products = [
        product("jw01_cal.fits", dataset: "obs1", size: 300_000),
        product("jw01_pool_asn.json", dataset: "obs1", size: 5_000),
        product("jw02_cal.fits", dataset: "obs2", size: 3_000_000),
        Product(uri: "mast:JWST/product/jw01_pool_asn.json", filename: "jw01_pool_asn.json", dataset: "obs2", mission: "JWST", size: 5_000),
        product("empty.txt", dataset: "obs2", size: 0),
        product("jw02_i2d.fits.fz", dataset: "obs2", size: 200_000),
        product("noise.dat", dataset: "obs3", size: 400_000),
        product("Ωmega_ñ_日本_🔭.fits", dataset: "obs3", size: 50_000),
        product("missing.fits", dataset: "obs3", size: 10_000),
        Product(uri: "mast:JWST/product/obs1/x.fits", filename: "x.fits", dataset: "obs1", mission: "JWST", size: 7_000),
        Product(uri: "mast:JWST/product/obs2/x.fits", filename: "x.fits", dataset: "obs2", mission: "JWST", size: 9_000),
    ]
    for p in products where p.filename != "missing.fits" {
        let random = p.filename.hasSuffix(".fz") || p.filename == "noise.dat"
        archive.add(uri: p.uri, size: p.size!, content: random ? .random : .fits)
    }
    archive.add(uri: "mast:JWST/product/missing.fits", size: 10_000, faults: [.init(.status(404))])
    return products
}

/// Downloads a plan into a ZIP file, or through a real pipe into a file.
func downloadZip(
    _ plan: Plan, to path: String, compression: DownloadTarget.Compression, pipe: Bool = false, configuration: Configuration = testConfiguration()
) async throws -> DownloadReport {
    try await withEngine(configuration) { engine in
        if pipe {
            let collector = PipeCollector(into: path)
            let report = try await engine.download(plan, to: .zipStream(FileDescriptorStream(fd: collector.writeEnd, name: "pipe"), compression))
            collector.finish()
            return report
        }
        return try await engine.download(plan, to: .zip(path, compression))
    }
}

func zipPlan(_ products: [Product], archive: TestArchive, root: String = "bundle", layout: Plan.Layout = .nested) throws -> Plan {
    Plan(products: products, selection: Selection(quick: .all), layout: layout, root: root, resolver: try URLResolver(archive: archive.url))
}

@Suite("ZIP bundle")
struct ZipTests {
    @Test("Every reader accepts the archive and finds exact bytes", arguments: ZipCase.all)
    func readersAgree(_ c: ZipCase) async throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/out.zip"
        try await withTestArchive { archive in
            let products = zipFixture(archive)
            let plan = try zipPlan(products, archive: archive, layout: c.layout)
            var configuration = testConfiguration(parallel: 8)
            // A small budget: the 3 MB file goes through a spool file (copy_file_range or sendfile).
            configuration.memoryLimit = 4 << 20
            let report = try await downloadZip(plan, to: path, compression: DownloadTarget.Compression(c.compression), pipe: c.pipe, configuration: configuration)
            #expect(report.exitStatus == 1)
            #expect(report.ok == 9)
            #expect(report.failed == 1)
            #expect(report.duplicates == 1)
            #expect(report.status("mast:JWST/product/missing.fits") == "FAILED: HTTP 404")
            #expect(!fileExists(path + ".haul-part"))

            let x2 = c.layout == .nested ? "bundle/obs2/x.fits" : "bundle/x (2).fits"
            func name(_ p: Product) -> String { c.layout == .nested ? "bundle/\(p.dataset)/\(p.filename)" : "bundle/\(p.filename)" }
            let expected = products.filter { $0.filename != "missing.fits" && !($0.dataset == "obs2" && $0.filename == "jw01_pool_asn.json") }
            let names = expected.map { $0.uri == "mast:JWST/product/obs2/x.fits" ? x2 : name($0) } + ["bundle/manifest.html", "bundle/manifest.csv"]

            let extracted = folder.path + "/extracted"
            let reading = try await readWithPython(path, extractTo: extracted)
            // Catalog order in the central directory, the manifests last.
            #expect(reading.names == names)
            for (p, entryName) in zip(expected, names) {
                #expect(Bytes(readBytes(extracted + "/" + entryName)) == Bytes(archive.content(of: p.uri)), "\(entryName)")
                let entry = try #require(reading.entry(entryName))
                #expect(entry.flags & 0x800 != 0, "UTF-8 flag")
                #expect(entry.mtime == archive.lastModified(of: p.uri))
                // No ZIP64 extra in a small entry. A stored entry written in place into a file (one bigger than
                // its in-memory share) also has Haul's region marker, set to whole (1).
                let placed = !c.pipe && entry.method == 0 && entry.localExtras.contains(0x4C48)
                #expect(entry.localExtras == (placed ? [0x5455, 0x4C48] : [0x5455]), "\(entryName): \(entry.localExtras)")
                let compressible = p.filename.hasSuffix(".fits") || p.filename.hasSuffix(".json")
                switch c.compression {
                case .store: #expect(entry.method == 0)
                case .deflate: #expect(entry.method == 8)
                case .auto: #expect(entry.method == (compressible ? 8 : 0), "\(entryName)")
                }
                if entry.method == 8 && compressible && p.size! > 10_000 {
                    #expect(Double(entry.compressedSize) < 0.9 * Double(entry.size))
                }
            }
            // The manifest inside the bundle is the report's.
            let csv = try String(contentsOfFile: extracted + "/bundle/manifest.csv", encoding: .utf8)
            #expect(csv == report.manifest.csv())
            #expect(csv.contains(",FAILED: HTTP 404,"))
            #expect(csv.contains(",Duplicate of file jw01_pool_asn.json in folder obs1,"))
            try await checkWithReaders(path, names: names)
        }
    }

    @Test("haul download --zip - streams to a pipe that bsdtar reads as it comes; JSON progress moves to standard error")
    func commandLinePipe() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try writeURIList((0..<40).map { ("mast:HST/product/f\($0)_flt.fits", Int64(1_000 + $0 * 20_000), []) }, to: archive, at: folder.path + "/list.txt")
            let command = "'\(haulExecutable)' download list.txt --zip - --archive \(archive.url) --progress json 2>events.jsonl"
            let listed = try await runTool("sh", ["-c", "cd '\(folder.path)' && \(command) | bsdtar -tf - > names.txt && \(command) | cat > copy.zip"])
            #expect(listed.status == 0, "\(listed.output)")
            let names = try String(contentsOfFile: folder.path + "/names.txt", encoding: .utf8).split(separator: "\n").map(String.init)
            let expected = (0..<40).map { "list/HST/product/f\($0)_flt.fits" } + ["list/manifest.html", "list/manifest.csv"]
            #expect(names.sorted() == expected.sorted())
            let reading = try await readWithPython(folder.path + "/copy.zip")
            #expect(reading.names == expected)
            let events = try String(contentsOfFile: folder.path + "/events.jsonl", encoding: .utf8)
            #expect(events.contains("\"event\":\"summary\""))
            try await checkWithReaders(folder.path + "/copy.zip", names: expected)

            // A reader that goes away: a clear error and exit 1, not a hang or a crash.
            let broken = try await runTool("bash", ["-c", "cd '\(folder.path)' && '\(haulExecutable)' download list.txt --zip - --archive \(archive.url) --progress none 2>err.txt | head -c 100 >/dev/null; echo \"status ${PIPESTATUS[0]}\""])
            #expect(broken.output.contains("status 1"), "\(broken.output)")
            let error = try String(contentsOfFile: folder.path + "/err.txt", encoding: .utf8)
            #expect(error.contains("haul: error: cannot write standard output: the reader went away (broken pipe)"), "\(error)")
        }
    }

    @Test("An entry over 4 GiB gets ZIP64 fields in both headers, version 4.5, and every reader checks it", .heavy, arguments: [
        ZipCase(compression: .store, pipe: false, layout: .nested),
        // Deflated through a pipe: 4 GiB in, a compressed size under 4 GiB, ZIP64 still.
        ZipCase(compression: .deflate, pipe: true, layout: .nested),
    ])
    func zip64Entry(_ c: ZipCase) async throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/big.zip"
        let size: Int64 = (4 << 30) + 123_457
        try await withTestArchive(threads: 2) { archive in
            let products = [product("small_a.fits", dataset: "o", size: 10_000), product("huge_cal.fits", dataset: "o", size: size), product("small_b.fits", dataset: "o", size: 20_000)]
            for p in products { archive.add(uri: p.uri, size: p.size!) }
            let report = try await downloadZip(
                try zipPlan(products, archive: archive), to: path, compression: DownloadTarget.Compression(c.compression, level: 1), pipe: c.pipe,
                configuration: testConfiguration(stall: .seconds(60))
            )
            #expect(report.exitStatus == 0)
            #expect(report.peakBufferedBytes <= 128 << 20)
            let reading = try await readWithPython(path)
            let huge = try #require(reading.entry("bundle/o/huge_cal.fits"))
            #expect(huge.size == UInt64(size))
            #expect(huge.method == (c.compression == .store ? 0 : 8))
            #expect(huge.localVersion == 45)
            #expect(huge.localExtras.contains(1))
            #expect(huge.localZip64 == [UInt64(size), huge.compressedSize])
            // The expected CRC, from the archive's own bytes.
            var crc: uLong = 0
            ArchiveContent(uri: products[1].uri, size: size).forEachSlice(0..<size) { crc = czlib_crc32(crc, $0.baseAddress, $0.count) }
            #expect(huge.crc == UInt32(crc))
            let after = reading.entry("bundle/o/small_b.fits")
            if c.compression == .store {
                #expect(huge.compressedSize == UInt64(size))
                // The entry after it has an offset past 4 GiB: ZIP64 in the central directory only.
                #expect(after?.localVersion == 10)
                #expect(after?.localZip64 == nil)
                #expect(reading.hasZip64End)
            } else {
                // Deflated (to about 0.79) the archive stays under 4 GiB: the huge entry needs ZIP64 in
                // both its headers (its size is past 4 GiB, its compressed size under), nothing else does.
                #expect(huge.compressedSize < UInt64(UInt32.max) && huge.compressedSize > 0)
                #expect(after?.localVersion == 20)
                #expect(after?.localZip64 == nil)
                #expect(!reading.hasZip64End)
            }
            try await checkWithReaders(path, names: reading.names)
        }
    }

    @Test("More than 65,535 entries: ZIP64 end records, and every reader counts them all", .heavy)
    func manyEntries() async throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/many.zip"
        let count = 66_000
        try await withTestArchive(threads: 2) { archive in
            var products: [Product] = []
            products.reserveCapacity(count)
            for i in 0..<count {
                let p = product("f\(i).txt", dataset: "d\(i % 100)", size: Int64(i % 7))
                archive.add(uri: p.uri, size: p.size!)
                products.append(p)
            }
            let report = try await downloadZip(try zipPlan(products, archive: archive), to: path, compression: DownloadTarget.Compression(.auto), configuration: testConfiguration(parallel: 64))
            #expect(report.ok == count, "\(report.manifest.rows.filter { $0.status != .ok }.prefix(5).map { "\($0.file): \($0.statusText)" })")
            let reading = try await readWithPython(path)
            #expect(reading.entries.count == count + 2)
            #expect(reading.endRecordCount == 0xFFFF)
            #expect(reading.hasZip64End)
            #expect(Set(reading.names).count == count + 2)
            try await checkWithReaders(path, names: reading.names)
            // The manifests are made a MiB of text at a time (here several MiB each): whole, row for row.
            let csv = try await runTool("unzip", ["-p", path, "bundle/manifest.csv"])
            // Rows end in CRLF, which Swift reads as one Character: split the bytes.
            let lines = csv.output.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            #expect(csv.status == 0 && csv.output.utf8.count > 2 << 20, "\(csv.output.utf8.count) bytes")
            #expect(lines.count == count + 2 && lines.last?.isEmpty == true, "\(lines.count) lines")
            #expect(lines.dropFirst().dropLast().allSatisfy { String(decoding: $0, as: UTF8.self).contains(",OK,") }, "every row OK")
            let html = try await runTool("unzip", ["-p", path, "bundle/manifest.html"])
            #expect(html.output.utf8.count > 2 << 20 && html.output.hasSuffix("</html>\n"))
        }
    }

    /// 30 quick files and 5 slow ones for the interruption tests, listed in `folder/list.txt`.
    static func interruptionCatalog(_ archive: TestArchive, in folder: String, slow: TestArchive.Fault) throws -> (quick: [String], slow: [String]) {
        let uris = try writeURIList(
            (0..<30).map { ("mast:JWST/product/q\($0)_cal.fits", 20_000 + Int64($0) * 1_000, []) }
                + (0..<5).map { ("mast:JWST/product/s\($0)_cal.fits", 200_000, [slow]) },
            to: archive, at: folder + "/list.txt"
        )
        return (Array(uris.prefix(30)), Array(uris.suffix(5)))
    }

    /// Waits until the archive has seen `requests` requests and the bundle being written holds at
    /// least `bytes`; fails the test, saying what it saw, after 60 seconds.
    static func waitForPart(_ path: String, bytes: Int, archive: TestArchive, requests: Int) async throws {
        func size() -> Int {
            var st = stat()
            return stat(path, &st) == 0 ? Int(st.st_size) : -1
        }
        try await waitUntil(
            "\(requests) requests and \(bytes) bytes in \(path)",
            seen: { "\(archive.statistics.requests) requests, \(size()) bytes" }
        ) { archive.statistics.requests >= requests && size() >= bytes }
        try await Task.sleep(for: .milliseconds(300))
    }

    @Test("Ctrl-C finishes a valid archive with what is complete, the rest CANCELLED, exit 130", .prompt)
    func interrupt() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let (quick, slow) = try Self.interruptionCatalog(archive, in: folder.path, slow: .init(.stall(after: 10_000)))
            let haul = try HaulProcess(["download", "list.txt", "--zip", "out.zip", "--compression", "store", "--archive", archive.url, "--progress", "none", "--stall-timeout", "60"], in: folder.path)
            try await Self.waitForPart(folder.path + "/out.zip.haul-part", bytes: 30 * 20_000 + 435_000, archive: archive, requests: 35)
            kill(haul.pid, SIGINT)
            let status = await haul.wait(timeout: .seconds(30))
            #expect(status == 130, "\(haul.stderr)")
            #expect(!fileExists(folder.path + "/out.zip.haul-part"))
            let reading = try await readWithPython(folder.path + "/out.zip", extractTo: folder.path + "/x")
            let names = quick.map { "out/JWST/product/" + $0.dropFirst("mast:JWST/product/".count) } + ["out/manifest.html", "out/manifest.csv"]
            #expect(reading.names == names)
            let csv = try String(contentsOfFile: folder.path + "/x/out/manifest.csv", encoding: .utf8)
            let statuses = csv.split(separator: "\r\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false)[3] }
            #expect(statuses == Array(repeating: "OK", count: quick.count) + Array(repeating: "CANCELLED", count: slow.count))
            try await checkWithReaders(folder.path + "/out.zip", names: names)
        }
    }

    @Test("kill -9 mid-run, then the same command: the archive an uninterrupted run gives, complete entries not fetched again", .prompt)
    func killAndResume() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            // The slow files are held the first time only (headers sent, body never), so they are still
            // running when the process is killed, however slow the machine.
            let (quick, slow) = try Self.interruptionCatalog(archive, in: folder.path, slow: .init(.hold, times: 1))
            // A stall limit past any wait of the test's, so the held files stay held until the kill.
            let arguments = ["download", "list.txt", "--zip", "out.zip", "--archive", archive.url, "--progress", "none", "--stall-timeout", "600"]
            let haul = try HaulProcess(arguments, in: folder.path)
            // Deflated entries are smaller than the files: wait for most of the quick ones' bytes.
            try await Self.waitForPart(folder.path + "/out.zip.haul-part", bytes: 30 * 20_000 / 2, archive: archive, requests: 35)
            kill(haul.pid, SIGKILL)
            _ = await haul.wait()
            #expect(fileExists(folder.path + "/out.zip.haul-part"))
            #expect(!fileExists(folder.path + "/out.zip"))

            let rerun = try await runHaul(arguments, in: folder.path)
            #expect(rerun.status == 0, "\(rerun.stderr)")
            #expect(!fileExists(folder.path + "/out.zip.haul-part"))
            let requests = (quick + slow).map { archive.requests(for: $0) }
            let resumed = try await readWithPython(folder.path + "/out.zip", extractTo: folder.path + "/x")
            let csv = try String(contentsOfFile: folder.path + "/x/out/manifest.csv", encoding: .utf8)
            let kept = csv.split(separator: "\r\n").filter { $0.contains("already complete") }.count
            #expect(kept >= 10, "the run was killed before entries were complete: \(kept)")
            #expect(rerun.stderr.contains("(\(kept) already complete)"))
            // Complete entries were fetched once in all; the others twice.
            #expect(requests.filter { $0 == 1 }.count == kept)
            #expect(requests.filter { $0 == 2 }.count == quick.count + slow.count - kept)
            for uri in quick + slow {
                let name = "out/JWST/product/" + uri.dropFirst("mast:JWST/product/".count)
                #expect(Bytes(readBytes(folder.path + "/x/" + name)) == Bytes(archive.content(of: uri)))
            }

            // The uninterrupted run, for comparison.
            let whole = try await runHaul(arguments.map { $0 == "out.zip" ? "whole.zip" : $0 }, in: folder.path)
            #expect(whole.status == 0)
            let reference = try await readWithPython(folder.path + "/whole.zip")
            #expect(resumed.names == reference.names.map { $0.replacingOccurrences(of: "whole/", with: "out/") })
            #expect(resumed.entries.dropLast(2).map(\.crc) == reference.entries.dropLast(2).map(\.crc))
            #expect(resumed.entries.dropLast(2).map(\.size) == reference.entries.dropLast(2).map(\.size))
            try await checkWithReaders(folder.path + "/out.zip", names: resumed.names)
        }
    }

    @Test("A re-run keeps the complete entries of a cut-off archive, truncates the broken one, and fetches only the rest")
    func resumeAfterCrash() async throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/out.zip"
        try await withTestArchive { archive in
            let products = zipFixture(archive).filter { $0.filename != "missing.fits" }
            let plan = try zipPlan(products, archive: archive)
            let first = try await downloadZip(plan, to: folder.path + "/whole.zip", compression: DownloadTarget.Compression(.auto))
            #expect(first.exitStatus == 0)
            let whole = try await readWithPython(folder.path + "/whole.zip")
            // What a crash leaves: complete entries, then one cut in the middle, no central directory.
            // Entries lie in the order they completed; cut the fifth.
            let bytes = try #require(readBytes(folder.path + "/whole.zip"))
            let local = whole.entries.dropLast(2).map { ($0.name, offsetOf($0, in: bytes)) }.sorted { $0.1 < $1.1 }
            let (cutName, start) = local[4]
            // Cut halfway to the next entry: inside this one whatever its size (an empty file's entry is
            // shorter than a fixed cut of 100 bytes, which then fell in the next entry).
            let end = local.count > 5 ? local[5].1 : bytes.count
            try Data(bytes[0..<(start + (end - start) / 2)]).write(to: URL(fileURLWithPath: path + ".haul-part"))
            let before = products.map { archive.requests(for: $0.uri) }

            let again = try await downloadZip(plan, to: path, compression: DownloadTarget.Compression(.auto))
            #expect(again.exitStatus == 0)
            #expect(!fileExists(path + ".haul-part"))
            let resumed = try await readWithPython(path)
            #expect(resumed.names == whole.names)
            func crcs(_ r: ArchiveReading) -> [String: UInt32] {
                Dictionary(uniqueKeysWithValues: r.entries.filter { !$0.name.hasSuffix("/manifest.csv") && !$0.name.hasSuffix("/manifest.html") }.map { ($0.name, $0.crc) })
            }
            #expect(crcs(resumed) == crcs(whole))
            let after = products.map { archive.requests(for: $0.uri) }
            var kept = 0
            for (i, p) in products.enumerated() {
                let row = try #require(again.row(p.uri))
                guard p.dataset != "obs2" || p.filename != "jw01_pool_asn.json" else { continue }
                if row.note.contains("already complete") {
                    kept += 1
                    #expect(after[i] == before[i], "\(p.filename) was fetched again")
                } else {
                    #expect(after[i] == before[i] + 1, "\(p.filename)")
                }
            }
            // Everything written before the cut entry was kept; it and the later ones were fetched.
            #expect(kept == 4, "cut at \(cutName)")
            #expect(again.skipped == kept)
            try await checkWithReaders(path, names: resumed.names)

            // A finished archive run again: nothing is fetched, the manifests are rewritten.
            let third = try await downloadZip(plan, to: path, compression: DownloadTarget.Compression(.auto))
            #expect(third.skipped == third.ok)
            #expect(products.map { archive.requests(for: $0.uri) } == after)
            #expect(try await readWithPython(path).names == whole.names)
        }
    }
}

/// Where an entry's local header starts: found by its name after a local header signature.
func offsetOf(_ entry: ReadEntry, in bytes: [UInt8]) -> Int {
    let name = Array(entry.name.utf8)
    var i = 0
    while i + 30 + name.count <= bytes.count {
        if bytes[i] == 0x50, bytes[i + 1] == 0x4B, bytes[i + 2] == 3, bytes[i + 3] == 4 {
            let nameLength = Int(bytes[i + 26]) | Int(bytes[i + 27]) << 8
            if nameLength == name.count, Array(bytes[(i + 30)..<(i + 30 + nameLength)]) == name { return i }
        }
        i += 1
    }
    return -1
}
