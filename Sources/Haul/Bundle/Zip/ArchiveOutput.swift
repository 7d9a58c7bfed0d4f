import CHaulSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `write(2)`, reachable where a method of that name hides it.
private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int { write(fd, bytes, count) }

/// A destination for a streamed archive that cannot seek: standard output, a socket, a program's buffer.
///
/// ``write(_:)`` is called on the bundle's writer queue, in order, and may block.
public protocol ByteStream: AnyObject, Sendable {
    /// Writes all of `bytes`, or throws.
    func write(_ bytes: UnsafeRawBufferPointer) throws
}

/// A ``ByteStream`` over a file descriptor (a pipe, a socket, a terminal); it does not close it.
public final class FileDescriptorStream: ByteStream {
    public let fd: Int32
    public let name: String

    /// - Parameter name: How errors name the destination ("standard output").
    public init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN { waitWritable(); continue }
                throw error(errno)
            }
            done += n
        }
    }

    /// Copies `count` bytes of `source` from `offset` without passing them through user memory.
    /// - Returns: `false` when the kernel cannot (the caller copies instead).
    func send(from source: Int32, offset: Int64, count: Int64) throws -> Bool {
        var position = off_t(offset)
        var left = count
        while left > 0 {
            let n = sendfile(fd, source, &position, Int(min(left, 1 << 30)))
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN { waitWritable(); continue }
                if (errno == EINVAL || errno == ENOSYS) && left == count { return false }
                throw error(errno)
            }
            if n == 0 { throw HaulError(.output, "cannot write \(name): the spool file ended early") }
            left -= Int64(n)
        }
        return true
    }

    private func waitWritable() {
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        _ = poll(&p, 1, 1000)
    }

    private func error(_ e: Int32) -> HaulError {
        guard e == EPIPE else { return HaulError.writing(name, errno: e) }
        return HaulError(.output, "cannot write \(name): the reader went away (broken pipe)", underlyingError: POSIXErrorNumber(e))
    }
}

/// The archive's bytes on their way out: appended in order, to a file (which can also be truncated back
/// to the last whole entry) or to a stream.
final class ArchiveOutput: @unchecked Sendable {
    enum Kind {
        case file(fd: Int32, path: String)
        case stream(any ByteStream)
    }

    let kind: Kind
    /// Bytes written so far: where the next one goes.
    private(set) var position: UInt64

    init(_ kind: Kind, position: UInt64 = 0) {
        self.kind = kind
        self.position = position
    }

    var name: String {
        switch kind {
        case .file(_, let path): path
        case .stream(let s): (s as? FileDescriptorStream)?.name ?? "the output stream"
        }
    }

    /// Appends a header and an entry's data. On a file, a failure truncates back to where it began.
    func append(_ header: [UInt8], _ staged: ZipStaged) throws {
        let start = position
        do {
            try appendBytes(header)
            for buffer in staged.memory { try appendBuffer(buffer.bytes) }
            if let spool = staged.spool { try appendSpool(spool.fd, count: Int64(staged.compressedSize)) }
        } catch {
            truncate(to: start)
            throw error
        }
    }

    func appendBytes(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try appendBuffer($0) }
    }

    private func appendBuffer(_ bytes: UnsafeRawBufferPointer) throws {
        guard !bytes.isEmpty else { return }
        switch kind {
        case .file(let fd, let path):
            try FileIO.pwriteAll(fd, bytes, at: Int64(position), what: path)
        case .stream(let stream):
            try stream.write(bytes)
        }
        position += UInt64(bytes.count)
    }

    /// Appends the first `count` bytes of `source`, in the kernel where it can.
    private func appendSpool(_ source: Int32, count: Int64) throws {
        var copied: Int64 = 0
        switch kind {
        case .file(let fd, let path):
            var inOffset: Int64 = 0
            var outOffset = Int64(position)
            while copied < count {
                let n = csystem_copy_file_range(source, &inOffset, fd, &outOffset, Int(min(count - copied, 1 << 30)))
                if n < 0 {
                    if errno == EINTR { continue }
                    if copied == 0 && [EXDEV, ENOSYS, EINVAL, EOPNOTSUPP].contains(errno) { break }
                    throw HaulError.writing(path, errno: errno)
                }
                if n == 0 { throw HaulError(.output, "cannot write \(path): the spool file ended early") }
                copied += Int64(n)
            }
            position += UInt64(copied)
        case .stream(let stream):
            if let fdStream = stream as? FileDescriptorStream, try fdStream.send(from: source, offset: 0, count: count) {
                position += UInt64(count)
                return
            }
        }
        if copied < count { try copyByReading(source, from: copied, count: count - copied) }
    }

    private func copyByReading(_ source: Int32, from offset: Int64, count: Int64) throws {
        let size = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        var done: Int64 = 0
        while done < count {
            let n = pread(source, buffer.baseAddress, Int(min(Int64(size), count - done)), off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                throw HaulError(.output, "cannot read a spool file: \(String(cString: strerror(e)))", underlyingError: POSIXErrorNumber(e))
            }
            if n == 0 { throw HaulError(.output, "cannot write \(name): the spool file ended early") }
            try appendBuffer(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            done += Int64(n)
        }
    }

    /// Cuts a file back to `offset` (a stream cannot take bytes back: nothing happens).
    func truncate(to offset: UInt64) {
        guard case .file(let fd, _) = kind else { return }
        if ftruncate(fd, off_t(offset)) == 0 { position = offset }
    }
}
