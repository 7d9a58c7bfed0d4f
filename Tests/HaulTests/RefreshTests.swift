import Foundation
import Haul
import HaulArchive
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("URL lists: line ends, one URL a line, paths under their host")
struct URLListTests {
    @Test("A list with CRLF line ends reads as the same list with LF, origins included")
    func crlf() throws {
        let lf = "# two files\nhttp://h.example/a/f.fits\n\nmast:HST/product/x_flt.fits\n"
        let crlf = lf.replacingOccurrences(of: "\n", with: "\r\n")
        let a = try Catalog.parse(Data(lf.utf8), name: "list.txt")
        let b = try Catalog.parse(Data(crlf.utf8), name: "list.txt")
        #expect(b.map(\.uri) == ["http://h.example/a/f.fits", "mast:HST/product/x_flt.fits"])
        #expect(b.map(\.uri) == a.map(\.uri))
        #expect(b.map(\.filename) == ["f.fits", "x_flt.fits"])
        #expect(b.map(\.origin) == ["list.txt:2", "list.txt:4"])
    }

    @Test("Two URLs on one line are an error at parse time naming the line", arguments: [
        ("http://h/a/f.fits\nhttp://h/a/g.fits http://h/a/k.fits\n", "list.txt:2: more than one URI or URL on the line (a second starts at column 19): expected one a line"),
        ("mast:HST/product/a.fits,mast:HST/product/b.fits\r\n", "list.txt:1: more than one URI or URL on the line (a second starts at column 25): expected one a line"),
        ("# x\n\n  https://h/f.fits\thttps://h/g.fits  \n", "list.txt:3: more than one URI or URL on the line (a second starts at column 20): expected one a line"),
    ])
    func twoOnALine(text: String, message: String) throws {
        do {
            _ = try Catalog.parse(Data(text.utf8), name: "list.txt")
            Issue.record("no error for \(text.debugDescription)")
        } catch let error as HaulError {
            #expect(error.code == .invalidCatalog)
            #expect(error.message == message)
        }
    }

    @Test("The nested layout keeps a URL's path under its host: no rename for one name in two folders")
    func nestedKeepsPath() throws {
        let products = try Catalog.parse(Data("http://h/a/f.fits\nhttp://h/b/f.fits\nhttps://h/f.fits\n".utf8), name: "list.txt")
        #expect(products.map(\.dataset) == ["h/a", "h/b", "h"])
        let plan = Plan(products: products, selection: Selection(quick: .all), layout: .nested, root: "out", resolver: try URLResolver())
        #expect(plan.entries.map(\.path) == ["h/a/f.fits", "h/b/f.fits", "h/f.fits"])
        #expect(plan.entries.map(\.renamedFrom) == [nil, nil, nil])
        // A MAST download URL still names its product's folder.
        let mast = try Catalog.parse(Data("https://mast.stsci.edu/api/v0.1/Download/file?uri=mast:HST/product/x_flt.fits\n".utf8), name: "l")
        #expect(mast.map(\.dataset) == ["HST/product"])
    }
}

/// What Python's `csv` reads in a manifest, and the CRC-32 and HTTP date it computes itself.
private func manifestRows(_ csvPath: String) async throws -> [[String: String]] {
    let run = try await runTool("python3", ["-c", """
        import csv, json, sys
        with open(sys.argv[1], newline="", encoding="utf-8") as f:
            print(json.dumps(list(csv.DictReader(f))))
        """, csvPath])
    #expect(run.status == 0, "\(run.output)")
    return try JSONDecoder().decode([[String: String]].self, from: Data(run.output.utf8))
}

private func pythonCRC32(_ path: String) async throws -> String {
    try await runTool("python3", ["-c", "import sys, zlib; print('%08x' % zlib.crc32(open(sys.argv[1], 'rb').read()))", path])
        .output.trimmingCharacters(in: .whitespacesAndNewlines)
}

private func pythonHTTPDate(_ seconds: Int64) async throws -> String {
    try await runTool("python3", ["-c", "import sys, email.utils; print(email.utils.formatdate(int(sys.argv[1]), usegmt=True))", String(seconds)])
        .output.trimmingCharacters(in: .whitespacesAndNewlines)
}

@Suite("Changed files: the manifest's validators, zero-request re-runs, --refresh")
struct RefreshTests {
    /// What a run asked the archive.
    struct Requests: Equatable, CustomStringConvertible {
        var requests = 0, conditional = 0, notModified = 0, full = 0
        init(_ a: TestArchive.Statistics, since b: TestArchive.Statistics) {
            requests = a.requests - b.requests
            conditional = a.conditionalRequests - b.conditionalRequests
            notModified = a.notModified - b.notModified
            full = a.fullResponses - b.fullResponses
        }
        init(requests: Int, conditional: Int, notModified: Int, full: Int) {
            (self.requests, self.conditional, self.notModified, self.full) = (requests, conditional, notModified, full)
        }
        var description: String { "\(requests) requests, \(conditional) conditional, \(notModified) answered 304, \(full) answered 200" }
    }

    func run(_ plan: Plan, _ target: DownloadTarget, archive: TestArchive, refresh: Bool = false) async throws -> (DownloadReport, Requests) {
        let before = archive.statistics
        let report = try await withEngine(testConfiguration()) { engine in
            try await engine.download(plan, to: target, refresh: refresh)
        }
        return (report, Requests(archive.statistics, since: before))
    }

    @Test("--dir: size, CRC-32, Last-Modified and ETag in both manifests; re-runs send nothing; --refresh re-fetches only the changed file")
    func directory() async throws {
        let folder = TemporaryFolder()
        let root = folder.path + "/out"
        try await withTestArchive { archive in
            let products = [
                product("a_cal.fits", dataset: "obs1", size: 10_000),
                product("b_cal.fits", dataset: "obs1", size: 20_000),
                product("c_cal.fits", dataset: "obs2", size: 30_000),
            ]
            for p in products { archive.add(uri: p.uri, size: p.size!) }
            let plan = Plan(products: products, selection: Selection(quick: .all), root: "out", resolver: try URLResolver(archive: archive.url))
            let b = products[1].uri

            let (first, firstRequests) = try await run(plan, .directory(root), archive: archive)
            #expect(first.exitStatus == 0)
            #expect(firstRequests == Requests(requests: 3, conditional: 0, notModified: 0, full: 3))
            func checkManifest() async throws {
                let rows = try await manifestRows(root + "/manifest.csv")
                #expect(rows.count == 3)
                for (row, p) in zip(rows, products) {
                    let path = "\(root)/\(p.dataset)/\(p.filename)"
                    #expect(row["URI"] == p.uri)
                    #expect(row["Size"] == String(p.size!))
                    #expect(row["CRC-32"] == (try await pythonCRC32(path)))
                    #expect(row["Last-Modified"] == (try await pythonHTTPDate(archive.lastModified(of: p.uri)!)))
                    #expect(row["ETag"] == archive.etag(of: p.uri))
                }
                let html = try String(contentsOfFile: root + "/manifest.html", encoding: .utf8)
                #expect(html.contains("<th>Size</th><th>CRC-32</th><th>Last-Modified</th><th>ETag</th><th>Attempts</th>"))
                for p in products {
                    let etag = archive.etag(of: p.uri)!.replacingOccurrences(of: "\"", with: "&quot;")
                    #expect(html.contains("<td>\(try await pythonCRC32("\(root)/\(p.dataset)/\(p.filename)"))</td><td>\(try await pythonHTTPDate(archive.lastModified(of: p.uri)!))</td><td>\(etag)</td>"))
                }
            }
            try await checkManifest()

            // A plain re-run: no request at all, and the manifest keeps what the first run recorded.
            let (again, againRequests) = try await run(plan, .directory(root), archive: archive)
            #expect(againRequests.requests == 0, "\(againRequests)")
            #expect(again.skipped == 3)
            try await checkManifest()

            // The archive reprocesses b under the same name (same size, other bytes, later date).
            let old = archive.content(of: b)
            archive.reprocess(uri: b)
            #expect(Bytes(archive.content(of: b)) != Bytes(old))
            let (plain, plainRequests) = try await run(plan, .directory(root), archive: archive)
            #expect(plainRequests.requests == 0, "\(plainRequests)")
            #expect(plain.exitStatus == 0)
            #expect(Bytes(readBytes("\(root)/obs1/b_cal.fits")) == Bytes(old))

            // --refresh: one conditional request each; only b answered 200 and is replaced.
            let (refreshed, refreshRequests) = try await run(plan, .directory(root), archive: archive, refresh: true)
            #expect(refreshRequests == Requests(requests: 3, conditional: 3, notModified: 2, full: 1), "\(refreshRequests)")
            #expect(refreshed.exitStatus == 0)
            #expect(refreshed.ok == 3)
            #expect(refreshed.unchanged == 2 && refreshed.replaced == 1)
            #expect(Bytes(readBytes("\(root)/obs1/b_cal.fits")) == Bytes(archive.content(of: b)))
            for p in products where p.uri != b { #expect(Bytes(readBytes("\(root)/\(p.dataset)/\(p.filename)")) == Bytes(archive.content(of: p.uri))) }
            #expect(refreshed.row(b)?.note == "changed on the archive: fetched again, the earlier copy replaced")
            #expect(refreshed.row(products[0].uri)?.note == "unchanged on the archive (HTTP 304)")
            #expect(listing(root) == ["manifest.csv", "manifest.html", "obs1/", "obs1/a_cal.fits", "obs1/b_cal.fits", "obs2/", "obs2/c_cal.fits"])
            var st = stat()
            #expect(stat(root + "/obs1/b_cal.fits", &st) == 0)
            #expect(Int64(st.st_mtim.tv_sec) == archive.lastModified(of: b))
            try await checkManifest()

            // Nothing changed since: all three answer 304.
            let (_, quiet) = try await run(plan, .directory(root), archive: archive, refresh: true)
            #expect(quiet == Requests(requests: 3, conditional: 3, notModified: 3, full: 0), "\(quiet)")
        }
    }

    @Test("haul download --refresh says what it found; a refresh that fails keeps the earlier copy")
    func command() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let uris = try writeURIList([
                ("mast:JWST/product/r0.fits", 3_000, []), ("mast:JWST/product/r1.fits", 4_000, []), ("mast:JWST/product/r2.fits", 5_000, []),
            ], to: archive, at: folder.path + "/list.txt")
            let arguments = ["download", "list.txt", "--dir", "out", "--archive", archive.url, "--progress", "none", "--retries", "0"]
            let first = try await runHaul(arguments, in: folder.path)
            #expect(first.status == 0, "\(first.stderr)")
            let old = readBytes(folder.path + "/out/JWST/product/r2.fits")
            archive.reprocess(uri: uris[1], size: 4_500)
            // r2 is gone from the archive: its refresh fails, and the copy stays.
            archive.add(uri: uris[2], size: 5_000, faults: [.init(.status(404))])
            let refreshed = try await runHaul(arguments + ["--refresh"], in: folder.path)
            #expect(refreshed.status == 1)
            #expect(refreshed.stderr.contains("2 files OK (1 unchanged on the archive, 1 changed and fetched again), 1 FAILED"), "\(refreshed.stderr)")
            #expect(Bytes(readBytes(folder.path + "/out/JWST/product/r1.fits")) == Bytes(archive.content(of: uris[1])))
            #expect(Bytes(readBytes(folder.path + "/out/JWST/product/r2.fits")) == Bytes(old))
            let rows = try await manifestRows(folder.path + "/out/manifest.csv")
            #expect(rows.map { $0["Status"] ?? "" } == ["OK", "OK", "FAILED: HTTP 404"])
            #expect(rows.map { $0["Note"] ?? "" } == [
                "unchanged on the archive (HTTP 304)", "changed on the archive: fetched again, the earlier copy replaced",
                "the copy from the earlier run is kept",
            ])
            #expect(rows[1]["Size"] == "4500")
        }
    }

    @Test("--zip: the manifest inside records the validators; --refresh replaces the changed entry, one entry per name")
    func zipFile() async throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/bundle.zip"
        try await withTestArchive { archive in
            // Sizes unknown (as in a URL list), so the reprocessed file may change its length.
            let products = [
                product("a_cal.fits", dataset: "obs1", size: nil),
                product("b_cal.fits", dataset: "obs1", size: nil),
                product("c_cal.fits", dataset: "obs2", size: nil),
            ]
            for (i, p) in products.enumerated() { archive.add(uri: p.uri, size: Int64(10_000 * (i + 1))) }
            let plan = Plan(products: products, selection: Selection(quick: .all), root: "bundle", resolver: try URLResolver(archive: archive.url))
            let b = products[1].uri
            let names = products.map { "bundle/\($0.dataset)/\($0.filename)" } + ["bundle/manifest.html", "bundle/manifest.csv"]

            func checkBundle() async throws {
                let extracted = folder.path + "/x-\(UUID().uuidString)"
                let reading = try await readWithPython(path, extractTo: extracted)
                #expect(reading.names == names)
                try await checkWithReaders(path, names: names)
                let rows = try await manifestRows(extracted + "/bundle/manifest.csv")
                #expect(rows.count == 3)
                for (row, p) in zip(rows, products) {
                    let file = "\(extracted)/bundle/\(p.dataset)/\(p.filename)"
                    #expect(Bytes(readBytes(file)) == Bytes(archive.content(of: p.uri)))
                    #expect(row["Size"] == String(archive.content(of: p.uri)!.count))
                    #expect(row["CRC-32"] == (try await pythonCRC32(file)))
                    #expect(row["CRC-32"] == String(format: "%08x", reading.entry("bundle/\(p.dataset)/\(p.filename)")!.crc))
                    #expect(row["Last-Modified"] == (try await pythonHTTPDate(archive.lastModified(of: p.uri)!)))
                    #expect(row["ETag"] == archive.etag(of: p.uri))
                }
                let html = try String(contentsOfFile: extracted + "/bundle/manifest.html", encoding: .utf8)
                #expect(html.contains("<th>Size</th><th>CRC-32</th><th>Last-Modified</th><th>ETag</th><th>Attempts</th>"))
            }

            let (first, firstRequests) = try await run(plan, .zip(path), archive: archive)
            #expect(first.exitStatus == 0)
            #expect(firstRequests.full == 3)
            try await checkBundle()

            let (_, again) = try await run(plan, .zip(path), archive: archive)
            #expect(again.requests == 0, "\(again)")
            try await checkBundle()

            archive.reprocess(uri: b, size: 25_000)
            let (plain, plainRequests) = try await run(plan, .zip(path), archive: archive)
            #expect(plainRequests.requests == 0, "\(plainRequests)")
            #expect(plain.row(b)?.size == 20_000)

            let (refreshed, refreshRequests) = try await run(plan, .zip(path), archive: archive, refresh: true)
            #expect(refreshRequests == Requests(requests: 3, conditional: 3, notModified: 2, full: 1), "\(refreshRequests)")
            #expect(refreshed.exitStatus == 0)
            #expect(refreshed.row(b)?.size == 25_000)
            #expect(!fileExists(path + ".haul-part"))
            // One entry per name, the new bytes; the old entry's bytes are gone from the file too (a
            // streaming reader, which reads local headers in order, sees one b).
            try await checkBundle()
            let streamed = try await runTool("bsdtar", ["-tf", "-"], stdin: path)
            #expect(streamed.output.split(separator: "\n").filter { $0 == "bundle/obs1/b_cal.fits" }.count == 1)

            let (_, quiet) = try await run(plan, .zip(path), archive: archive, refresh: true)
            #expect(quiet == Requests(requests: 3, conditional: 3, notModified: 3, full: 0), "\(quiet)")
            try await checkBundle()
        }
    }
}
