/// Where `haul bench` puts a response body: nowhere. It counts the bytes (the engine has already
/// checked them against `Content-Length` and the catalog's size) and, when asked, computes their
/// CRC-32, so a run can include the checksum's cost that a download pays.
///
/// Touched only by the engine's thread during an attempt and read by the fetching task after it
/// (the engine's end-of-attempt handoff orders the two), as every sink is.
final class DiscardSink: TransferSink, @unchecked Sendable {
    let computesCRC: Bool
    /// Bytes of the product taken so far, from its start.
    private(set) var taken: Int64 = 0
    /// The CRC-32 of those bytes; `nil` without `computesCRC`, or after a resume went back past what
    /// was taken (the bytes before it are gone, so their CRC cannot be redone).
    private(set) var crc: UInt32?

    init(computesCRC: Bool) {
        self.computesCRC = computesCRC
        self.crc = computesCRC ? 0 : nil
    }

    func begin(offset: Int64, waker: SinkWaker) throws {
        if offset == 0 {
            crc = computesCRC ? 0 : nil
        } else if offset != taken {
            crc = nil
        }
        taken = offset
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> SinkWrite {
        if let crc { self.crc = CRC32.of(bytes, continuing: crc) }
        taken += Int64(bytes.count)
        return .accepted
    }
}
