#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A region of an archive file reserved for one stored entry whose size is known, written in place as
/// its bytes arrive.
struct ZipRegion: Sendable {
    /// Its entry: offset, name, sizes; CRC 0 and marker 0 until complete.
    let entry: ZipEntry
    let headerLength: Int
    let output: ArchiveOutput

    /// Where the entry's data starts.
    var dataOffset: UInt64 { entry.offset + UInt64(headerLength) }
    /// The header that marks the region as arriving.
    var placeholder: [UInt8] { entry.localHeader() }

    /// Writes bytes of the entry at `offset` within its data.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        precondition(offset >= 0 && UInt64(offset) + UInt64(bytes.count) <= entry.compressedSize, "a write outside its region")
        try output.write(bytes, at: dataOffset + UInt64(offset))
    }
}
