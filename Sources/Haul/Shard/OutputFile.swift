import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written from the start, with errors that name it.
final class OutputFile {
    let path: String
    let fd: Int32

    init(_ path: String, truncate: Bool = true) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0o644)
        guard fd >= 0 else { throw HaulError(.output, "cannot create \(path): \(String(cString: strerror(errno)))") }
    }

    deinit { if fd >= 0 { close(fd) } }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    func write(_ buffer: UnsafeRawBufferPointer) throws {
        let e = FileIO.writeAll(fd, buffer)
        if e != 0 { throw HaulError(.output, "cannot write \(path): \(String(cString: strerror(e)))", underlyingError: POSIXErrorNumber(e)) }
    }

    /// Flushes the file to the disk.
    func finish() throws {
        guard fsync(fd) == 0 || errno == EINVAL else { throw HaulError(.output, "cannot write \(path): \(String(cString: strerror(errno)))") }
    }
}
