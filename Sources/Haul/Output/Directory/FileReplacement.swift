#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Replaces a small file whole (a manifest, a shard's status or catalog): readers see the old file or
/// the new one, never a mix, never a part.
///
/// The bytes go to a temporary file of this call's own, `.NAME.XXXXXXXXXXXXXXXX.haul-part` beside
/// `NAME` (16 random hex digits, created exclusively), and that is renamed over `NAME`. Its own name is
/// what makes writers safe together: the shards of a plan that share one tree write its manifests at
/// any moment, from any machine mounting it, so a name derived from the path alone (or from a process
/// number, which another machine reuses) would let one writer's rename take another's half-written
/// file. The last rename wins, whole. A process killed between its create and its rename leaves its
/// temporary file; the `.haul-part` ending says what it is.
package enum FileReplacement {
    /// Writes `bytes` to `path` through a temporary file renamed over it; flushed first when
    /// `synchronize` (the caller flushes the folder when the rename must last too).
    ///
    /// - Throws: ``HaulError`` naming `path`: `diskFull` on a full disk, else `output`. Nothing is left
    ///   under the temporary name when it throws.
    package static func write(_ path: String, _ bytes: UnsafeRawBufferPointer, synchronize: Bool) throws {
        try replace(path, synchronize: synchronize) { FileIO.writeAll($0, bytes) }
    }

    /// Writes the text `produce` hands out, a piece at a time, through a buffer of 64 KiB: a manifest
    /// of a million rows (hundreds of MB as one string, and as much again as its bytes) never whole
    /// in memory.
    package static func write(_ path: String, synchronize: Bool, pieces produce: ((String) -> Void) -> Void) throws {
        try replace(path, synchronize: synchronize) { fd in
            let flushAt = 1 << 16
            var buffer: [UInt8] = []
            buffer.reserveCapacity(flushAt + 4_096)
            var e: Int32 = 0
            produce { piece in
                guard e == 0 else { return }
                buffer.append(contentsOf: piece.utf8)
                if buffer.count >= flushAt {
                    e = buffer.withUnsafeBytes { FileIO.writeAll(fd, $0) }
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            if e == 0, !buffer.isEmpty { e = buffer.withUnsafeBytes { FileIO.writeAll(fd, $0) } }
            return e
        }
    }

    /// The steps every write takes: a temporary file of its own, filled by `fill` (which returns 0 or
    /// an errno), flushed when asked, closed, renamed over `path`; removed when any step fails.
    private static func replace(_ path: String, synchronize: Bool, _ fill: (Int32) -> Int32) throws {
        let (fd, temporary) = try create(beside: path)
        var failure: HaulError?
        let e = fill(fd)
        if e != 0 { failure = HaulError.writing(path, errno: e) }
        if failure == nil, synchronize {
            do { try FileSync.file(fd, path: path) } catch { failure = error as? HaulError ?? HaulError(.output, "cannot flush \(path): \(error)") }
        }
        if close(fd) != 0, failure == nil { failure = HaulError.writing(path, errno: errno) }
        if failure == nil, rename(temporary, path) != 0 { failure = HaulError.writing(path, errno: errno) }
        if let failure {
            unlink(temporary)
            throw failure
        }
    }

    package static func write(_ path: String, _ text: String, synchronize: Bool) throws {
        var text = text
        try text.withUTF8 { try write(path, UnsafeRawBufferPointer($0), synchronize: synchronize) }
    }

    package static func write(_ path: String, _ bytes: [UInt8], synchronize: Bool) throws {
        try bytes.withUnsafeBytes { try write(path, $0, synchronize: synchronize) }
    }

    /// Creates a temporary file no one else has: a fresh random name, opened with `O_EXCL`.
    private static func create(beside path: String) throws -> (Int32, String) {
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        while true {
            let tag = String(UInt64.random(in: .min ... .max), radix: 16)
            let temporary = "\(folder).\(name).\(String(repeating: "0", count: 16 - tag.count) + tag).haul-part"
            let fd = System.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
            if fd >= 0 { return (fd, temporary) }
            // Taken (2^-64 a try): another name. Anything else is the folder's answer to every name.
            if errno == EEXIST || errno == EINTR { continue }
            throw HaulError.writing(path, errno: errno, action: "create a temporary file for")
        }
    }
}
