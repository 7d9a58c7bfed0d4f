import CZlib

/// Inflates a raw deflate stream piece by piece, to check an entry of an earlier run.
final class RawInflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private var output = [UInt8](repeating: 0, count: 1 << 18)
    private(set) var crc: UInt32 = 0
    private(set) var produced: UInt64 = 0
    private(set) var ended = false
    private(set) var failed = false

    init() {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        precondition(czlib_inflate_init_raw(stream) == Z_OK)
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Feeds compressed bytes. - Returns: How many were consumed (fewer once the stream ended).
    /// - Parameter made: Given each piece of inflated bytes, when the caller wants them.
    @discardableResult
    func feed(_ input: UnsafeRawBufferPointer, made handOut: ((UnsafeRawBufferPointer) -> Void)? = nil) -> Int {
        guard !ended, !failed, !input.isEmpty else { return 0 }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        while true {
            let (status, made) = output.withUnsafeMutableBytes { out -> (Int32, Int) in
                stream.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(out.count)
                let status = inflate(stream, Z_NO_FLUSH)
                let made = out.count - Int(stream.pointee.avail_out)
                crc = CRC32.of(UnsafeRawBufferPointer(rebasing: out[0..<made]), continuing: crc)
                handOut?(UnsafeRawBufferPointer(rebasing: out[0..<made]))
                return (status, made)
            }
            produced += UInt64(made)
            if status == Z_STREAM_END { ended = true; break }
            if status != Z_OK && status != Z_BUF_ERROR { failed = true; break }
            if stream.pointee.avail_in == 0 && stream.pointee.avail_out != 0 { break }
            if status == Z_BUF_ERROR && made == 0 { break }
        }
        let consumed = input.count - Int(stream.pointee.avail_in)
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
        return consumed
    }
}
