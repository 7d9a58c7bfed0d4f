#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Takes one byte of a range probe and refuses more: a server that answers the probe with the whole
/// product (200) is stopped at its first chunk, not downloaded for nothing.
final class ProbeSink: TransferSink, @unchecked Sendable {
    func begin(offset: Int64, waker: SinkWaker) throws {}
    func write(_ bytes: UnsafeRawBufferPointer) -> SinkWrite {
        bytes.count <= 1 ? .accepted : .failed(HaulError(.output, "the server answered a range probe with more than the byte asked"))
    }
}
