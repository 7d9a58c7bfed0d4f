import Foundation
@testable import Haul
import HaulArchive
import Testing

@Suite("One big file over several connections")
struct SegmentTests {
    /// Segments from 1 MiB, at most 4: an 8 MiB file is a one-byte probe and 4 segments of 2 MiB (whole
    /// blocks of 1 MiB or less).
    static func configuration() -> Configuration {
        var c = testConfiguration(parallel: 4, retries: 3)
        c.segmentation = .init(threshold: 1 << 20, minimumSegment: 1 << 20, maximumConnections: 4)
        c.watchdog = .init(after: .seconds(20), action: .fail)
        return c
    }

    static let size: Int64 = 8 << 20

    @Test("A folder: the probe, then four range requests written at their offsets; exact bytes", arguments: [false, true])
    func directory(_ faulty: Bool) async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let p = product("big_uncal.fits", dataset: "d", size: Self.size)
            // With `faulty`, every segment's first request is cut at byte 3,000,000 of the product (whichever
            // order they arrive in): the first segment ends before it and completes; the second is cut in
            // its middle; the last two are cut at their first byte. Those three alone are asked again, each
            // from where it stopped.
            let faults: [TestArchive.Fault] = faulty ? [.init(.trickle(bytesPerSecond: 1 << 30), times: 1), .init(.closeAfter(3_000_000), times: 4)] : []
            archive.add(uri: p.uri, size: Self.size, faults: faults, content: .mixed)
            let report = try await download([p], from: archive, into: folder.path, configuration: Self.configuration())
            #expect(report.ok == 1, "\(report.status(p.uri) ?? "")")
            #expect(Bytes(readBytes(folder.path + "/d/big_uncal.fits")) == Bytes(archive.content(of: p.uri)))
            // The probe, four segments, and the three segments retried.
            #expect(archive.requests(for: p.uri) == (faulty ? 8 : 5))
            #expect(archive.statistics.rangeRequests == (faulty ? 8 : 5))
            #expect(report.row(p.uri)?.attempts == (faulty ? 8 : 5))
        }
    }

    @Test("A URL list states no sizes: a big file's first answer states its length and it comes in segments; a small one takes one request; a server without ranges sends the whole file after its probe")
    func urlList() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let list = folder.path + "/uris.txt"
            try writeURIList([
                ("mast:JWST/product/d/big_uncal.fits", Self.size, []),
                ("mast:JWST/product/d/small.fits", 100_000, []),
            ], to: archive, at: list)
            archive.add(uri: "mast:JWST/product/d/norange_uncal.fits", size: Self.size, ranges: false)
            try "mast:JWST/product/d/norange_uncal.fits\n".appendLine(to: list)
            let products = try Catalog.load(paths: [list]).products
            #expect(products.allSatisfy { $0.size == nil })
            let plan = Plan(products: products, selection: Selection(quick: .all), layout: .nested, root: "root", resolver: try URLResolver(archive: archive.url))
            let report = try await withEngine(Self.configuration()) { engine in
                try await engine.download(plan, to: .directory(folder.path + "/out"))
            }
            #expect(report.ok == 3)
            for p in products {
                #expect(Bytes(readBytes(folder.path + "/out/" + plan.entries.first { $0.product.uri == p.uri }!.path)) == Bytes(archive.content(of: p.uri)), "\(p.uri)")
            }
            // The first request, stopped at its headers; the probe; four segments.
            #expect(archive.requests(for: "mast:JWST/product/d/big_uncal.fits") == 6)
            #expect(report.row("mast:JWST/product/d/big_uncal.fits")?.attempts == 6)
            #expect(archive.requests(for: "mast:JWST/product/d/small.fits") == 1)
            // No ranges: the first request, the probe answered 200, then the whole file.
            #expect(archive.requests(for: "mast:JWST/product/d/norange_uncal.fits") == 3)
            #expect(archive.statistics.rangeRequests == 6)
        }
    }

    /// Where a ZIP goes: a file (segments into the entry's region), a pipe or a stored bundle (into
    /// the entry's spool file, appended whole).
    enum ZipDestination: String, CaseIterable, Sendable { case file, pipe, bundle }

    @Test("A big stored ZIP entry in segments, into its region in a file or its spool file when streamed; the CRC combined from theirs; every reader agrees", arguments: ZipDestination.allCases)
    func zip(_ destination: ZipDestination) async throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/out.zip"
        try await withTestArchive { archive in
            let big = product("big_uncal.fits", dataset: "d", size: Self.size)
            let small = product("small.fits", dataset: "d", size: 10_000)
            for p in [big, small] { archive.add(uri: p.uri, size: p.size!, content: .mixed) }
            var config = Self.configuration()
            config.memoryLimit = Configuration.minimumMemoryLimit
            let plan = try zipPlan([big, small], archive: archive)
            if destination == .bundle {
                let bundle = try #require(StoredBundle(plan: plan, credentials: nil, time: 1_750_000_000))
                let stream = CollectingStream()
                _ = try await withEngine(config) { engine in
                    try await engine.download(plan, to: .storedBundle(stream, bundle))
                }
                #expect(UInt64(stream.bytes.count) == bundle.length)
                try Data(stream.bytes).write(to: URL(fileURLWithPath: path))
            } else {
                let report = try await downloadZip(plan, to: path, compression: DownloadTarget.Compression(.store), pipe: destination == .pipe, configuration: config)
                #expect(report.ok == 2)
            }
            // The probe and four segments.
            #expect(archive.requests(for: big.uri) == 5)
            let reading = try await readWithPython(path, extractTo: folder.path + "/x")
            #expect(Bytes(readBytes(folder.path + "/x/bundle/d/big_uncal.fits")) == Bytes(archive.content(of: big.uri)))
            #expect(reading.entry("bundle/d/big_uncal.fits")?.crc == expectedDigest(ArchiveContent(uri: big.uri, size: Self.size, kind: .mixed)).crc)
            if destination == .file { #expect(try await regionMarkers(path)["bundle/d/big_uncal.fits"] == .some(1)) }
            try await checkWithReaders(path, names: reading.names)
        }
    }

    @Test("A server without ranges answers the probe with the whole file: stopped at once, then fetched in one request")
    func noRanges() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let p = product("big_uncal.fits", dataset: "d", size: Self.size)
            archive.add(uri: p.uri, size: Self.size, ranges: false, content: .random)
            let report = try await download([p], from: archive, into: folder.path, configuration: Self.configuration())
            #expect(report.ok == 1)
            #expect(Bytes(readBytes(folder.path + "/d/big_uncal.fits")) == Bytes(archive.content(of: p.uri)))
            #expect(archive.requests(for: p.uri) == 2)
        }
    }

    @Test("Small files, and deflated ZIP entries, keep one request each: no probe")
    func smallAndDeflated() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let small = product("small.fits", dataset: "d", size: 500_000)
            let big = product("big_cal.fits", dataset: "d", size: Self.size)
            for p in [small, big] { archive.add(uri: p.uri, size: p.size!) }
            let report = try await downloadZip(try zipPlan([small, big], archive: archive), to: folder.path + "/out.zip", compression: DownloadTarget.Compression(.deflate, level: 1), configuration: Self.configuration())
            #expect(report.ok == 2)
            #expect(archive.requests(for: small.uri) == 1)
            #expect(archive.requests(for: big.uri) == 1)
            #expect(archive.statistics.rangeRequests == 0)
        }
    }

    @Test("How many segments: by size, never more than --per-host or the maximum")
    func count() {
        let s = Configuration.Segmentation()
        #expect(s.count(size: 10 << 20, perHost: nil) == 1)
        #expect(s.count(size: 64 << 20, perHost: nil) == 4)
        #expect(s.count(size: 1 << 30, perHost: nil) == 16)
        #expect(s.count(size: 1 << 30, perHost: 6) == 6)
        #expect(Configuration.Segmentation.off.count(size: 1 << 40, perHost: nil) == 1)
    }

    @Test("Products split at the same time share the connections: equal parts, the rest for late ones")
    func shares() {
        let shares = SegmentShares()
        let archive = Configuration.Segmentation()  // 16 a file, 32 shared
        let eight = (0..<8).map { _ in shares.enter(archive) }
        #expect(eight.map { $0.take(16) } == Array(repeating: 4, count: 8))
        // The bucket's products are counted apart from the archive's.
        let cloud = Configuration().cloudSegmentation
        let bucket = shares.enter(cloud)
        #expect(bucket.take(5) == 5)
        bucket.leave()
        // A ninth, while the eight hold all 32, still gets one; two that come after the others have ended
        // take 16 each, and one alone takes its maximum even above the shared number.
        let ninth = shares.enter(archive)
        #expect(ninth.take(16) == 1)
        ninth.leave()
        for share in eight { share.leave() }
        let two = (0..<2).map { _ in shares.enter(archive) }
        #expect(two.map { $0.take(16) } == [16, 16])
        for share in two { share.leave() }
        let wide = Configuration.Segmentation(maximumConnections: 48)
        let alone = shares.enter(wide)
        #expect(alone.take(48) == 48)
        alone.leave()
    }
}

extension String {
    /// Appends this text to the file at `path`.
    func appendLine(to path: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(utf8))
    }
}
