import Foundation
import Haul
import HaulArchive
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A fresh folder under the system's temporary directory, removed when the test ends.
struct TemporaryFolder: ~Copyable {
    let path: String

    init() {
        var template = Array((NSTemporaryDirectory() + "/haul-test-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// An engine configuration for tests: quick retries, so fault tests take seconds.
///
/// The stall window and the connect timeout are ten minutes by default, longer than any test: the
/// suites run in parallel, under ThreadSanitizer, on machines shared with other builds, where a
/// healthy loopback transfer (or the loopback archive's accept) was seen to sit unscheduled for more
/// than 20 s, and a spurious timeout adds an attempt, a request and a connection to counts the tests
/// assert exactly. With these windows no timeout fires unless a test asks for one, so the counts are
/// the code's alone. Tests of stalls pass a short `stall` and assert bounds where scheduling decides;
/// a transfer paused by its sink is not timed by libcurl's stall check, so a hang is still caught, by
/// the watchdog or the test's own wait.
func testConfiguration(parallel: Int = 16, retries: Int = 3, stall: Duration = .seconds(600)) -> Configuration {
    var c = Configuration()
    c.parallel = parallel
    c.retry.retries = retries
    c.retry.baseDelay = .milliseconds(5)
    c.retry.maxDelay = .milliseconds(20)
    c.timeout.stall = stall
    c.timeout.connect = .seconds(600)
    c.progressInterval = .milliseconds(20)
    return c
}

/// A JWST-shaped product of the loopback archive.
func product(_ name: String, dataset: String = "jw02736001001_02101_00001_nrca1", size: Int64?, access: Product.Access = .public) -> Product {
    Product(uri: "mast:JWST/product/\(name)", filename: name, dataset: dataset, mission: "JWST", access: access, size: size)
}

/// Plans and downloads `products` from `archive` into `root`.
func download(
    _ products: [Product], from archive: TestArchive, into root: String, layout: Plan.Layout = .nested,
    configuration: Configuration = testConfiguration()
) async throws -> DownloadReport {
    let plan = Plan(
        products: products, selection: Selection(quick: .all), layout: layout, root: "root",
        resolver: try URLResolver(archive: archive.url)
    )
    return try await withEngine(configuration) { engine in
        try await engine.download(plan, to: .directory(root))
    }
}

/// Bytes compared as one value in an expectation: `#expect(Bytes(a) == Bytes(b))`.
///
/// Comparing two arrays in `#expect` has Swift Testing describe every element and compute their
/// difference when they differ: minutes for a few megabytes (under ThreadSanitizer, longer), on the
/// cooperative threads that every other test and the loopback archives need, so one mismatch once
/// stalled the whole sanitized suite. This says each one's length and a hash instead.
struct Bytes: Equatable, CustomTestStringConvertible {
    let bytes: [UInt8]?

    init(_ bytes: [UInt8]?) { self.bytes = bytes }
    init(_ bytes: ArraySlice<UInt8>) { self.bytes = Array(bytes) }
    init(_ data: Data?) { self.bytes = data.map { [UInt8]($0) } }

    var testDescription: String {
        guard let bytes else { return "nil" }
        // FNV-1a of the bytes, enough to tell two values apart in a message.
        let hash = bytes.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        return "\(bytes.count) bytes, FNV-1a \(String(hash, radix: 16))"
    }

    static func == (a: Bytes, b: Bytes) -> Bool { a.bytes == b.bytes }
}

func readBytes(_ path: String) -> [UInt8]? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    return [UInt8](data)
}

func fileExists(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0
}

/// Every entry under `root`, relative, sorted (folders end in `/`).
func listing(_ root: String) -> [String] {
    guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
    var out: [String] = []
    while let item = enumerator.nextObject() as? String {
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: root + "/" + item, isDirectory: &isDirectory)
        out.append(isDirectory.boolValue ? item + "/" : item)
    }
    return out.sorted()
}

/// The manifest row of a URI (the first, when a URI repeats).
extension DownloadReport {
    func row(_ uri: String) -> Manifest.Row? {
        manifest.rows.first { $0.uri == uri }
    }

    func status(_ uri: String) -> String? {
        row(uri)?.status.text
    }
}

/// Adds products to the archive and writes their URIs, one a line, as the catalog `path`.
/// - Returns: The URIs, in order.
@discardableResult
func writeURIList(
    _ products: [(uri: String, size: Int64, faults: [TestArchive.Fault])], to archive: TestArchive, at path: String
) throws -> [String] {
    for p in products { archive.add(uri: p.uri, size: p.size, faults: p.faults) }
    let uris = products.map(\.uri)
    try uris.map { $0 + "\n" }.joined().write(toFile: path, atomically: true, encoding: .utf8)
    return uris
}

/// This folder (`Tests/HaulTests`), and the package's root two above it.
let testsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// The catalogs in `Tests/HaulTests/Fixtures`, one in each format.
func fixture(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)").path
}

/// Serves every product of a catalog from the archive: the size it lists (1,000 bytes when none),
/// exclusive-access ones only with a token.
@discardableResult
func serveCatalog(_ path: String, in archive: TestArchive) throws -> [Product] {
    let products = try Catalog.load(paths: [path]).products
    for p in products {
        archive.add(uri: p.uri, size: p.size ?? 1000, access: p.access == .exclusive ? .exclusive : .public)
    }
    return products
}

/// A wait that ran out: the test fails with what it waited for and what it last saw.
struct WaitTimedOut: Error, CustomStringConvertible {
    let description: String
}

/// Waits until `condition` holds, looking every 20 ms.
///
/// - Parameters:
///   - what: What is awaited, for the failure message ("13 requests at the archive").
///   - timeout: When to give up.
///   - seen: What there is instead, for the failure message.
/// - Throws: ``WaitTimedOut`` at the deadline, which fails the test with both.
func waitUntil(
    _ what: String, timeout: Duration = .seconds(300), seen: () -> String = { "" }, _ condition: () throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try !condition() {
        if ContinuousClock.now >= deadline {
            let state = seen()
            throw WaitTimedOut(description: "gave up after \(timeout) waiting for \(what)" + (state.isEmpty ? "" : " (seen: \(state))"))
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// Runs a test on threads of its own instead of the shared pool that runs every other test's tasks.
///
/// On Linux that pool keeps about one runnable thread per core and adds one only when a thread
/// blocks, so a test that computes for minutes (generating and checking 4 GiB) holds part of it, and
/// on a busy machine every other test's next step can wait behind it for a minute. Two kinds of test
/// carry this trait: those that compute for long (``heavy``: one pool for all of them, so they take
/// turns there instead of holding the shared one), and those whose steps must come within a bound of
/// a process they watch (``prompt``: a pool each), such as killing a download before it can end.
/// The library needs neither: a download's own work runs on its own threads already.
struct OwnThreads: TestTrait, TestScoping {
    let pool: WorkerPool?

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        try await withTaskExecutorPreference(pool ?? WorkerPool(name: "test-prompt", threads: 2)) {
            try await function()
        }
    }

    static let heavyPool = WorkerPool(name: "test-heavy", threads: 2)
}

extension Trait where Self == OwnThreads {
    /// For a test that computes for long: it takes turns with the other such tests on two threads.
    static var heavy: Self { OwnThreads(pool: OwnThreads.heavyPool) }
    /// For a test that must act within a bound of what it watches: two threads of its own.
    static var prompt: Self { OwnThreads(pool: nil) }
}
