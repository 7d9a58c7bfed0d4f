import CZlib
import Foundation
@testable import Haul
import HaulArchive
import Testing
#if canImport(Glibc)
import Glibc
#endif

// Every run ends, whatever the data: the memory budget's progress guarantee (MemoryBudget) tried on
// the shapes an archive serves, from random bytes to all zeros, at sizes around every limit the code
// has, in every output mode. A hang here is caught by the watchdog set to fail, not by a timeout.

/// A configuration for these tests: quick retries, and a watchdog that fails the run on a stall.
func livenessConfiguration(parallel: Int, memoryLimit: Int) -> Configuration {
    var c = testConfiguration(parallel: parallel, retries: 2, stall: .seconds(20))
    c.memoryLimit = memoryLimit
    c.watchdog = .init(after: .seconds(15), action: .fail)
    return c
}

/// Where a matrix case puts its files.
enum ShapeOutput: String, CaseIterable, Sendable {
    case storeFile = "store, file"
    case deflateFile = "deflate, file"
    case autoFile = "auto, file"
    case storePipe = "store, pipe"
    case deflatePipe = "deflate, pipe"
    case autoPipe = "auto, pipe"
    case directory = "--dir"

    var compression: Compression? {
        switch self {
        // Level 1: compressibility decides the memory's shape, not the level; level 1 keeps random data quick.
        case .storeFile, .storePipe: Compression(.store, level: 1)
        case .deflateFile, .deflatePipe: Compression(.deflate, level: 1)
        case .autoFile, .autoPipe: Compression(.auto, level: 1)
        case .directory: nil
        }
    }

    var pipe: Bool { self == .storePipe || self == .deflatePipe || self == .autoPipe }
}

/// The bytes a product should have: its size and CRC-32, computed from the archive's generator.
func expectedDigest(_ content: ArchiveContent) -> (size: Int64, crc: UInt32) {
    var crc: uLong = 0
    content.forEachSlice(0..<content.size) { crc = czlib_crc32(crc, $0.baseAddress, $0.count) }
    return (content.size, UInt32(crc))
}

/// The size and CRC-32 of a file's bytes as they are on disk.
func fileDigest(_ path: String) -> (size: Int64, crc: UInt32)? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    var crc: uLong = 0
    var size: Int64 = 0
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        guard n >= 0 else { return nil }
        if n == 0 { break }
        crc = buffer.withUnsafeBytes { czlib_crc32(crc, $0.baseAddress, n) }
        size += Int64(n)
    }
    return (size, UInt32(crc))
}

/// What Python's `zipfile` lists (from the central directory, without inflating): name → size, CRC.
func zipDirectory(_ path: String) throws -> [String: (size: Int64, crc: UInt32)] {
    let script = #"""
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for i in z.infolist():
        print(i.file_size, i.CRC, i.filename)
"""#
    let listed = try runTool("python3", ["-c", script, path])
    #expect(listed.status == 0, "python3 zipfile: \(listed.output.suffix(2000))")
    var entries: [String: (Int64, UInt32)] = [:]
    for line in listed.output.split(separator: "\n") {
        let parts = line.split(separator: " ", maxSplits: 2)
        guard parts.count == 3, let size = Int64(parts[0]), let crc = UInt32(parts[1]) else { continue }
        entries[String(parts[2])] = (size, crc)
    }
    return entries
}

/// One shape: its content kind and size, served under a URI of its own.
struct Shape: Hashable, Sendable {
    var kind: ArchiveContent.Kind
    var size: Int64
    var uri: String { "mast:HAUL/shape/\(kind.rawValue)-\(size).fits" }
    var filename: String { "\(kind.rawValue)-\(size).fits" }
}

/// The contents of the matrix: every kind the issue names (FITS-like floats for detector data; the
/// 16-bit FITS noise of the other tests is between floats and text).
let matrixKinds: [ArchiveContent.Kind] = [.zeros, .ramp, .text, .floats, .random, .mixed]

/// The sizes that matter for one limit and `parallel`: empty, one byte, around one block, several times
/// one entry's in-memory share, and past the whole limit.
func matrixSizes(memoryLimit: Int, parallel: Int) -> (small: [Int64], share: Int64, large: Int64) {
    let budget = MemoryBudget(limit: memoryLimit / 2)
    let block = Int64(budget.blockSize(parallel: parallel))
    let share = Int64(max(Int(block), budget.limit / (2 * parallel)))
    return ([0, 1, block - 1, block, block + 1], 3 * share, Int64(memoryLimit) + (1 << 20))
}

/// Runs `shapes` into `output` and checks that every one ended `OK` with exactly its bytes.
func runShapes(
    _ shapes: [Shape], output: ShapeOutput, configuration: Configuration, archive: TestArchive, folder: String
) async throws -> DownloadReport {
    for shape in shapes { archive.add(uri: shape.uri, size: shape.size, content: shape.kind) }
    let products = shapes.map { Product(uri: $0.uri, filename: $0.filename, dataset: "shapes", mission: "HAUL", size: $0.size) }
    let plan = Plan(products: products, selection: Selection(quick: .all), root: "shapes", resolver: try URLResolver(archive: archive.url))
    let report: DownloadReport
    var listing: [String: (size: Int64, crc: UInt32)] = [:]
    if let compression = output.compression {
        let path = folder + "/shapes.zip"
        report = try await downloadZip(plan, to: path, compression: compression, pipe: output.pipe, configuration: configuration)
        let unzip = try runTool("unzip", ["-tq", path])
        #expect(unzip.status == 0 && unzip.output.contains("No errors detected"), "unzip -t: \(unzip.output.suffix(1500))")
        listing = try zipDirectory(path)
    } else {
        report = try await withEngine(configuration) { engine in
            try await engine.download(plan, to: .directory(folder + "/shapes")).report
        }
    }
    #expect(report.ok == shapes.count, "\(report.manifest.rows.filter { $0.status != .ok }.map { "\($0.file): \($0.statusText)" })")
    for shape in shapes {
        let expected = expectedDigest(ArchiveContent(uri: shape.uri, size: shape.size, kind: shape.kind))
        let got = output.compression == nil
            ? fileDigest(folder + "/shapes/shapes/" + shape.filename)
            : listing["shapes/shapes/" + shape.filename]
        #expect(got?.size == expected.size && got?.crc == expected.crc,
                "\(shape.filename): expected \(expected.size) bytes, CRC \(expected.crc); got \(String(describing: got))")
    }
    return report
}

struct ShapeCase: Sendable, CustomTestStringConvertible {
    var output: ShapeOutput
    var memoryLimit: Int
    var parallel: Int
    var testDescription: String { "\(output.rawValue), limit \(memoryLimit >> 20) MiB, --parallel \(parallel)" }

    /// The smallest limit (the budget's documented minimum) and 8 MiB, every output, every `parallel`.
    static let small: [ShapeCase] = [Configuration.minimumMemoryLimit, 8 << 20].flatMap { limit in
        ShapeOutput.allCases.flatMap { output in [1, 8, 256].map { ShapeCase(output: output, memoryLimit: limit, parallel: $0) } }
    }
    /// The default limit, every output, every `parallel`.
    static let defaults: [ShapeCase] = ShapeOutput.allCases.flatMap { output in
        [1, 8, 256].map { ShapeCase(output: output, memoryLimit: Configuration().memoryLimit, parallel: $0) }
    }
}

@Suite("Liveness: every data shape, size and mode ends with exact bytes")
struct LivenessTests {
    @Test("Small limits: every kind at every size, past the whole limit included", arguments: ShapeCase.small)
    func smallLimits(_ c: ShapeCase) async throws {
        let (small, share, large) = matrixSizes(memoryLimit: c.memoryLimit, parallel: c.parallel)
        let shapes = matrixKinds.flatMap { kind in (small + [share, large]).map { Shape(kind: kind, size: $0) } }
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            _ = try await runShapes(shapes, output: c.output, configuration: livenessConfiguration(parallel: c.parallel, memoryLimit: c.memoryLimit), archive: archive, folder: folder.path)
        }
    }

    /// At the default limit, a product past the limit is 257 MiB: one kind per case, in turn, so that every
    /// kind crosses the limit in some mode and the matrix stays within minutes.
    @Test("The default limit: every kind around one block and one share; one kind past the whole limit", arguments: ShapeCase.defaults)
    func defaultLimit(_ c: ShapeCase) async throws {
        let (small, share, large) = matrixSizes(memoryLimit: c.memoryLimit, parallel: c.parallel)
        let index = ShapeCase.defaults.firstIndex { $0.output == c.output && $0.parallel == c.parallel }!
        let big = matrixKinds[index % matrixKinds.count]
        let sharing = matrixKinds[(index + 3) % matrixKinds.count]
        var shapes = matrixKinds.flatMap { kind in small.map { Shape(kind: kind, size: $0) } }
        shapes += [Shape(kind: sharing, size: share), Shape(kind: big, size: large)]
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            _ = try await runShapes(shapes, output: c.output, configuration: livenessConfiguration(parallel: c.parallel, memoryLimit: c.memoryLimit), archive: archive, folder: folder.path)
        }
    }

    /// The issue's report: 64 files of 8 MiB of 16-bit ramps and zero padding, at the defaults, hung with
    /// every transfer paused. Scaled to a 32 MiB limit (the same ratio of data to memory, 16:1) so that it
    /// runs in seconds; the full-size run is in `Benchmarks/`.
    @Test("Many files that compress to almost nothing fill no memory they cannot free", arguments: [ShapeOutput.autoFile, .deflateFile, .deflatePipe, .storeFile, .directory])
    func compressibleFlood(_ output: ShapeOutput) async throws {
        let shapes = (0..<64).map { Shape(kind: $0 % 2 == 0 ? .ramp : .zeros, size: Int64(1 << 20) + Int64($0)) }
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let report = try await runShapes(shapes, output: output, configuration: livenessConfiguration(parallel: 64, memoryLimit: 4 << 20), archive: archive, folder: folder.path)
            #expect(report.peakBufferedBytes <= 4 << 20)
        }
    }
}
