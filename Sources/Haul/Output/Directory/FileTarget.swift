import Synchronization

/// The temporary file of a ``FileSink``, as its body and its segments write into it.
final class FileTarget: PositionalTarget {
    let fd: Int32
    /// The final name, which messages give (a full disk names the file the user asked for).
    let path: String
    /// Checksummed as written (on the file's queue, in order), so that the manifest states every file's
    /// CRC-32 without reading it back.
    let blocks: SegmentBlocks
    /// The file's early writeback, when it is flushed before its rename.
    let writeback: Writeback?

    private let end = Atomic<Int64>(0)

    init(fd: Int32, path: String, blocks: SegmentBlocks, writeback: Writeback? = nil) {
        self.fd = fd
        self.path = path
        self.blocks = blocks
        self.writeback = writeback
    }

    /// The end of the furthest write (the file's length, as it was created empty); read once the
    /// writes have ended.
    var extent: Int64 { end.load(ordering: .acquiring) }

    func write(_ bytes: UnsafeRawBufferPointer, productOffset offset: Int64) throws {
        try FileIO.pwriteAll(fd, bytes, at: offset, what: path)
        writeback?.wrote(bytes.count)
        let last = offset + Int64(bytes.count)
        var seen = end.load(ordering: .relaxed)
        while last > seen {
            let (exchanged, now) = end.compareExchange(expected: seen, desired: last, ordering: .acquiringAndReleasing)
            if exchanged { break }
            seen = now
        }
    }
}
