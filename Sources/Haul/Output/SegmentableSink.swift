#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A sink whose product may arrive as several segments over several connections at once.
protocol SegmentableSink: TransferSink {
    /// Whether a product of `size` bytes could be taken in segments (asked before the server is probed).
    func acceptsSegments(size: Int64) -> Bool
    /// Readies the sink for a product of `size` bytes arriving in segments. - Returns: Where the
    /// segments write, or `nil` when this sink cannot take them (a deflated ZIP entry): then the product
    /// is fetched whole.
    func segmentTarget(size: Int64) throws -> (any PositionalTarget)?
    /// Every segment arrived and was written; `crc` is the whole product's CRC-32 when the target needs one.
    func segmentsDone(size: Int64, crc: UInt32?)
    /// The segments are abandoned (a failure, a cancellation): nothing of them counts.
    func segmentsAbandoned()
}
