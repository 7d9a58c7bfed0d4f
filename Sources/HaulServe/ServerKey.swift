import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Haul

/// A server key kept in a file (`haul serve --key-file`), so that the addresses a server gave out, and
/// the downloads a browser or a download manager resumes from them, still work after a restart.
///
/// The key is a password for the page, its downloads and its uploads, so the file is treated as one,
/// as ssh treats a private key: made readable by its owner alone, and refused when others can read
/// it, when it belongs to another user or is not a regular file.
public enum ServerKey {
    /// The key in `path`, or a new random one written there (mode 0600) when there is no such file.
    ///
    /// - Throws: ``HaulError`` (`invalidArgument`) naming the file and what is wrong with it.
    public static func load(from path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 {
            let e = errno
            if e == ENOENT { return try create(path) }
            if e == ELOOP { throw HaulError(.invalidArgument, "\(path) is a symbolic link: give the key file itself") }
            throw HaulError(.invalidArgument, "cannot read \(path): \(String(cString: strerror(e)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw HaulError(.invalidArgument, "\(path) is not a regular file")
        }
        guard st.st_uid == geteuid() else {
            throw HaulError(.invalidArgument, "\(path) belongs to another user: the key file must be your own")
        }
        guard st.st_mode & 0o077 == 0 else {
            throw HaulError(.invalidArgument, "\(path) can be read by other users (mode \(String(st.st_mode & 0o777, radix: 8))): the key is a password; chmod 600 \(path)")
        }
        var bytes = [UInt8](repeating: 0, count: 257)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n >= 0 else { throw HaulError(.invalidArgument, "cannot read \(path): \(String(cString: strerror(errno)))") }
        let text = String(decoding: bytes[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard isKey(text) else {
            throw HaulError(.invalidArgument, "\(path) holds no key: one line of 16 to 128 letters, digits, '-' or '_' (remove the file to have a new one made)")
        }
        return text
    }

    /// The folder beside a key file (`FILE.bundles`) where a server keeps the records of the stored
    /// bundles it sends (``OverlayServer/Configuration/recordsFolder``): made (mode 700) when missing.
    ///
    /// What a restarted server needs to resume a bundle safely lives with what it needs to accept the
    /// resuming request at all: without the key file the addresses change, so nothing resumes.
    ///
    /// - Throws: ``HaulError`` (`invalidArgument`) when it is not a folder of the user's own that only
    ///   they can use, or cannot be made.
    public static func recordsFolder(beside keyFile: String) throws -> String {
        let path = keyFile + ".bundles"
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw HaulError(.invalidArgument, "cannot make \(path) (the records of the bundles sent): \(String(cString: strerror(errno)))")
        }
        var st = stat()
        guard lstat(path, &st) == 0 else {
            throw HaulError(.invalidArgument, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw HaulError(.invalidArgument, "\(path) is not a folder (it holds the records of the bundles sent): remove it, or give another --key-file")
        }
        guard st.st_uid == geteuid() else {
            throw HaulError(.invalidArgument, "\(path) belongs to another user: the records of the bundles sent must be your own")
        }
        guard st.st_mode & 0o077 == 0 else {
            throw HaulError(.invalidArgument, "\(path) can be used by other users (mode \(String(st.st_mode & 0o777, radix: 8))): chmod 700 \(path)")
        }
        return path
    }

    /// Whether `text` can be a key: it goes into URLs unescaped and is compared as it is.
    static func isKey(_ text: String) -> Bool {
        (16...128).contains(text.utf8.count) && text.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F
        }
    }

    private static func create(_ path: String) throws -> String {
        let key = OverlayServer.randomKey()
        // O_EXCL: never over a file that appeared meanwhile, nor through a link planted there.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw HaulError(.invalidArgument, "cannot create the key file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let line = Array((key + "\n").utf8)
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count, fsync(fd) == 0 || errno == EINVAL else {
            let e = errno
            unlink(path)
            throw HaulError(.invalidArgument, "cannot write the key file \(path): \(String(cString: strerror(e)))")
        }
        return key
    }
}
