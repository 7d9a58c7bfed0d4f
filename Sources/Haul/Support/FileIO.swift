#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one read-all and write-all of the package: whole reads and writes of a file descriptor, with
/// interrupted (`EINTR`) and short transfers handled. Every loop over `read`/`pread`/`write`/`pwrite`
/// in the package is one of these.
package enum FileIO {
    /// Writes all of `bytes`: at `offset` (`pwrite`), or at the descriptor's position when `offset` is `nil`.
    ///
    /// - Parameter wouldBlock: Called when a non-blocking descriptor is full (`EAGAIN`), before trying
    ///   again; `nil` makes `EAGAIN` an error like any other.
    /// - Returns: 0 when all was written, else the `errno` that stopped it.
    package static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64? = nil, wouldBlock: (() -> Void)? = nil) -> Int32 {
        guard let base = bytes.baseAddress else { return 0 }
        var done = 0
        while done < bytes.count {
            let n = if let offset {
                pwrite(fd, base + done, bytes.count - done, off_t(offset) + off_t(done))
            } else {
                System.write(fd, base + done, bytes.count - done)
            }
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                if e == EAGAIN, let wouldBlock { wouldBlock(); continue }
                return e
            }
            done += n
        }
        return 0
    }

    /// Reads into all of `buffer` from `offset` (`pread`), stopping early only at the end of the file.
    ///
    /// - Returns: The bytes read (fewer than `buffer.count` at the end of the file), and 0 or the
    ///   `errno` that stopped the read.
    package static func readAll(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) -> (count: Int, errno: Int32) {
        guard let base = buffer.baseAddress else { return (0, 0) }
        var done = 0
        while done < buffer.count {
            let n = pread(fd, base + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                return (done, e)
            }
            if n == 0 { break }
            done += n
        }
        return (done, 0)
    }

    /// Writes all of `bytes` at `offset`, or throws the write error naming `what`.
    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64, what: String) throws {
        let e = writeAll(fd, bytes, at: offset)
        if e != 0 { throw HaulError.writing(what, errno: e) }
    }
}
