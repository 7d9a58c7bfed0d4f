#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the segments of one product are written, each at its offsets: a file being downloaded
/// (``FileSink``) or the region of a ZIP entry (``ZipEntrySink``).
protocol PositionalTarget: AnyObject, Sendable {
    /// Writes bytes of the product at `offset`. Called on the segments' lanes, never the engine thread.
    func write(_ bytes: UnsafeRawBufferPointer, productOffset offset: Int64) throws
    /// The memory, block size and threads the segments' blocks use. Every target's bytes are
    /// checksummed as the segments write them (the manifest's and a ZIP entry's CRC-32).
    var blocks: SegmentBlocks { get }
}
