import CHaulSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An unnamed temporary file for one entry's spilled data, gone when closed (or when the process dies).
final class SpoolFile: @unchecked Sendable {
    let fd: Int32
    /// Where it lies, for messages.
    let folder: String

    init(folder: String) throws {
        self.folder = folder
        var fd: Int32 = -1
        if csystem_o_tmpfile() != 0 { fd = open(folder, csystem_o_tmpfile() | O_RDWR | O_CLOEXEC, 0o600) }
        if fd < 0 {
            // No O_TMPFILE here: a named file, unlinked at once.
            var template = Array((folder + "/.haul-spool.XXXXXX").utf8CString)
            fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            if fd >= 0 { template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) } }
        }
        guard fd >= 0 else {
            let e = errno
            throw HaulError.writing("a spool file in \(folder)", errno: e, action: "create")
        }
        self.fd = fd
    }

    deinit { close(fd) }

    func write(_ buffers: [Buffer], at offset: Int64) throws {
        var offset = offset
        for buffer in buffers {
            try FileIO.pwriteAll(fd, buffer.bytes, at: offset, what: "a spool file in \(folder)")
            offset += Int64(buffer.length)
        }
    }
}
