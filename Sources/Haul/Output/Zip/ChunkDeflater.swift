import CZlib

/// Raw deflate of independent chunks, pigz-style: every chunk but the last ends with a sync flush on a
/// byte boundary, so the chunks, compressed on any threads, concatenate into one deflate stream.
///
/// zlib streams are kept in a pool and reset between chunks, so a chunk costs no allocation inside zlib.
final class ChunkDeflater: Sendable {
    let level: Int
    private let pool = Locked<[StreamBox]>([])

    init(level: Int) {
        self.level = level
    }

    deinit {
        pool.withLock { boxes in
            for box in boxes {
                deflateEnd(box.stream)
                box.stream.deallocate()
            }
            boxes.removeAll()
        }
    }

    /// Compresses `input`, the chunk at its place in an entry, into a new buffer.
    ///
    /// - Returns: The buffer (its capacity is zlib's bound) and the compressed length.
    func compress(_ input: UnsafeRawBufferPointer, final: Bool) -> (UnsafeMutableRawBufferPointer, Int) {
        let box = pool.withLock { $0.popLast() } ?? StreamBox(level: level)
        defer { pool.withLock { $0.append(box) } }
        let stream = box.stream
        deflateReset(stream)
        // The bound covers the worst case of one call; a sync flush adds at most 6 bytes more.
        let capacity = Int(deflateBound(stream, uLong(input.count))) + 16
        let output = PageMemory.allocate(capacity)
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(capacity)
        let result = deflate(stream, final ? Z_FINISH : Z_SYNC_FLUSH)
        precondition(result == (final ? Z_STREAM_END : Z_OK) && stream.pointee.avail_in == 0, "deflate of a bounded chunk failed: \(result)")
        let length = capacity - Int(stream.pointee.avail_out)
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
        return (output, length)
    }

    /// Deflates text as `produce` gives it, a piece at a time, so that the whole text is never in memory
    /// (a million rows' manifest is hundreds of MB): each MiB is compressed as a chunk of one stream and
    /// handed to `chunk` with its compressed length; the buffer (``PageMemory``) is then `chunk`'s, to
    /// keep or to free.
    ///
    /// - Returns: The text's CRC-32 and length.
    func deflateText(
        _ produce: ((String) -> Void) -> Void, chunk: (UnsafeMutableRawBufferPointer, Int) -> Void
    ) -> (crc32: UInt32, size: UInt64) {
        withoutActuallyEscaping(chunk) { chunk in deflateText(produce, escapingChunk: chunk) }
    }

    private func deflateText(
        _ produce: ((String) -> Void) -> Void, escapingChunk chunk: @escaping (UnsafeMutableRawBufferPointer, Int) -> Void
    ) -> (crc32: UInt32, size: UInt64) {
        let limit = 1 << 20
        var pending: [UInt8] = []
        pending.reserveCapacity(limit + 4096)
        var crc: UInt32 = 0
        var size: UInt64 = 0
        func compress(final: Bool) {
            pending.withUnsafeBytes { text in
                crc = CRC32.of(text, continuing: crc)
                let (buffer, length) = self.compress(text, final: final)
                chunk(buffer, length)
            }
            size += UInt64(pending.count)
            pending.removeAll(keepingCapacity: true)
        }
        produce { piece in
            pending.append(contentsOf: piece.utf8)
            if pending.count >= limit { compress(final: false) }
        }
        compress(final: true)
        return (crc, size)
    }

    private final class StreamBox: @unchecked Sendable {
        let stream: UnsafeMutablePointer<z_stream>
        init(level: Int) {
            stream = .allocate(capacity: 1)
            stream.initialize(to: z_stream())
            let status = czlib_deflate_init_raw(stream, Int32(level))
            precondition(status == Z_OK, "deflateInit2 failed: \(status)")
        }
    }
}
