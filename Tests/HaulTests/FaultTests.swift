import Haul
import HaulArchive
import Testing

@Suite("Faults")
struct FaultTests {
    /// One download, one product per fault; each ends as expected while the others succeed.
    @Test("Every fault mode is retried to success or fails with its reason, alone")
    func faults() async throws {
        let folder = TemporaryFolder()
        let size: Int64 = 300_000
        // (name, faults, ranges, catalog size, expected status, expected attempts)
        let cases: [(String, [TestArchive.Fault], Bool, Int64?, String, Int?)] = [
            ("good", [], true, size, "OK", 1),
            ("503-twice", [.failing(2, status: 503, retryAfter: nil)], true, size, "OK", 3),
            ("429-once", [.failing(1, status: 429, retryAfter: nil)], true, size, "OK", 2),
            ("408-once", [.failing(1, status: 408, retryAfter: nil)], true, size, "OK", 2),
            ("500-always", [.failing(.max, status: 500, retryAfter: nil)], true, size, "FAILED: HTTP 500 after 3 attempts", 3),
            ("404", [.failing(.max, status: 404, retryAfter: nil)], true, size, "FAILED: HTTP 404", 1),
            ("403", [.failing(.max, status: 403, retryAfter: nil)], true, size, "FAILED: HTTP 403", 1),
            ("close-once", [.init(.closeAfter(100_000), times: 1)], true, size, "OK", 2),
            ("close-once-no-ranges", [.init(.closeAfter(100_000), times: 1)], false, size, "OK", 2),
            ("close-always", [.init(.closeAfter(100_000))], true, size, "FAILED: connection closed before the end of the body after 3 attempts", 3),
            ("short-once", [.init(.shortBody, times: 1)], true, size, "OK", 2),
            ("short-always", [.init(.shortBody)], false, size, "FAILED: connection closed before the end of the body after 3 attempts", 3),
            ("longer-than-catalog", [.init(.wrongLength(delta: 100))], true, size, "FAILED: size mismatch (expected 300000 bytes, server has 300100)", 1),
            ("shorter-than-catalog", [.init(.wrongLength(delta: -100))], true, size, "FAILED: size mismatch (expected 300000 bytes, server has 299900)", 1),
            ("catalog-disagrees", [], true, size + 1, "FAILED: size mismatch (expected 300001 bytes, server has 300000)", 1),
            ("stall-once", [.init(.stall(after: 50_000), times: 1)], true, size, "OK", 2),
            ("stall-always", [.init(.stall(after: 50_000))], true, size, "FAILED: stalled after 3 attempts", 3),
            ("trickle", [.init(.trickle(bytesPerSecond: 200_000))], true, size, "OK", 1),
            ("chunked-no-length", [.init(.chunked)], true, size, "OK", 1),
            ("chunked-unsized", [.init(.chunked)], true, nil, "OK", 1),
            ("redirect-once", [.init(.redirect, times: 1)], true, size, "OK", 1),
            ("redirect-loop", [.init(.redirect)], true, size, "FAILED: too many redirects", 1),
        ]
        try await withTestArchive { archive in
            var products: [Product] = []
            for (name, faults, ranges, catalogSize, _, _) in cases {
                let p = product("\(name).fits", dataset: "d", size: catalogSize)
                archive.add(uri: p.uri, size: size, faults: faults, ranges: ranges)
                products.append(p)
            }
            var config = testConfiguration(parallel: 32, retries: 2, stall: .seconds(2))
            config.maxRedirects = 3
            let report = try await download(products, from: archive, into: folder.path, configuration: config)
            #expect(report.exitStatus == 1)
            for (name, _, _, _, status, attempts) in cases {
                let uri = "mast:JWST/product/\(name).fits"
                let row = report.row(uri)
                #expect(row?.status.text == status, "\(name)")
                if let attempts { #expect(row?.attempts == attempts, "\(name) attempts") }
                let path = folder.path + "/d/\(name).fits"
                if status == "OK" {
                    #expect(readBytes(path) == archive.content(of: uri), "\(name) bytes")
                } else {
                    #expect(!fileExists(path), "\(name) left a file")
                }
            }
            // Nothing partial anywhere: no temporary file is left.
            #expect(!listing(folder.path).contains { $0.hasSuffix(".haul-part") })
            // Resumed with Range where allowed; from the start where not.
            #expect(archive.requests(for: "mast:JWST/product/close-once.fits") == 2)
            #expect(archive.requests(for: "mast:JWST/product/close-once-no-ranges.fits") == 2)
            #expect(archive.requests(for: "mast:JWST/product/redirect-once.fits") == 2)
        }
    }

    @Test("A broken transfer resumes with Range from the byte it reached")
    func resume() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let p = product("resume.fits", dataset: "d", size: 2_000_000)
            archive.add(uri: p.uri, size: 2_000_000, faults: [.init(.closeAfter(700_000), times: 1), .init(.closeAfter(1_500_000), times: 1)])
            let report = try await download([p], from: archive, into: folder.path)
            #expect(report.status(p.uri) == "OK")
            #expect(report.row(p.uri)?.attempts == 3)
            #expect(archive.statistics.rangeRequests == 2)
            // 0.7 MB + 0.8 MB + 0.5 MB: nothing sent twice.
            #expect(archive.statistics.bytesSent == 2_000_000)
            #expect(report.bytesReceived == 2_000_000)
            #expect(readBytes(folder.path + "/d/resume.fits") == archive.content(of: p.uri))
        }
    }

    @Test("Without Accept-Ranges a broken transfer starts over and the bytes are still exact")
    func restart() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let p = product("restart.fits", dataset: "d", size: 1_000_000)
            archive.add(uri: p.uri, size: 1_000_000, faults: [.init(.closeAfter(600_000), times: 1)], ranges: false)
            let report = try await download([p], from: archive, into: folder.path)
            #expect(report.status(p.uri) == "OK")
            #expect(archive.statistics.rangeRequests == 0)
            #expect(archive.statistics.bytesSent == 1_600_000)
            #expect(readBytes(folder.path + "/d/restart.fits") == archive.content(of: p.uri))
        }
    }

    @Test("Retry-After is honoured")
    func retryAfter() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let p = product("busy.fits", dataset: "d", size: 1_000)
            archive.add(uri: p.uri, size: 1_000, faults: [.failing(1, status: 503, retryAfter: 1)])
            let report = try await download([p], from: archive, into: folder.path)
            #expect(report.status(p.uri) == "OK")
            #expect((report.row(p.uri)?.seconds ?? 0) >= 1.0)
        }
    }

    @Test("A server that is not there fails every file with the reason")
    func refused() async throws {
        let folder = TemporaryFolder()
        // A port that was just free: the archive is stopped when its scope ends.
        let url = try await withTestArchive { $0.url }
        let products = [product("a.fits", dataset: "d", size: 10), product("b.fits", dataset: "d", size: 10)]
        let plan = Plan(products: products, selection: Selection(), root: "r", resolver: try URLResolver(archive: url))
        let report = try await withEngine(testConfiguration(retries: 1)) { engine in
            try await engine.download(plan, to: .directory(folder.path)).report
        }
        #expect(report.exitStatus == 1)
        #expect(report.manifest.rows.map(\.status.text) == Array(repeating: "FAILED: cannot connect after 2 attempts", count: 2))
    }
}
