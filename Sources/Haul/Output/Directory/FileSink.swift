#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes one product to a file that gets its final name only when every byte arrived and was checked:
/// an unnamed file (``UnnamedFile``) where the system has them, else a temporary file beside the final
/// name, renamed into place.
///
/// The bytes go through a ``SegmentSink`` over the whole file (copied once into blocks on the engine
/// thread, written by `pwrite` in order on the download's worker threads, the transfer paused while too much is in
/// flight or the ``MemoryBudget`` is spent); a big product may instead arrive as several segments
/// written into the same file (``SegmentableSink``).
package final class FileSink: TransferSink, @unchecked Sendable {
    package let path: String
    package let temporaryPath: String
    private let file: FileTarget
    /// Where the last steps run (the flush, the rename), off the caller's thread and off the workers.
    private let finishers: WorkerPool
    /// Whether the file is flushed before its rename.
    private let flush: Bool
    private let body: SegmentSink

    /// Opens an unnamed file in `DIR` for `DIR/NAME`, or where the system has none, creates or
    /// truncates `DIR/.NAME.haul-part`.
    ///
    /// - Parameters:
    ///   - finishers: Where the last steps run: threads that may wait on the disk and on the folder.
    ///   - flush: Flush the file before its rename, so that the name never points at a file a power
    ///     cut could empty (the caller flushes the folder after).
    /// - Throws: ``HaulError`` (`output`) naming the path and the system's reason.
    package init(path: String, budget: MemoryBudget, blockSize: Int, workers: WorkerPool, finishers: WorkerPool, flush: Bool) throws {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        self.temporaryPath = "\(folder).\(name).haul-part"
        let unnamed = UnnamedFile.open(in: folder)
        self.unnamed = unnamed != nil
        let fd = unnamed ?? open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            let e = errno
            throw HaulError(.output, "cannot create \(temporaryPath): \(String(cString: strerror(e)))", underlyingError: POSIXErrorNumber(e))
        }
        // What PageMemory really allocates, so that reservations and releases agree.
        file = FileTarget(
            fd: fd, path: path, blocks: SegmentBlocks(budget: budget, size: PageMemory.sizeClass(blockSize), workers: workers),
            writeback: flush ? Writeback(fd: fd, pool: finishers) : nil
        )
        self.finishers = finishers
        self.flush = flush
        body = SegmentSink(start: 0, end: .max, target: file)
    }

    deinit {
        // Once closed, the number may already belong to another file or socket: never close it twice.
        if !closed { close(file.fd) }
    }

    package func begin(offset: Int64, waker: SinkWaker) throws {
        try body.begin(offset: offset, waker: waker)
    }

    package func write(_ bytes: UnsafeRawBufferPointer) -> SinkWrite {
        body.write(bytes)
    }

    /// Writes what is left, checks the length, and renames the file into place.
    ///
    /// Call once the transfer has ended. Nothing is left under either name when it throws.
    /// - Parameters:
    ///   - size: The product's length: the file is cut to it if anything was written past it.
    ///   - modified: The modification time to give the file (Unix seconds), from `Last-Modified`.
    /// - Throws: ``HaulError``: `diskFull` on a full disk, else `output`.
    package func commit(size: Int64, modified: Int64? = nil) async throws {
        // A body that fits one block (most small files) is checksummed and written in the same job as
        // the last steps below; any other has its blocks written, in order, by the workers first.
        let whole = segmentsCRC.withLock { $0 } == nil ? body.takeWhole() : nil
        if whole == nil {
            do {
                let crc = try await body.finish()
                crc32 = segmentsCRC.withLock { $0 } ?? crc
            } catch {
                if !closed { close(file.fd); closed = true }
                if !unnamed { unlink(temporaryPath) }
                throw error
            }
        }
        // Every write has ended. The last steps in one go, off the caller's thread (which runs the
        // download's tasks) and off the workers (which checksum and write every file's blocks): an
        // `fsync` sleeps for milliseconds, and a rename waits for the folder, which every file being
        // created or renamed in it holds in turn. Each step is a system call the file needs: the cut only when something lies past the
        // end (an earlier attempt of a product that changed), the time on the open file.
        closed = true
        let (file, path, temporary, flush, unnamed) = (self.file, self.path, temporaryPath, self.flush, self.unnamed)
        let finish: @Sendable () -> Result<UInt32?, HaulError> = {
            let fd = file.fd
            var crc: UInt32?
            if let (block, at) = whole {
                crc = CRC32.of(block.bytes)
                var failed: HaulError?
                do { try file.write(block.bytes, productOffset: at) } catch {
                    failed = HaulError.wrapping(error, while: "writing bytes \(at)-\(at + Int64(block.length) - 1)")
                }
                PageMemory.free(block.pointer)
                file.blocks.budget.release(block.pointer.count)
                if let failed {
                    close(fd)
                    return .failure(failed)
                }
            }
            if file.extent != size, ftruncate(fd, off_t(size)) != 0 {
                let e = errno
                close(fd)
                return .failure(HaulError.writing(path, errno: e, action: "finish"))
            }
            if let modified {
                let times = [timespec(tv_sec: Int(modified), tv_nsec: 0), timespec(tv_sec: Int(modified), tv_nsec: 0)]
                _ = futimens(fd, times)
            }
            if flush {
                do { try FileSync.file(fd, path: path) } catch {
                    close(fd)
                    return .failure(error as? HaulError ?? HaulError(.output, "cannot flush \(path): \(error)"))
                }
            }
            if unnamed {
                // Named while open (a link needs the descriptor), then closed: a close that fails after
                // the name was given takes the name away again.
                let e = UnnamedFile.name(fd, path: path, temporary: temporary)
                guard e == 0 else {
                    close(fd)
                    return .failure(HaulError.writing(path, errno: e, action: "name"))
                }
                if close(fd) != 0 {
                    let e = errno
                    unlink(path)
                    return .failure(HaulError.writing(path, errno: e, action: "finish"))
                }
                return .success(crc)
            }
            if close(fd) != 0 { return .failure(HaulError.writing(path, errno: errno, action: "finish")) }
            guard rename(temporary, path) == 0 else { return .failure(HaulError.writing(path, errno: errno, action: "rename into")) }
            return .success(crc)
        }
        let outcome: Result<UInt32?, HaulError>
        if unnamed && !flush {
            // Without a flush, an unnamed file's last steps are a few short system calls (a small
            // file's one block, the time, the link, the close), and the link holds the folder only
            // while it adds the name: done here, on the download's thread, they cost less than the two
            // thread switches of a hop there and back (10,000 files of 2 KiB: a quarter of the samples
            // were switches and wake-ups).
            outcome = finish()
        } else {
            outcome = await withCheckedContinuation { c in
                finishers.async { c.resume(returning: finish()) }
            }
        }
        switch outcome {
        case .success(let crc):
            if let crc { crc32 = crc }
        case .failure(let error):
            if !unnamed { unlink(temporaryPath) }
            throw error
        }
    }

    /// The error that stopped the writes (a full disk), if any.
    package var writeError: HaulError? { body.writeError }

    /// Drops the partial file. Call once the transfer has ended.
    package func discard() async {
        await body.discard()
        if !closed { close(file.fd); closed = true }
        if !unnamed { unlink(temporaryPath) }
    }

    /// Whether the file is unnamed until complete (else it is at ``temporaryPath``).
    private let unnamed: Bool
    private var closed = false
    /// The CRC-32 of the file's bytes, once ``commit(size:modified:)`` has returned (for the manifest,
    /// and for a re-run to tell a file's version).
    package private(set) var crc32: UInt32 = 0
    /// Set when the file arrived in segments: their CRC-32s combined.
    private let segmentsCRC = Locked<UInt32?>(nil)
}

/// A file also takes a product in segments: each writes its blocks at their offsets of the temporary
/// file, and ``FileSink/commit(size:modified:)`` then checks, flushes and renames it as usual.
extension FileSink: SegmentableSink {
    func acceptsSegments(size: Int64) -> Bool { true }
    func segmentTarget(size: Int64) throws -> (any PositionalTarget)? { file }
    func segmentsDone(size: Int64, crc: UInt32?) { segmentsCRC.withLock { $0 = crc } }
    func segmentsAbandoned() {}
}
