import Foundation
@testable import Haul
import HaulArchive
import Testing

/// What a stored bundle's requests keep of the files they fetch (``BundleFileCache``): within the
/// shared bound while two or more run, within the smaller one while one runs alone, and for a grace
/// period after the last ends.
@Suite("Bundle file cache")
struct BundleFileCacheTests {
    static func file(_ size: UInt64, in folder: String) throws -> BundleFileCache.File {
        BundleFileCache.File(spool: try SpoolFile(folder: folder), size: size, crc32: 0, modified: 0)
    }

    @Test("The bound in effect follows the requests running: the shared one for two or more, the smaller one alone and after the last; the least recently used go first; all go after the grace unless a request begins")
    func bounds() async throws {
        let folder = TemporaryFolder()
        let cache = BundleFileCache(byteLimit: 100, fileLimit: 3, aloneByteLimit: 5, aloneFileLimit: 2, grace: .milliseconds(200))
        cache.enter()
        for index in 0..<3 { cache.publish(index, try Self.file(2, in: folder.path)) }
        #expect(cache.holding == (2, 4))
        // The least recently used went: the first.
        guard case .ready = await cache.take(2) else { Issue.record("file 2 is not kept"); return }
        guard case .claimed = await cache.take(0) else { Issue.record("file 0 is still kept"); return }
        cache.publish(0, nil)
        // Bigger than a request alone keeps.
        cache.publish(3, try Self.file(6, in: folder.path))
        #expect(cache.holding == (2, 4))
        // Two requests: the shared bound.
        cache.enter()
        cache.publish(3, try Self.file(6, in: folder.path))
        cache.publish(4, try Self.file(1, in: folder.path))
        #expect(cache.holding == (3, 9))
        cache.leave()
        #expect(cache.holding.files <= 2 && cache.holding.bytes <= 5)
        #expect(cache.alonePeak.files <= 2 && cache.alonePeak.bytes <= 5)
        let kept = cache.holding
        #expect(kept.files > 0)
        // The last request ends; another begins within the grace: nothing is dropped.
        cache.leave()
        cache.enter()
        try await Task.sleep(for: .milliseconds(600))
        #expect(cache.holding == kept)
        cache.leave()
        try await waitUntil("the grace to end", timeout: .seconds(60)) { cache.holding.files == 0 }
        #expect(cache.holding == (0, 0))
    }

    @Test("One plain download keeps no more than a request alone may (spool files only, no copy), and nothing once the grace has passed")
    func plainDownloadBound() async throws {
        try await withTestArchive { archive in
            // Small files stay in memory; the 3 MB ones spill to spool files with a 4 MiB budget.
            var products = (0..<4).map { product("small\($0)_cal.fits", dataset: "o", size: 10_000 + Int64($0)) }
            products += (0..<8).map { product("big\($0)_cal.fits", dataset: "o", size: 3_000_000 + Int64($0) * 100_000) }
            for p in products { archive.add(uri: p.uri, size: p.size!, content: .random) }
            let plan = try zipPlan(products, archive: archive)
            let bundle = try #require(StoredBundle(plan: plan, credentials: nil, time: 1_750_000_000))
            var c = testConfiguration(parallel: 4)
            c.memoryLimit = 4 << 20
            let stream = CollectingStream()
            // As the server runs a request of the bundle.
            bundle.cache.enter()
            _ = try await withEngine(c) { engine in try await engine.download(plan, to: .storedBundle(stream, bundle)) }
            bundle.cache.leave()
            #expect(UInt64(stream.bytes.count) == bundle.length)
            let cache = bundle.cache
            #expect(cache.alonePeak.files <= cache.aloneFileLimit && cache.alonePeak.bytes <= cache.aloneByteLimit, "\(cache.alonePeak)")
            // It keeps what a download manager's next connection may need: the last spool files.
            #expect(cache.holding.files == cache.aloneFileLimit, "\(cache.holding)")
            #expect(cache.holding.bytes >= UInt64(cache.aloneFileLimit) * 3_000_000, "\(cache.holding)")
            try await waitUntil("the grace to end", timeout: .seconds(120)) { cache.holding.files == 0 }
        }
    }
}
