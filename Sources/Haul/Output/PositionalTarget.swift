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
    /// Whether the segments must checksum what they write (a ZIP entry's CRC-32).
    var needsCRC: Bool { get }
    var budget: MemoryBudget { get }
    /// The size of the blocks the segments collect bytes in (a ``PageMemory`` size class).
    var segmentBlockSize: Int { get }
    /// The download's threads, where the segments' blocks are checksummed and written.
    var workers: WorkerPool { get }
}
