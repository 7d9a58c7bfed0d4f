#if canImport(Glibc)
import Glibc
#endif

/// A stream that drops the first bytes written to it: a resumed bundle's output, from an entry's
/// start, of which the client already has the first `skip` bytes.
final class SkippingStream: DownloadTarget.ByteStream, @unchecked Sendable {
    private let stream: any DownloadTarget.ByteStream
    // Touched only by the writer's queue.
    private var skip: UInt64

    init(_ stream: any DownloadTarget.ByteStream, skip: UInt64) {
        self.stream = stream
        self.skip = skip
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard skip > 0 else { return try stream.write(bytes) }
        let dropped = Int(min(UInt64(bytes.count), skip))
        skip -= UInt64(dropped)
        if dropped < bytes.count { try stream.write(UnsafeRawBufferPointer(rebasing: bytes[dropped...])) }
    }
}
