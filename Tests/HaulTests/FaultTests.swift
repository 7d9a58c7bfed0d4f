import Foundation
import Haul
import HaulArchive
import Testing

/// One product of the fault matrix: what the archive does wrong, and how the download must end.
struct FaultCase: Sendable, CustomTestStringConvertible {
    var name: String
    var faults: [TestArchive.Fault]
    var ranges = true
    /// The size the catalog states (`nil`: none), when not the archive's.
    var catalogSize: Int64?? = .none
    var status: String
    var attempts: Int
    /// Requests the archive sees for the product (redirect hops are not counted), when checked.
    var requests: Int?
    var testDescription: String { name }
}

/// The archive's size for every product of the matrix.
let faultSize: Int64 = 300_000

/// Counts and statuses here are the code's to decide: every case runs with the tests' ten-minute stall
/// and connect windows (``testConfiguration``), longer than any scheduling pause, so no healthy
/// transfer is taken for stalled. The stall cases are apart.
let faultMatrix: [FaultCase] = {
    let closeOnce = TestArchive.Fault(.closeAfter(100_000), times: 1)
    let page = TestArchive.errorPage.count
    let html = ": the server answered 200 with an HTML page (an error page?) instead of the file"
    return [
        FaultCase(name: "good", faults: [], status: "OK", attempts: 1, requests: 1),
        FaultCase(name: "503-twice", faults: [.failing(2, status: 503, retryAfter: nil)], status: "OK", attempts: 3, requests: 3),
        FaultCase(name: "429-once", faults: [.failing(1, status: 429, retryAfter: nil)], status: "OK", attempts: 2, requests: 2),
        FaultCase(name: "408-once", faults: [.failing(1, status: 408, retryAfter: nil)], status: "OK", attempts: 2, requests: 2),
        FaultCase(name: "500-always", faults: [.failing(.max, status: 500, retryAfter: nil)], status: "FAILED: HTTP 500 after 3 attempts", attempts: 3, requests: 3),
        FaultCase(name: "404", faults: [.failing(.max, status: 404, retryAfter: nil)], status: "FAILED: HTTP 404", attempts: 1, requests: 1),
        FaultCase(name: "403", faults: [.failing(.max, status: 403, retryAfter: nil)], status: "FAILED: HTTP 403", attempts: 1, requests: 1),
        // A 416 without Range is final; one answering a resume starts the product over.
        FaultCase(name: "416", faults: [.failing(.max, status: 416, retryAfter: nil)], status: "FAILED: HTTP 416", attempts: 1, requests: 1),
        FaultCase(name: "416-on-resume", faults: [closeOnce, .init(.status(416), times: 1)], status: "OK", attempts: 3, requests: 3),
        FaultCase(name: "close-once", faults: [closeOnce], status: "OK", attempts: 2, requests: 2),
        FaultCase(name: "close-once-no-ranges", faults: [closeOnce], ranges: false, status: "OK", attempts: 2, requests: 2),
        FaultCase(name: "close-always", faults: [.init(.closeAfter(100_000))], status: "FAILED: connection closed before the end of the body after 3 attempts", attempts: 3, requests: 3),
        FaultCase(name: "short-once", faults: [.init(.shortBody, times: 1)], status: "OK", attempts: 2, requests: 2),
        FaultCase(name: "short-always", faults: [.init(.shortBody)], ranges: false, status: "FAILED: connection closed before the end of the body after 3 attempts", attempts: 3, requests: 3),
        // Ranges advertised, then ignored on the resume: the 200 starts the file over, nothing spliced.
        FaultCase(name: "ranges-then-ignored", faults: [closeOnce, .init(.noRanges)], status: "OK", attempts: 2, requests: 2),
        // A 206 for another range than asked; then If-Range ignored for a product that changed: both
        // restart from byte 0 on the next attempt.
        FaultCase(name: "wrong-content-range", faults: [closeOnce, .init(.wrongContentRange(delta: -1_000), times: 1)], status: "OK", attempts: 3, requests: 3),
        FaultCase(name: "wrong-content-range-ahead", faults: [closeOnce, .init(.wrongContentRange(delta: 5_000), times: 1)], status: "OK", attempts: 3, requests: 3),
        FaultCase(name: "if-range-ignored", faults: [closeOnce, .init(.ignoreIfRange, times: 1)], status: "OK", attempts: 3, requests: 3),
        FaultCase(name: "longer-than-catalog", faults: [.init(.wrongLength(delta: 100))], status: "FAILED: size mismatch (expected 300000 bytes, server has 300100)", attempts: 1, requests: 1),
        FaultCase(name: "shorter-than-catalog", faults: [.init(.wrongLength(delta: -100))], status: "FAILED: size mismatch (expected 300000 bytes, server has 299900)", attempts: 1, requests: 1),
        FaultCase(name: "catalog-disagrees", faults: [], catalogSize: faultSize + 1, status: "FAILED: size mismatch (expected 300001 bytes, server has 300000)", attempts: 1, requests: 1),
        // A 200 HTML error page where the catalog says another size: refused, with what it was.
        FaultCase(name: "html-page", faults: [.init(.htmlErrorPage(chunked: false))], status: "FAILED: size mismatch (expected 300000 bytes, server has \(page))" + html, attempts: 1, requests: 1),
        FaultCase(name: "html-page-chunked", faults: [.init(.htmlErrorPage(chunked: true))], status: "FAILED: size mismatch (expected 300000 bytes, received \(page))" + html, attempts: 1, requests: 1),
        FaultCase(name: "trickle", faults: [.init(.trickle(bytesPerSecond: 200_000))], status: "OK", attempts: 1, requests: 1),
        // Chunked bodies without a length: whole, and cut without the last chunk (resumed with Range).
        FaultCase(name: "chunked-no-length", faults: [.init(.chunked)], status: "OK", attempts: 1, requests: 1),
        FaultCase(name: "chunked-unsized", faults: [.init(.chunked)], catalogSize: .some(nil), status: "OK", attempts: 1, requests: 1),
        FaultCase(name: "chunked-cut-once", faults: [.init(.chunkedCloseAfter(100_000), times: 1)], status: "OK", attempts: 2, requests: 2),
        FaultCase(name: "chunked-cut-unsized", faults: [.init(.chunkedCloseAfter(100_000), times: 1)], catalogSize: .some(nil), status: "OK", attempts: 2, requests: 2),
        FaultCase(name: "chunked-cut-always", faults: [.init(.chunkedCloseAfter(100_000))], status: "FAILED: connection closed before the end of the body after 3 attempts", attempts: 3, requests: 3),
        // Redirects (at most 3 here): one, a chain of exactly 3, a chain of 4, a loop to itself, a loop of two.
        FaultCase(name: "redirect-once", faults: [.init(.redirect, times: 1)], status: "OK", attempts: 1, requests: 2),
        FaultCase(name: "redirect-chain-3", faults: [.init(.redirectChain(3), times: 1)], status: "OK", attempts: 1, requests: 2),
        FaultCase(name: "redirect-chain-4", faults: [.init(.redirectChain(4))], status: "FAILED: too many redirects", attempts: 1, requests: 1),
        FaultCase(name: "redirect-loop", faults: [.init(.redirect)], status: "FAILED: too many redirects", attempts: 1, requests: 4),
        FaultCase(name: "redirect-loop-two", faults: [.init(.redirectLoop)], status: "FAILED: too many redirects", attempts: 1, requests: 1),
    ]
}()

@Suite("Faults", .serialized)
struct FaultTests {
    /// One download, one product per fault; each ends as expected while the others succeed.
    @Test("Every fault mode is retried to success or fails with its reason, alone")
    func faults() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            var products: [Product] = []
            for c in faultMatrix {
                let p = product("\(c.name).fits", dataset: "d", size: c.catalogSize ?? faultSize)
                archive.add(uri: p.uri, size: faultSize, faults: c.faults, ranges: c.ranges)
                products.append(p)
            }
            var config = testConfiguration(parallel: 32, retries: 2)
            config.maxRedirects = 3
            let report = try await download(products, from: archive, into: folder.path, configuration: config)
            #expect(report.exitStatus == 1)
            for c in faultMatrix {
                let uri = "mast:JWST/product/\(c.name).fits"
                let row = report.row(uri)
                #expect(row?.status.text == c.status, "\(c.name)")
                #expect(row?.attempts == c.attempts, "\(c.name) attempts")
                if let requests = c.requests { #expect(archive.requests(for: uri) == requests, "\(c.name) requests") }
                let path = folder.path + "/d/\(c.name).fits"
                if c.status == "OK" {
                    #expect(Bytes(readBytes(path)) == Bytes(archive.content(of: uri)), "\(c.name) bytes")
                } else {
                    #expect(!fileExists(path), "\(c.name) left a file")
                }
            }
            // Nothing partial anywhere: no temporary file is left.
            #expect(!listing(folder.path).contains { $0.hasSuffix(".haul-part") })
        }
    }

    /// Stalls ride on the stall window: the window is short (2 s) to keep the test quick, so where a
    /// loaded machine could add a spurious stall the counts are bounds.
    @Test("A stalled body is retried, and one that always stalls fails after every attempt")
    func stalls() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let once = product("stall-once.fits", dataset: "d", size: faultSize)
            let always = product("stall-always.fits", dataset: "d", size: faultSize)
            archive.add(uri: once.uri, size: faultSize, faults: [.init(.stall(after: 50_000), times: 1)])
            archive.add(uri: always.uri, size: faultSize, faults: [.init(.stall(after: 50_000))])
            let report = try await download([once, always], from: archive, into: folder.path, configuration: testConfiguration(retries: 2, stall: .seconds(2)))
            // A server that never sends the rest fails every attempt: exactly retries + 1.
            #expect(report.status(always.uri) == "FAILED: stalled after 3 attempts")
            #expect(report.row(always.uri)?.attempts == 3)
            #expect(!fileExists(folder.path + "/d/stall-always.fits"))
            // At least the first attempt stalls; a scheduling pause could stall another.
            #expect(report.status(once.uri) == "OK")
            #expect((2...3).contains(report.row(once.uri)?.attempts ?? 0), "attempts: \(report.row(once.uri)?.attempts ?? 0)")
            #expect(Bytes(readBytes(folder.path + "/d/stall-once.fits")) == Bytes(archive.content(of: once.uri)))
            // Each stalled attempt took at least the window.
            #expect((report.row(always.uri)?.seconds ?? 0) >= 6.0)
        }
    }

    /// Haul asks for identity and never decodes: an encoded body is the archive's bytes as sent, and it
    /// is kept when its length is the catalog's (a `.fits.gz` the server labels `Content-Encoding:
    /// gzip`), refused with the reason when not (a server compressing on the fly).
    @Test("A gzip-encoded body is stored as sent, never decoded; a length that is not the catalog's is refused")
    func gzipEncoding() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let uris = ["catalog-says-decoded", "catalog-says-encoded", "catalog-says-nothing"].map { "mast:JWST/product/\($0).fits.gz" }
            for uri in uris { archive.add(uri: uri, size: faultSize, faults: [.init(.gzipEncoded)]) }
            // Each product has its own bytes, so its own encoded length.
            let encodedSizes = try uris.map { Int64(try #require(archive.gzipEncodedContent(of: $0)).count) }
            #expect(!encodedSizes.contains(faultSize))
            let products = zip(uris, [faultSize, encodedSizes[1], nil]).map { uri, size in
                Product(uri: uri, filename: String(uri.split(separator: "/").last!), dataset: "d", mission: "JWST", size: size)
            }
            let report = try await download(products, from: archive, into: folder.path)
            #expect(report.status(uris[0]) == "FAILED: size mismatch (expected 300000 bytes, server has \(encodedSizes[0])): the server sent the file gzip-encoded (Content-Encoding: gzip) although identity was asked; Haul keeps an archive's bytes as sent and never decodes them")
            #expect(!fileExists(folder.path + "/d/catalog-says-decoded.fits.gz"))
            for (uri, p) in zip(uris.dropFirst(), products.dropFirst()) {
                #expect(report.status(uri) == "OK")
                let path = folder.path + "/d/" + p.filename
                // Exactly the bytes sent: decoded once by an independent reader, they are the product.
                #expect(Bytes(readBytes(path)) == Bytes(archive.gzipEncodedContent(of: uri)))
                let gunzip = try await runTool("python3", ["-c", "import gzip,sys; open(sys.argv[2],'wb').write(gzip.open(sys.argv[1]).read())", path, path + ".decoded"])
                #expect(gunzip.status == 0, "\(gunzip.output)")
                #expect(Bytes(readBytes(path + ".decoded")) == Bytes(archive.content(of: uri)))
            }
            #expect(report.row(uris[2])?.size == encodedSizes[2])
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
            #expect(Bytes(readBytes(folder.path + "/d/resume.fits")) == Bytes(archive.content(of: p.uri)))
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
            #expect(Bytes(readBytes(folder.path + "/d/restart.fits")) == Bytes(archive.content(of: p.uri)))
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

    @Test("Retry-After as an HTTP date is honoured")
    func retryAfterDate() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let p = product("busy-until.fits", dataset: "d", size: 1_000)
            // A date 3 s ahead, to the second: the wait is 2 to 3 s, against 5 to 20 ms of backoff.
            archive.add(uri: p.uri, size: 1_000, faults: [.init(.statusRetryAt(503, secondsAhead: 3), times: 1)])
            let report = try await download([p], from: archive, into: folder.path)
            #expect(report.status(p.uri) == "OK")
            #expect(report.row(p.uri)?.attempts == 2)
            let seconds = report.row(p.uri)?.seconds ?? 0
            #expect(seconds >= 2.0 && seconds < 60, "waited \(seconds) s")
        }
    }

    @Test("A host that does not resolve (.invalid) fails with the reason after every attempt")
    func unresolvable() async throws {
        let folder = TemporaryFolder()
        let products = [
            Product(uri: "http://haul-test.invalid/d/a.fits", filename: "a.fits", dataset: "d", size: 10),
            Product(uri: "https://no-such-host.invalid/d/b.fits", filename: "b.fits", dataset: "d", size: 10),
        ]
        let plan = Plan(products: products, selection: Selection(), root: "r", resolver: try URLResolver())
        let report = try await withEngine(testConfiguration(retries: 1)) { engine in
            try await engine.download(plan, to: .directory(folder.path))
        }
        #expect(report.exitStatus == 1)
        #expect(report.manifest.rows.map(\.status.text) == Array(repeating: "FAILED: cannot resolve host after 2 attempts", count: 2))
        #expect(report.manifest.rows.map(\.attempts) == [2, 2])
    }

    @Test("A server that is not there fails every file with the reason")
    func refused() async throws {
        let folder = TemporaryFolder()
        // A port that was just free: the archive is stopped when its scope ends.
        let url = try await withTestArchive { $0.url }
        let products = [product("a.fits", dataset: "d", size: 10), product("b.fits", dataset: "d", size: 10)]
        let plan = Plan(products: products, selection: Selection(), root: "r", resolver: try URLResolver(archive: url))
        // Every attempt made, none cut short by the early end on an unreachable host (tested below).
        var configuration = testConfiguration(retries: 1)
        configuration.unreachableAfter = 0
        let report = try await withEngine(configuration) { engine in
            try await engine.download(plan, to: .directory(folder.path))
        }
        #expect(report.exitStatus == 1)
        #expect(report.manifest.rows.map(\.status.text) == Array(repeating: "FAILED: cannot connect after 2 attempts", count: 2))
    }

    @Test("A host that refuses every connection is given up on after three failures: every file fails at once with its name and the reason")
    func unreachable() async throws {
        let folder = TemporaryFolder()
        let url = try await withTestArchive { $0.url }
        let port = try #require(URLComponents(string: url)?.port)
        let products = (0..<50).map { product("f\($0).fits", dataset: "d", size: 10) }
        let plan = Plan(products: products, selection: Selection(), root: "r", resolver: try URLResolver(archive: url))
        var configuration = testConfiguration(parallel: 4, retries: 100)
        configuration.retry.baseDelay = .seconds(5)
        configuration.retry.maxDelay = .seconds(5)
        let started = ContinuousClock.now
        let report = try await withEngine(configuration) { engine in
            try await engine.download(plan, to: .directory(folder.path))
        }
        // 100 retries 2.5 to 5 s apart would take hours; waits are cut short as soon as the host is given up on.
        #expect(started.duration(to: .now) < .seconds(60))
        #expect(report.failed == 50)
        #expect(Set(report.manifest.rows.map(\.status.text)) == ["FAILED: cannot reach 127.0.0.1:\(port): connection refused"])
        // The first wave of four each tried once; one of them, the third to fail, gave the host up.
        #expect(report.manifest.rows.map(\.attempts).reduce(0, +) <= 4 + 3)
    }
}
