#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `fsync(2)` for files and for the folders that name them, so that what a run calls done survives a
/// power cut: a file's data before its rename, the folder after (the rename itself lives in the folder).
enum FileSync {
    /// Flushes an open file's data and size. - Throws: ``HaulError`` naming `path` (`diskFull` on a full disk).
    static func file(_ fd: Int32, path: String) throws {
        while fsync(fd) != 0 {
            if errno == EINTR { continue }
            // A file system that cannot flush (some FUSE and special files) has nothing to lose here.
            if errno == EINVAL || errno == EROFS { return }
            throw HaulError.writing(path, errno: errno, action: "flush")
        }
    }

    /// Flushes a folder's entries (names created, renamed or removed in it).
    static func folder(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw HaulError.writing(path, errno: errno, action: "open the folder") }
        defer { close(fd) }
        try file(fd, path: path)
    }
}
