#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes one product to a temporary file beside its final name, renamed into place only when every
/// byte arrived and was checked.
///
/// The bytes go through a ``SegmentSink`` over the whole file (copied once into blocks on the engine
/// thread, written by `pwrite` in order on the download's worker threads, the transfer paused while too much is in
/// flight or the ``MemoryBudget`` is spent); a big product may instead arrive as several segments
/// written into the same file (``SegmentableSink``).
public final class FileSink: TransferSink, @unchecked Sendable {
    public let path: String
    public let temporaryPath: String
    private let file: FileTarget
    /// The file's own lane, for the last steps (truncate, flush), off the caller's thread.
    private let lane: SerialLane
    private let body: SegmentSink

    /// Opens `DIR/.NAME.haul-part` for `DIR/NAME`, creating or truncating it.
    ///
    /// - Throws: ``HaulError`` (`output`) naming the path and the system's reason.
    package init(path: String, budget: MemoryBudget, blockSize: Int, workers: WorkerPool) throws {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        self.temporaryPath = "\(folder).\(name).haul-part"
        let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            let e = errno
            throw HaulError(.output, "cannot create \(temporaryPath): \(String(cString: strerror(e)))", underlyingError: POSIXErrorNumber(e))
        }
        // What PageMemory really allocates, so that reservations and releases agree.
        file = FileTarget(fd: fd, path: path, budget: budget, segmentBlockSize: PageMemory.sizeClass(blockSize), workers: workers)
        lane = SerialLane(on: workers)
        body = SegmentSink(start: 0, end: .max, target: file)
    }

    deinit {
        // Once closed, the number may already belong to another file or socket: never close it twice.
        if !closed { close(file.fd) }
    }

    public func begin(offset: Int64, waker: SinkWaker) throws {
        try body.begin(offset: offset, waker: waker)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) -> SinkWrite {
        body.write(bytes)
    }

    /// Writes what is left, checks the length, and renames the file into place.
    ///
    /// Call once the transfer has ended. Nothing is left under either name when it throws.
    /// - Parameter synchronize: Flush the data to the disk before the rename (`fsync`), so that the
    ///   name never points at a file a power cut could empty; the caller flushes the folder after.
    /// - Throws: ``HaulError``: `diskFull` on a full disk, else `output`.
    public func commit(size: Int64, synchronize: Bool = false) async throws {
        do {
            let whole = try await body.finish()
            crc32 = segmentsCRC.withLock { $0 } ?? whole
        } catch {
            if !closed { close(file.fd); closed = true }
            unlink(temporaryPath)
            throw error
        }
        // On the file's lane (its writes have all ended): an fsync blocks for milliseconds, and the
        // caller's thread runs the download's tasks.
        let (fd, path) = (file.fd, self.path)
        let finished: HaulError? = await withCheckedContinuation { c in
            lane.async {
                if ftruncate(fd, off_t(size)) != 0 { return c.resume(returning: HaulError.writing(path, errno: errno, action: "finish")) }
                do {
                    if synchronize { try FileSync.file(fd, path: path) }
                    c.resume(returning: nil)
                } catch {
                    c.resume(returning: error as? HaulError ?? HaulError(.output, "cannot flush \(path): \(error)"))
                }
            }
        }
        if let finished {
            close(fd)
            closed = true
            unlink(temporaryPath)
            throw finished
        }
        closed = true
        if close(fd) != 0 {
            let error = HaulError.writing(path, errno: errno, action: "finish")
            unlink(temporaryPath)
            throw error
        }
        guard rename(temporaryPath, path) == 0 else {
            let error = HaulError.writing(path, errno: errno, action: "rename into")
            unlink(temporaryPath)
            throw error
        }
    }

    /// The error that stopped the writes (a full disk), if any.
    public var writeError: HaulError? { body.writeError }

    /// Drops the partial file. Call once the transfer has ended.
    public func discard() async {
        await body.discard()
        if !closed { close(file.fd); closed = true }
        unlink(temporaryPath)
    }

    /// Sets the file's modification time (Unix seconds), after ``commit(size:)``.
    public func setModificationTime(_ seconds: Int64) {
        var times = [timespec(tv_sec: Int(seconds), tv_nsec: 0), timespec(tv_sec: Int(seconds), tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, path, &times, 0)
    }

    private var closed = false
    /// The CRC-32 of the file's bytes, once ``commit(size:synchronize:)`` has returned (for the manifest,
    /// and for a re-run to tell a file's version).
    public private(set) var crc32: UInt32 = 0
    /// Set when the file arrived in segments: their CRC-32s combined.
    private let segmentsCRC = Locked<UInt32?>(nil)
}

/// A file also takes a product in segments: each writes its blocks at their offsets of the temporary
/// file, and ``FileSink/commit(size:synchronize:)`` then checks, flushes and renames it as usual.
extension FileSink: SegmentableSink {
    func acceptsSegments(size: Int64) -> Bool { true }
    func segmentTarget(size: Int64) throws -> (any PositionalTarget)? { file }
    func segmentsDone(size: Int64, crc: UInt32?) { segmentsCRC.withLock { $0 = crc } }
    func segmentsAbandoned() {}
}
