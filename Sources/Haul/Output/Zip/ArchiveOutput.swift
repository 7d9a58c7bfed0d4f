import CHaulSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The archive's bytes on their way out: appended in order to a stream, or placed in a file.
///
/// In a file every write first reserves its region at the end (``reserve(_:)``, under a lock), then
/// writes it with `pwrite`: entries staged whole are appended by the writer's queue while big stored
/// entries are written straight into regions reserved for them when their transfer began
/// (``ZipRegion``). A region given up (a failed append, a failed transfer) becomes a hole, removed by
/// ``compact(_:)`` before the central directory is written; a hole at the end is cut off at once.
final class ArchiveOutput: @unchecked Sendable {
    enum Kind {
        case file(fd: Int32, path: String)
        case stream(any DownloadTarget.ByteStream)
    }

    /// A region of a file given up; ``compact(_:)`` removes it.
    struct Hole: Sendable, Hashable {
        var offset: UInt64
        var length: UInt64
    }

    private struct Space {
        var end: UInt64
        var holes: [Hole] = []
    }

    let kind: Kind
    /// A file's early writeback, when the run flushes at its end.
    let writeback: Writeback?
    /// Streams: bytes written so far (the writer's queue only). Files: where the next region starts.
    private var streamed: UInt64
    private let space: Locked<Space>

    init(_ kind: Kind, position: UInt64 = 0, holes: [Hole] = [], writeback: Writeback? = nil) {
        self.kind = kind
        self.writeback = writeback
        self.streamed = position
        self.space = Locked(Space(end: position, holes: holes))
    }

    /// Where the next byte goes: the end of what is written (a stream) or reserved (a file).
    var position: UInt64 {
        if case .file = kind { return space.withLock { $0.end } }
        return streamed
    }

    var isFile: Bool { if case .file = kind { true } else { false } }

    var name: String {
        switch kind {
        case .file(_, let path): path
        case .stream(let s): (s as? FileDescriptorStream)?.name ?? "the output stream"
        }
    }

    // MARK: Regions of a file

    /// Reserves `length` bytes at the end of a file. - Returns: Where they start.
    func reserve(_ length: UInt64) -> UInt64 {
        space.withLock { s in
            defer { s.end += length }
            return s.end
        }
    }

    /// Gives a reserved region back: cut off when it is the last, else kept as a hole for ``compact(_:)``.
    func giveBack(_ offset: UInt64, _ length: UInt64) {
        guard case .file(let fd, _) = kind, length > 0 else { return }
        space.withLock { s in
            if offset + length == s.end {
                s.end = offset
                _ = ftruncate(fd, off_t(offset))
            } else {
                s.holes.append(Hole(offset: offset, length: length))
            }
        }
    }

    /// Writes `bytes` at `offset` of a file, inside a region reserved for them.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        guard case .file(let fd, let path) = kind else { preconditionFailure("a stream has no offsets") }
        guard !bytes.isEmpty else { return }
        try FileIO.pwriteAll(fd, bytes, at: Int64(offset), what: path)
        writeback?.wrote(bytes.count)
    }

    /// Removes every hole: the bytes after each move down over it (in the kernel's page cache, in order,
    /// so the source is always read before it is overwritten), and the entries' offsets follow.
    /// The rare path: only a failed transfer or append in the middle of a file leaves a hole.
    func compact(_ entries: inout [(key: Int, entry: ZipEntry)]) throws {
        guard case .file(let fd, let path) = kind else { return }
        let (holes, end) = space.withLock { s -> ([Hole], UInt64) in
            defer { s.holes = [] }
            return (s.holes.sorted { $0.offset < $1.offset }, s.end)
        }
        guard !holes.isEmpty else { return }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var shift: UInt64 = 0
        for (i, hole) in holes.enumerated() {
            shift += hole.length
            // The bytes between this hole and the next (or the end) move down by every hole so far.
            var from = hole.offset + hole.length
            let until = i + 1 < holes.count ? holes[i + 1].offset : end
            while from < until {
                let n = Int(min(UInt64(buffer.count), until - from))
                let (got, e) = FileIO.readAll(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n]), at: Int64(from))
                guard got == n else { throw HaulError.writing(path, errno: e != 0 ? e : EIO, action: "compact") }
                try FileIO.pwriteAll(fd, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), at: Int64(from - shift), what: path)
                from += UInt64(n)
            }
        }
        for i in entries.indices {
            let offset = entries[i].entry.offset
            entries[i].entry.offset -= holes.filter { $0.offset < offset }.reduce(0) { $0 + $1.length }
        }
        space.withLock { $0.end = end - shift }
        _ = ftruncate(fd, off_t(end - shift))
    }

    // MARK: Appending

    /// Appends a header and an entry's data. - Returns: Where the header starts. On a file, a failure
    /// gives the region back (cut off when it is the last, else a hole).
    @discardableResult
    func append(_ header: [UInt8], _ staged: ZipStaged) throws -> UInt64 {
        guard isFile else {
            let start = streamed
            try appendBytes(header)
            for buffer in staged.memory { try appendBuffer(buffer.bytes) }
            if let spool = staged.spool { try appendSpool(spool.fd, count: Int64(staged.compressedSize)) }
            return start
        }
        let length = UInt64(header.count) + staged.compressedSize
        let start = reserve(length)
        do {
            var at = start
            try header.withUnsafeBytes { try write($0, at: at) }
            at += UInt64(header.count)
            for buffer in staged.memory {
                try write(buffer.bytes, at: at)
                at += UInt64(buffer.length)
            }
            if let spool = staged.spool { try placeSpool(spool.fd, count: Int64(staged.compressedSize), at: at) }
        } catch {
            giveBack(start, length)
            throw error
        }
        return start
    }

    func appendBytes(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try appendBuffer($0) }
    }

    private func appendBuffer(_ bytes: UnsafeRawBufferPointer) throws {
        guard !bytes.isEmpty else { return }
        switch kind {
        case .file:
            let start = reserve(UInt64(bytes.count))
            do { try write(bytes, at: start) } catch { giveBack(start, UInt64(bytes.count)); throw error }
        case .stream(let stream):
            try stream.write(bytes)
            streamed += UInt64(bytes.count)
        }
    }

    /// Copies the first `count` bytes of a spool file to `offset` of the archive file, in the kernel where it can.
    private func placeSpool(_ source: Int32, count: Int64, at offset: UInt64) throws {
        guard case .file(let fd, let path) = kind else { preconditionFailure() }
        var copied: Int64 = 0
        var inOffset: Int64 = 0
        var outOffset = Int64(offset)
        while copied < count {
            let n = csystem_copy_file_range(source, &inOffset, fd, &outOffset, Int(min(count - copied, 1 << 30)))
            if n < 0 {
                if errno == EINTR { continue }
                if copied == 0 && [EXDEV, ENOSYS, EINVAL, EOPNOTSUPP].contains(errno) { break }
                throw HaulError.writing(path, errno: errno, action: "write")
            }
            if n == 0 { throw HaulError(.output, "cannot write \(path): the spool file ended early") }
            copied += Int64(n)
            writeback?.wrote(n)
        }
        guard copied < count else { return }
        try copyByReading(source, from: copied, count: count - copied) { bytes, done in
            try write(bytes, at: offset + UInt64(done))
        }
    }

    /// Appends the first `count` bytes of a spool file to a stream, with `sendfile` where it can.
    private func appendSpool(_ source: Int32, count: Int64) throws {
        guard case .stream(let stream) = kind else { preconditionFailure() }
        if let fdStream = stream as? FileDescriptorStream, try fdStream.send(from: source, offset: 0, count: count) {
            streamed += UInt64(count)
            return
        }
        try copyByReading(source, from: 0, count: count) { bytes, _ in try appendBuffer(bytes) }
    }

    /// Reads `count` bytes of `source` from `offset` in pieces, handing each to `sink` with how many
    /// bytes came before it.
    private func copyByReading(_ source: Int32, from offset: Int64, count: Int64, _ sink: (UnsafeRawBufferPointer, Int64) throws -> Void) throws {
        let size = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        var done: Int64 = 0
        while done < count {
            let want = Int(min(Int64(size), count - done))
            let (n, e) = FileIO.readAll(source, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: offset + done)
            if e != 0 {
                throw HaulError(.output, "cannot read a spool file: \(String(cString: strerror(e)))", underlyingError: POSIXErrorNumber(e))
            }
            if n < want { throw HaulError(.output, "cannot write \(name): the spool file ended early") }
            try sink(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), offset + done)
            done += Int64(n)
        }
    }

    /// Cuts a file back to `offset` (a stream cannot take bytes back: nothing happens).
    func truncate(to offset: UInt64) {
        guard case .file(let fd, _) = kind else { return }
        space.withLock { s in
            if ftruncate(fd, off_t(offset)) == 0 { s.end = offset }
        }
    }
}
