import Foundation
import Haul
import HaulArchive
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A stream that keeps every byte in memory.
final class CollectingStream: DownloadTarget.ByteStream, @unchecked Sendable {
    private let state = Locked<[UInt8]>([])
    func write(_ bytes: UnsafeRawBufferPointer) throws { state.withLock { $0 += bytes } }
    var bytes: [UInt8] { state.withLock { $0 } }
}

/// A stored bundle states its length before any transfer, writes exactly that many bytes in its fixed order,
/// and resumes from any offset with the same bytes, fetching only the files not yet sent.
@Suite("Stored bundle")
struct StoredBundleTests {
    /// Files spanning what the layout must compute: the ZIP tests' (empty, small, one bigger than an
    /// entry's in-memory share, spooled while it waits its turn, non-ASCII names, random bytes, a
    /// duplicate, two names that collide in the flat layout) but the one the archive lacks, with an
    /// unsafe name, an exclusive file left out without a token, and a megabyte of zeros.
    static func products(_ archive: TestArchive) -> [Product] {
        let more = [
            product("../escape.fits", dataset: "obs3", size: 10),
            product("secret_cal.fits", dataset: "obs4", size: 4_000, access: .exclusive),
            product("zeros.fits", dataset: "obs4", size: 1_000_000),
        ]
        archive.add(uri: more[1].uri, size: 4_000, access: .exclusive)
        archive.add(uri: more[2].uri, size: 1_000_000, content: .zeros)
        return zipFixture(archive).filter { $0.filename != "missing.fits" } + more
    }

    static func download(_ plan: Plan, _ bundle: StoredBundle, from: UInt64 = 0, configuration: Configuration = testConfiguration(parallel: 4)) async throws -> [UInt8] {
        let stream = CollectingStream()
        _ = try await withEngine(configuration) { engine in
            try await engine.download(plan, to: .storedBundle(stream, bundle, from: from))
        }
        return stream.bytes
    }

    static var smallBudget: Configuration {
        var c = testConfiguration(parallel: 4)
        // A small budget: the 3 MB file and the files waiting behind it spill to spool files.
        c.memoryLimit = 4 << 20
        return c
    }

    @Test("The stated length is the bundle's: entries smallest first, readers accept it, the same bytes every time", arguments: Plan.Layout.allCases)
    func exactLength(layout: Plan.Layout) async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let products = Self.products(archive)
            let plan = try zipPlan(products, archive: archive, layout: layout)
            let time = Int64(1_750_000_000)
            let bundle = try #require(StoredBundle(plan: plan, credentials: nil, time: time))
            let bytes = try await Self.download(plan, bundle, configuration: Self.smallBudget)
            #expect(UInt64(bytes.count) == bundle.length)
            // A second bundle of the same plan and time: byte for byte the same.
            let again = try #require(StoredBundle(plan: plan, credentials: nil, time: time))
            #expect(again.length == bundle.length && again.fingerprint == bundle.fingerprint)
            #expect(try await Self.download(plan, again) == bytes)

            let path = folder.path + "/stored.zip"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let names = plan.downloads.map { "bundle/" + plan.entries[$0].path } + ["bundle/manifest.html", "bundle/manifest.csv"]
            try await checkWithReaders(path, names: names)
            let reading = try await readWithPython(path, extractTo: folder.path + "/x")
            #expect(reading.names == names)
            for index in plan.downloads {
                let name = "bundle/" + plan.entries[index].path
                #expect(Bytes(readBytes(folder.path + "/x/" + name)) == Bytes(archive.content(of: plan.entries[index].product.uri)), "\(name)")
                let entry = try #require(reading.entry(name))
                #expect(entry.method == 0)
                #expect(entry.mtime == archive.lastModified(of: plan.entries[index].product.uri))
            }
            // Written smallest first, in plan order among equal sizes: each local header after the one before.
            let order = plan.downloads.enumerated().sorted {
                let a = plan.entries[$0.element].product.size!, b = plan.entries[$1.element].product.size!
                return a != b ? a < b : $0.offset < $1.offset
            }.map(\.element)
            let offsets = order.compactMap { reading.entry("bundle/" + plan.entries[$0].path)?.offset }
            #expect(offsets == offsets.sorted() && offsets.count == plan.downloads.count)
            #expect(plan.entries[order.last!].product.size == 3_000_000)
            // The manifest: every file OK with its CRC-32, the transfer columns empty.
            let csv = try String(contentsOfFile: folder.path + "/x/bundle/manifest.csv", encoding: .utf8)
            let lines = csv.split(separator: "\r\n").map(String.init)
            #expect(lines.first == Manifest.columns.joined(separator: ","))
            let zeros = try #require(lines.first { $0.hasPrefix("mast:JWST/product/zeros.fits,") })
            let crc = String(format: "%08x", try #require(reading.entry("bundle/" + (layout == .nested ? "obs4/" : "") + "zeros.fits")).crc)
            #expect(zeros == "mast:JWST/product/zeros.fits,\(layout == .nested ? "obs4/" : "")zeros.fits,PUBLIC,OK,anonymous,1000000,\(crc),,,,,,")
            #expect(lines.contains { $0.contains("secret_cal.fits") && $0.contains(",EXCLUDED: ") })
            #expect(lines.contains { $0.contains("escape.fits") && $0.contains(",FAILED: unsafe path") })
        }
    }

    @Test("Resumed at any offset: the rest of the same bytes, and only files not yet sent are fetched", .heavy)
    func resume() async throws {
        try await withTestArchive { archive in
            let plan = try zipPlan(Self.products(archive), archive: archive)
            let bundle = try #require(StoredBundle(plan: plan, credentials: nil, time: 1_750_000_000))
            // Nothing has gone out: only the start can be sent.
            #expect(bundle.canResume(from: 0) && !bundle.canResume(from: 1) && !bundle.canResume(from: bundle.length))
            let full = try await Self.download(plan, bundle, configuration: Self.smallBudget)
            let length = UInt64(full.count)
            #expect(length == bundle.length)
            let reading = try await readBundle(full)
            // The files' entries as they lie, smallest first: the last is the 3 MB file, the one before it a
            // megabyte of zeros.
            let starts = plan.downloads.map { reading.entry("bundle/" + plan.entries[$0].path)!.offset }.sorted()
            let manifests = reading.entry("bundle/manifest.html")!.offset
            let directory = reading.endOfEntries
            let offsets: [UInt64] = [
                1, starts[1] + 10, starts[2], starts.last! + 1_000_000, starts[3] + 2, starts[starts.count - 2] + 100,
                manifests, manifests + 500, directory + 7, length - 1,
            ]
            for offset in offsets {
                #expect(bundle.canResume(from: offset))
                let before = archive.statistics.requests
                let rest = try await Self.download(plan, bundle, from: offset, configuration: Self.smallBudget)
                #expect(rest == Array(full[Int(offset)...]), "from \(offset)")
                // The files whose entries end after the offset, once each.
                let fetched = plan.downloads.indices.filter { position in
                    (position + 1 < starts.count ? starts[position + 1] : manifests) > offset
                }.count
                #expect(archive.statistics.requests - before == fetched, "from \(offset)")
            }
            #expect(!bundle.canResume(from: length))
        }
    }

    @Test("A file that fails, or changed since its entry began, ends the stream short with an error")
    func broken() async throws {
        try await withTestArchive { archive in
            var products = Self.products(archive)
            let plan = try zipPlan(products, archive: archive)
            let bundle = try #require(StoredBundle(plan: plan, credentials: nil, time: 1_750_000_000))
            let full = try await Self.download(plan, bundle)
            let reading = try await readBundle(full)

            // The 3 MB file changes on the archive: a resume inside its entry cannot match what was sent.
            let changed = "mast:JWST/product/jw02_cal.fits"
            archive.reprocess(uri: changed)
            let inside = reading.entry("bundle/obs2/jw02_cal.fits")!.offset + 1_000
            let stream = CollectingStream()
            await #expect(throws: HaulError.self) {
                _ = try await withEngine(testConfiguration(parallel: 4)) { engine in
                    try await engine.download(plan, to: .storedBundle(stream, bundle, from: inside))
                }
            }
            #expect(UInt64(stream.bytes.count) < bundle.length - inside)
            #expect(Array(full[Int(inside)...]).starts(with: stream.bytes))

            // A file the archive no longer has: the stream stops short of the stated length.
            products.append(product("gone.fits", dataset: "obs4", size: 1_234))
            archive.add(uri: "mast:JWST/product/gone.fits", size: 1_234, faults: [.init(.status(404))])
            let withGone = try zipPlan(products, archive: archive)
            let shortBundle = try #require(StoredBundle(plan: withGone, credentials: nil, time: 1_750_000_000))
            let short = CollectingStream()
            do {
                _ = try await withEngine(testConfiguration(parallel: 4)) { engine in
                    try await engine.download(withGone, to: .storedBundle(short, shortBundle))
                }
                Issue.record("a bundle missing a file finished")
            } catch let error as HaulError {
                #expect(error.message.contains("gone.fits failed (HTTP 404)"), "\(error.message)")
            }
            #expect(UInt64(short.bytes.count) < shortBundle.length)
        }
    }

    @Test("Past 4 GiB: the stated length holds with ZIP64 fields, and a resume past 4 GiB gives the same bytes", .heavy)
    func zip64() async throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/big.zip"
        let size: Int64 = (4 << 30) + 123_457
        try await withTestArchive(threads: 2) { archive in
            let products = [product("small_a.fits", dataset: "o", size: 10_000), product("huge_cal.fits", dataset: "o", size: size), product("small_b.fits", dataset: "o", size: 20_000)]
            for p in products { archive.add(uri: p.uri, size: p.size!, content: p.filename.hasPrefix("huge") ? .zeros : .fits) }
            let plan = try zipPlan(products, archive: archive)
            let bundle = try #require(StoredBundle(plan: plan, credentials: nil, time: 1_750_000_000))
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            try #require(fd >= 0)
            _ = try await withEngine(testConfiguration(stall: .seconds(60))) { engine in
                try await engine.download(plan, to: .storedBundle(FileDescriptorStream(fd: fd, name: path), bundle))
            }
            close(fd)
            let written = try #require(readBytesCount(path))
            #expect(written == bundle.length)
            let reading = try await readWithPython(path)
            // Smallest first: the huge file last, the manifests after it, past 4 GiB.
            let huge = try #require(reading.entry("bundle/o/huge_cal.fits"))
            let after = try #require(reading.entry("bundle/manifest.html"))
            #expect(huge.localZip64 == [UInt64(size), UInt64(size)])
            #expect(huge.offset > reading.entry("bundle/o/small_b.fits")!.offset)
            #expect(after.offset > UInt64(UInt32.max) && reading.hasZip64End)
            try await checkWithReaders(path, names: reading.names)
            // From inside the manifest, past 4 GiB: no file is fetched again.
            let before = archive.statistics.requests
            let from = after.offset + 100
            let rest = try await Self.download(plan, bundle, from: from)
            #expect(archive.statistics.requests - before == 0)
            let tail = try #require(FileHandle(forReadingAtPath: path))
            try tail.seek(toOffset: from)
            #expect(rest == Array(try #require(try tail.readToEnd())))
        }
    }

    @Test("More big files before a small one than the window holds: transfers go in write order, and the bundle ends", .prompt)
    func writeOrder() async throws {
        try await withTestArchive { archive in
            // Two transfers, a window of 8: taken in the plan's order, the twelve big files would fill
            // the window and both transfers would wait for the small file's turn, which no transfer has.
            var products = (0..<12).map { product("big\($0)_cal.fits", dataset: "o", size: 100_000 + Int64($0)) }
            products.append(product("small_cal.fits", dataset: "o", size: 1_000))
            for p in products { archive.add(uri: p.uri, size: p.size!) }
            let plan = try zipPlan(products, archive: archive)
            let bundle = try #require(StoredBundle(plan: plan, credentials: nil, time: 1_750_000_000))
            let stream = CollectingStream()
            let finished = try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    _ = try await withEngine(testConfiguration(parallel: 2)) { engine in
                        try await engine.download(plan, to: .storedBundle(stream, bundle))
                    }
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(120))
                    return false
                }
                let first = try await group.next()!
                group.cancelAll()
                return first
            }
            #expect(finished, "the bundle did not finish in 120 s")
            #expect(UInt64(stream.bytes.count) == bundle.length)
            let reading = try await readBundle(stream.bytes)
            #expect(reading.entry("bundle/o/small_cal.fits")?.offset == 0)
        }
    }

    @Test("Without a size for every file there is no stored bundle")
    func unknownSize() throws {
        let products = [product("a.fits", size: 10), product("b.fits", size: nil)]
        let plan = Plan(products: products, selection: Selection(quick: .all), layout: .nested, root: "r", resolver: try URLResolver(archive: "http://127.0.0.1:1"))
        #expect(StoredBundle(plan: plan, credentials: nil, time: 0) == nil)
        let known = Plan(products: [products[0]], selection: Selection(quick: .all), layout: .nested, root: "r", resolver: try URLResolver(archive: "http://127.0.0.1:1"))
        #expect(StoredBundle(plan: known, credentials: nil, time: 0) != nil)
    }
}

/// Reads a bundle held in memory with Python's zipfile.
func readBundle(_ bytes: [UInt8]) async throws -> ArchiveReading {
    let folder = TemporaryFolder()
    let path = folder.path + "/bundle.zip"
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return try await readWithPython(path)
}

/// A file's length, without reading it.
func readBytesCount(_ path: String) -> UInt64? {
    var st = stat()
    return stat(path, &st) == 0 ? UInt64(st.st_size) : nil
}
