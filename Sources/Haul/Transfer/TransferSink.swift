/// Where a transfer's bytes go, chunk by chunk, as they arrive.
///
/// ``begin(offset:waker:)`` and ``write(_:)`` are called on the engine's thread: they must not block.
/// A sink that cannot take more now returns ``SinkWrite/pause``; the transfer stops reading (TCP
/// backpressure reaches the server) and the chunk is offered again after the sink calls
/// ``SinkWaker/wake()``. Sinks wake only once drained to half of what made them pause, so a slow sink
/// does not cost a pause per chunk.
package protocol TransferSink: AnyObject, Sendable {
    /// A response body starts at byte `offset` of the product: 0, or where a resumed transfer goes on.
    /// Bytes the sink holds below `offset` stay; any above it are to be replaced.
    func begin(offset: Int64, waker: SinkWaker) throws
    /// The same, with the product's whole length when the response states it (or the catalog does):
    /// a sink that can place bytes (a reserved region of an archive) uses it. By default, the above.
    func begin(offset: Int64, totalLength: Int64?, waker: SinkWaker) throws
    /// Takes the next chunk. The buffer is valid only during the call: copy what is kept.
    func write(_ bytes: UnsafeRawBufferPointer) -> SinkWrite
}

extension TransferSink {
    package func begin(offset: Int64, totalLength: Int64?, waker: SinkWaker) throws {
        try begin(offset: offset, waker: waker)
    }
}
