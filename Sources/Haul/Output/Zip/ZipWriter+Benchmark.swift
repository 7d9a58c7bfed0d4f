import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bundle's writing alone, for `Benchmarks/`: bytes already in memory go into a ZIP by the path a
/// download's bytes take, with no transfer and no network.
///
/// Each entry is offered in chunks as libcurl hands a body over, to a ``ZipEntrySink`` (blocks, CRC-32
/// and deflate on the workers, staged or spooled, or placed in a region of a file archive), then
/// appended by the ``ZipWriter``, which ends with the central directory: what `--zip` costs on top of
/// the network. A paused sink is offered its chunk again once it wakes, as the engine does. Not part of
/// the library's API: `@_spi(Benchmarks) import Haul`.
@_spi(Benchmarks)
public enum ZipWriterBenchmark {
    /// Where the archive goes.
    public enum Destination: Sendable {
        /// A seekable file (created or truncated): big stored entries are written in place.
        case file(String)
        /// A stream: every entry is staged, then appended with a data descriptor's sizes known.
        case stream(any DownloadTarget.ByteStream)
    }

    /// Writes `entries` entries whose bodies are all `body`, `parallel` entries at a time.
    ///
    /// - Parameters:
    ///   - chunk: The size of the pieces each body is offered in (libcurl's buffer: 16 KiB by default).
    ///   - memoryLimit: The ``MemoryBudget`` of the run, as `--memory-limit` sets it.
    /// - Returns: The archive's size in bytes.
    /// - Throws: ``HaulError`` when the output cannot be written.
    public static func write(
        entries: Int, body: [UInt8], chunk: Int = 16 << 10, compression: DownloadTarget.Compression, to destination: Destination,
        parallel: Int = 4, memoryLimit: Int = 256 << 20
    ) async throws -> UInt64 {
        let budget = MemoryBudget(limit: memoryLimit)
        let writer: ZipWriter
        var fd: Int32 = -1
        switch destination {
        case .file(let path):
            fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw HaulError.writing(path, errno: errno, action: "create") }
            writer = ZipWriter(output: ArchiveOutput(.file(fd: fd, path: path)))
        case .stream(let stream):
            writer = ZipWriter(output: ArchiveOutput(.stream(stream)))
        }
        defer { if fd >= 0 { close(fd) } }
        let staging = ZipStaging(compression: compression, budget: budget, parallel: parallel, spoolFolder: "/tmp", workers: WorkerPool(name: "haul-work"))
        let modified: Int64 = 1_700_000_000
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<entries {
                if index >= parallel { try await group.next() }
                group.addTask {
                    let name = "bench/f\(index).fits"
                    let placement = writer.placesRegions ? ZipEntrySink.Placement(writer: writer, name: name, modified: modified) : nil
                    let sink = ZipEntrySink(staging: staging, filename: name, placement: placement)
                    let wake = Wake()
                    try sink.begin(offset: 0, totalLength: Int64(body.count), waker: SinkWaker { wake.signal() })
                    var offset = 0
                    while offset < body.count {
                        let end = min(body.count, offset + chunk)
                        let verdict = body.withUnsafeBytes { sink.write(UnsafeRawBufferPointer(rebasing: $0[offset..<end])) }
                        switch verdict {
                        case .accepted: offset = end
                        case .pause: await wake.wait()
                        case .failed(let error): throw error
                        }
                    }
                    let staged = try await sink.finish(size: Int64(body.count))
                    if let region = staged.region {
                        try await writer.complete(region, crc32: staged.crc32, modified: modified, key: index)
                    } else {
                        let entry = ZipEntry(staged, name: name, modified: modified, level: compression.level)
                        try await writer.append(entry, staged, key: index)
                    }
                }
            }
            try await group.waitForAll()
        }
        return try await writer.finish(trailing: [])
    }

    /// A sink's waker for a task: a wake before the wait is kept, so none is lost.
    private final class Wake: Sendable {
        private struct State {
            var signalled = false
            var waiter: CheckedContinuation<Void, Never>?
        }
        private let state = Locked(State())

        func signal() {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                guard let waiter = s.waiter else { s.signalled = true; return nil }
                s.waiter = nil
                return waiter
            }
            waiter?.resume()
        }

        func wait() async {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.signalled { s.signalled = false; return true }
                    s.waiter = c
                    return false
                }
                if now { c.resume() }
            }
        }
    }
}
