import CHaulSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A ``DownloadTarget/ByteStream`` over a file descriptor (a pipe, a socket, a terminal); it does not close it.
package final class FileDescriptorStream: DownloadTarget.ByteStream {
    package let fd: Int32
    package let name: String

    /// - Parameter name: How errors name the destination ("standard output").
    package init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }

    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        let e = FileIO.writeAll(fd, bytes, wouldBlock: waitWritable)
        if e != 0 { throw error(e) }
    }

    /// Copies `count` bytes of `source` from `offset` without passing them through user memory.
    /// - Returns: `false` when the kernel cannot (the caller copies instead).
    func send(from source: Int32, offset: Int64, count: Int64) throws -> Bool {
        #if !os(Linux)
        return false  // Darwin's sendfile(2) writes to sockets only, and has another signature
        #else
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
        #endif
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
