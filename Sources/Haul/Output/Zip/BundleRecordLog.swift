#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A ``StoredBundle``'s records on disk: the CRC-32 and time each entry went out with, so that a server
/// restarted between a client's first bytes and its `Range` request still knows what that client holds.
///
/// Without them a restarted server would fetch the file under a half-sent entry again and send the
/// rest of whatever the archive holds now: when the archive changed the file meanwhile, the client
/// ends with an entry whose bytes and CRC-32 disagree, and no one says so. With them, the entry is
/// checked against what went out (``HaulError/Code/changedOnArchive`` when it differs), and entries
/// the client holds whole are never fetched again just for their CRC-32s.
///
/// # Layout
/// One file per bundle, named after its tag: a 24-byte header (`HAULREC1`, the file count, the
/// bundle's length), then a 16-byte slot per position in the bundle's order: the CRC-32 (4 bytes),
/// a mark saying the slot is written (4 bytes), the time (8 bytes), little-endian.
///
/// A slot is written with one `pwrite`, and flushed to the disk (`fdatasync`), before the entry's first
/// byte goes out (``StoredBundle`` records then, ``write(_:)``), so neither a
/// process killed nor a power cut at any point loses the record of an entry a client may hold. The
/// flushes are a group commit (``GroupCommit``): the records written while one flush runs, by any
/// request of the bundle, share the next, and so do the entries a writer sends one after the other
/// (those complete when their turn comes: ``ZipWriter/Order/onWrite``); a record already on the disk
/// with the same values is neither written nor flushed again. A file made (or started afresh) here has its folder flushed too,
/// with its first flush, so that its name survives as well. A position without a record is treated as
/// it was before records were kept (fetched again). A file whose header does not match its bundle is
/// started afresh. A write or flush that fails is not an error of the download: that record may be
/// lost, as if records were not kept.
package final class BundleRecordLog: @unchecked Sendable {
    static let magic: [UInt8] = Array("HAULREC1".utf8)
    static let written: UInt32 = 0x5245_4331 // "1CER": a slot that holds a record
    package static let headerLength = 24
    package static let slotLength = 16
    /// Record files kept in a folder: the newest, by their last use.
    package static let kept = 64

    let path: String
    // Immutable after init; pwrite on one descriptor from several threads is safe.
    private let fd: Int32
    private let files: Int
    /// The flushes of the records written (``GroupCommit``).
    let commit: GroupCommit
    /// What each slot holds, as written, and the number of the write that wrote it.
    private let slots = Locked<[Int: (crc32: UInt32, modified: Int64, write: UInt64)]>([:])

    /// Opens (or starts) the records of a bundle of `files` entries and `length` bytes tagged `tag` in
    /// `folder`, and drops the oldest record files beyond ``kept``.
    ///
    /// - Throws: ``HaulError`` (`output`) when the file cannot be opened or written.
    package init(folder: String, tag: String, files: Int, length: UInt64) throws {
        // The tag is ours ("haul-HEX-HEX" in quotes); only its letters, digits and dashes name the file.
        let name = String(String.UnicodeScalarView(tag.unicodeScalars.filter { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }))
        let path = folder + "/" + name + ".records"
        self.path = path
        self.files = files
        var fd = System.open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        var made = false
        if fd < 0 && errno == ENOENT {
            fd = System.open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
            made = true
        }
        guard fd >= 0 else { throw HaulError.writing(path, errno: errno, action: "open") }
        self.fd = fd
        var header = Self.magic
        withUnsafeBytes(of: UInt64(files).littleEndian) { header += $0 }
        withUnsafeBytes(of: length.littleEndian) { header += $0 }
        var found = [UInt8](repeating: 0, count: Self.headerLength)
        let (n, _) = found.withUnsafeMutableBytes { FileIO.readAll(fd, into: $0, at: 0) }
        if n != Self.headerLength || found != header {
            // Another bundle's, cut short, or new: start afresh.
            guard ftruncate(fd, 0) == 0 else { throw HaulError.writing(path, errno: errno, action: "truncate") }
            try header.withUnsafeBytes { try FileIO.pwriteAll(fd, $0, at: 0, what: path) }
            made = true
        }
        // A new file's name is in its folder only once the folder is flushed: with the first flush.
        let folderUnflushed = Locked(made)
        commit = GroupCommit { [fd] in
            while fdatasync(fd) != 0 && errno == EINTR {}
            guard folderUnflushed.withLock({ $0 }) else { return }
            // A folder that cannot be flushed leaves the records where they were without a flush.
            if (try? FileSync.folder(folder)) != nil { folderUnflushed.withLock { $0 = false } }
        }
        // In use now: the pruning below keeps the most recently used.
        _ = futimens(fd, nil)
        Self.prune(folder)
    }

    deinit { _ = System.close(fd) }

    /// The records written so far, by position in the bundle's order.
    package func load() -> [Int: (crc32: UInt32, modified: Int64)] {
        let count = files * Self.slotLength
        guard count > 0 else { return [:] }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 8)
        defer { buffer.deallocate() }
        let (n, _) = FileIO.readAll(fd, into: buffer, at: Int64(Self.headerLength))
        var records: [Int: (crc32: UInt32, modified: Int64)] = [:]
        for position in 0..<(n / Self.slotLength) {
            let at = position * Self.slotLength
            guard UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: at + 4, as: UInt32.self)) == Self.written else { continue }
            records[position] = (
                UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: at, as: UInt32.self)),
                Int64(littleEndian: buffer.loadUnaligned(fromByteOffset: at + 8, as: Int64.self))
            )
        }
        return records
    }

    /// Takes the records an earlier process left (``load()``) as this file's slots, and flushes them
    /// once: that process flushed each before its entry went out, but one killed between the write
    /// and the flush left a record only the page cache holds, and this process may send what follows
    /// from it (a bundle's end). Blocks on the disk when there are any.
    package func adopt(_ records: [Int: (crc32: UInt32, modified: Int64)]) {
        guard !records.isEmpty else { return }
        let number = commit.wrote()
        slots.withLock { slots in
            for (position, record) in records where slots[position] == nil {
                slots[position] = (record.crc32, record.modified, number)
            }
        }
        commit.waitUntilFlushed(number)
    }

    /// Writes the records of entries (by position) and returns once they are on the disk: one flush
    /// for all of them and every record written meanwhile (``GroupCommit``). Blocks: call it where a
    /// thread may wait on the disk (a writer's queue). A failed write is not an error of the download:
    /// that position stays unrecorded on disk, as if records were not kept.
    package func write(_ records: [(position: Int, crc32: UInt32, modified: Int64)]) {
        var wait: UInt64 = 0
        for record in records where record.position >= 0 && record.position < files {
            let position = record.position
            if let same = slots.withLock({ $0[position] }), same.crc32 == record.crc32, same.modified == record.modified {
                // Written before (by another request, or an earlier process): on the disk once its flush is.
                wait = max(wait, same.write)
                continue
            }
            var slot = [UInt8]()
            slot.reserveCapacity(Self.slotLength)
            withUnsafeBytes(of: record.crc32.littleEndian) { slot += $0 }
            withUnsafeBytes(of: Self.written.littleEndian) { slot += $0 }
            withUnsafeBytes(of: record.modified.littleEndian) { slot += $0 }
            guard slot.withUnsafeBytes({ FileIO.writeAll(fd, $0, at: Int64(Self.headerLength + position * Self.slotLength)) }) == 0 else { continue }
            // Numbered once written: a flush that begins from now on covers it.
            let number = commit.wrote()
            slots.withLock { $0[position] = (record.crc32, record.modified, number) }
            wait = max(wait, number)
        }
        if wait > 0 { commit.waitUntilFlushed(wait) }
    }

    /// Removes the file: its bundle is forgotten (it could not be finished).
    package func remove() { unlink(path) }

    /// Removes all but the ``kept`` most recently used record files of `folder`.
    static func prune(_ folder: String) {
        guard let dir = opendir(folder) else { return }
        var found: [(name: String, used: Int)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasSuffix(".records") else { continue }
            var st = stat()
            guard lstat(folder + "/" + name, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            found.append((name, st.st_mtim.tv_sec))
        }
        closedir(dir)
        guard found.count > kept else { return }
        for old in found.sorted(by: { $0.used > $1.used }).dropFirst(kept) { unlink(folder + "/" + old.name) }
    }
}
