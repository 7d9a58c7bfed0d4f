import CZlib
import Foundation
@_spi(Benchmarks) import Haul
import HaulArchive
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The path `Benchmarks/` times the ZIP writer by: bodies from memory through the entry sinks and the
/// writer, no transfer. What it writes must be the archive a download writes, or its figures mean
/// nothing: every reader accepts it and gives the bodies back, byte for byte.
@Suite struct ZipWriterBenchmarkTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var mode: DownloadTarget.Compression.Mode
        var toFile: Bool
        var testDescription: String { "\(mode.rawValue), \(toFile ? "file" : "stream")" }
    }

    @Test(arguments: [
        Case(mode: .store, toFile: true), Case(mode: .store, toFile: false),
        Case(mode: .deflate, toFile: true), Case(mode: .auto, toFile: false),
    ])
    func writesWhatReadersAccept(_ c: Case) async throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/bench.zip"
        // 1 MiB bodies with a 4 MiB budget: stored entries exceed their in-memory share (file: placed in
        // regions; stream: spooled), and six entries' blocks cannot all be held, so sinks pause and wake.
        let body = ArchiveContent(uri: "mast:BENCH/zip/body.fits", size: 1 << 20, kind: .fits).allBytes
        let size: UInt64
        if c.toFile {
            size = try await ZipWriterBenchmark.write(
                entries: 6, body: body, compression: DownloadTarget.Compression(c.mode, level: 1), to: .file(path), parallel: 3, memoryLimit: 4 << 20
            )
        } else {
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            try #require(fd >= 0)
            defer { close(fd) }
            size = try await ZipWriterBenchmark.write(
                entries: 6, body: body, compression: DownloadTarget.Compression(c.mode, level: 1),
                to: .stream(FileDescriptorStream(fd: fd, name: path)), parallel: 3, memoryLimit: 4 << 20
            )
        }
        let names = (0..<6).map { "bench/f\($0).fits" }
        #expect(size == UInt64(try #require(readBytes(path)).count))
        try await checkWithReaders(path, names: names)
        let reading = try await readWithPython(path, extractTo: folder.path + "/out")
        #expect(reading.names == names)
        let crc = body.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) }
        for entry in reading.entries {
            #expect(entry.size == UInt64(body.count))
            #expect(entry.crc == crc)
            #expect(entry.method == (c.mode == .store ? 0 : 8))
            #expect(Bytes(readBytes(folder.path + "/out/" + entry.name)) == Bytes(body))
        }
    }
}
