import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes one product to a temporary file beside its final name, renamed into place only when every
/// byte arrived and was checked.
///
/// Chunks are copied once, into blocks, on the engine thread; full blocks are written by `pwrite` on
/// a serial queue per file (files write in parallel, one file's blocks in order), so the engine thread
/// never waits on the disk. A file with more than its share of blocks in flight, or a download over
/// its ``MemoryBudget``, pauses its transfer until the writes drain to half.
public final class FileSink: TransferSink, @unchecked Sendable {
    public let path: String
    public let temporaryPath: String
    private let fd: Int32
    private let queue: DispatchQueue
    let budget: MemoryBudget
    private let highWater: Int
    /// The size of the blocks written (segments use it too).
    let segmentBlockSize: Int

    private struct Shared {
        var pending = 0          // bytes in blocks handed to the queue, not yet written
        var wakeAtHalf = false
        var error: HaulError?
        /// The transfer's waker, for the write queue that drains a paused file (set again by each attempt).
        var waker = SinkWaker {}
    }
    private let shared = Locked(Shared())
    // Engine thread only (and the commit/discard caller once the transfer has ended).
    private var filler: BlockFiller
    private var waker = SinkWaker {}

    /// Opens `DIR/.NAME.haul-part` for `DIR/NAME`, creating or truncating it.
    ///
    /// - Throws: ``HaulError`` (`output`) naming the path and the system's reason.
    public init(path: String, budget: MemoryBudget, blockSize: Int, ioQueue: DispatchQueue) throws {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        self.temporaryPath = "\(folder).\(name).haul-part"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            let e = errno
            throw HaulError(.output, "cannot create \(temporaryPath): \(String(cString: strerror(e)))", underlyingError: POSIXErrorNumber(e))
        }
        self.budget = budget
        // What PageMemory really allocates, so that reservations and releases agree.
        filler = BlockFiller(blockSize: PageMemory.sizeClass(blockSize), budget: budget)
        segmentBlockSize = PageMemory.sizeClass(blockSize)
        self.highWater = 4 * filler.blockSize
        self.queue = DispatchQueue(label: "haul.file", target: ioQueue)
    }

    deinit {
        filler.drop()
        // Once closed, the number may already belong to another file or socket: never close it twice.
        if !closed { close(fd) }
    }

    public func begin(offset: Int64, waker: SinkWaker) throws {
        self.waker = waker
        shared.withLock { $0.waker = waker }
        flushBlock()
        filler.position = offset
    }

    public func write(_ bytes: UnsafeRawBufferPointer) -> SinkWrite {
        let verdict = shared.withLock { s -> SinkWrite? in
            if let error = s.error { return .failed(error) }
            if s.pending >= highWater { s.wakeAtHalf = true; return .pause }
            return nil
        }
        if let verdict { return verdict }
        let copied = filler.copy(bytes, waker: waker) { block, offset in write(block, at: offset) }
        return copied ? .accepted : .pause
    }

    /// Hands the partly filled block to the file's queue.
    private func flushBlock() {
        if let (block, offset) = filler.take() { write(block, at: offset) }
    }

    /// Writes a block on the file's queue, which then owns it.
    private func write(_ block: Buffer, at offset: Int64) {
        let count = block.length
        shared.withLock { $0.pending += count }
        let fd = self.fd
        queue.async { [self] in
            var error: HaulError?
            do {
                try FileIO.pwriteAll(fd, block.bytes, at: offset, what: path)
            } catch let e as HaulError {
                error = e
            } catch {}
            PageMemory.free(block.pointer)
            budget.release(block.pointer.count)
            let wake = shared.withLock { s -> SinkWaker? in
                s.pending -= count
                if let error, s.error == nil { s.error = error }
                guard s.wakeAtHalf, s.pending <= highWater / 2 || s.error != nil else { return nil }
                s.wakeAtHalf = false
                return s.waker
            }
            wake?.wake()
        }
    }

    /// Writes what is left, checks the length, and renames the file into place.
    ///
    /// Call once the transfer has ended. Nothing is left under either name when it throws.
    /// - Parameter synchronize: Flush the data to the disk before the rename (`fsync`), so that the
    ///   name never points at a file a power cut could empty; the caller flushes the folder after.
    /// - Throws: ``HaulError``: `diskFull` on a full disk, else `output`.
    public func commit(size: Int64, synchronize: Bool = false) async throws {
        flushBlock()
        await drain()
        if let error = shared.withLock({ $0.error }) {
            if !closed { close(fd); closed = true }
            unlink(temporaryPath)
            throw error
        }
        // On the file's queue, as its writes were: an fsync blocks for milliseconds, and the caller's
        // thread is one of the few that run every task.
        let (fd, path) = (self.fd, self.path)
        let finished: HaulError? = await withCheckedContinuation { c in
            queue.async {
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
    public var writeError: HaulError? { shared.withLock { $0.error } }

    /// Drops the partial file. Call once the transfer has ended.
    public func discard() async {
        filler.drop()
        await drain()
        if !closed { close(fd); closed = true }
        unlink(temporaryPath)
    }

    /// Sets the file's modification time (Unix seconds), after ``commit(size:)``.
    public func setModificationTime(_ seconds: Int64) {
        var times = [timespec(tv_sec: Int(seconds), tv_nsec: 0), timespec(tv_sec: Int(seconds), tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, path, &times, 0)
    }

    private var closed = false

    private func drain() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in queue.async { c.resume() } }
    }
}

/// A file also takes a product in segments: each writes its blocks at their offsets of the temporary
/// file, and ``FileSink/commit(size:synchronize:)`` then checks, flushes and renames it as usual.
extension FileSink: SegmentableSink, PositionalTarget {
    func acceptsSegments(size: Int64) -> Bool { true }
    func segmentTarget(size: Int64) throws -> (any PositionalTarget)? { self }
    func segmentsDone(size: Int64, crc: UInt32?) {}
    func segmentsAbandoned() {}
    var needsCRC: Bool { false }

    func write(_ bytes: UnsafeRawBufferPointer, productOffset offset: Int64) throws {
        try FileIO.pwriteAll(fd, bytes, at: offset, what: temporaryPath)
    }
}
