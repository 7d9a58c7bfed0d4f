import CZlib

/// How a bundle compresses its entries.
public struct Compression: Sendable, Hashable {
    public enum Mode: String, Sendable, CaseIterable {
        /// Deflate what compresses; store already-compressed types and files whose first block
        /// does not shrink.
        case auto
        case store
        case deflate
    }

    public var mode: Mode
    /// zlib's level, 1 (fastest) to 9 (smallest).
    public var level: Int

    public init(_ mode: Mode = .auto, level: Int = 6) {
        self.mode = mode
        self.level = min(9, max(1, level))
    }

    /// Extensions of formats that are compressed already; `auto` stores them without trying.
    static let compressedExtensions: Set<String> = [
        "gz", "tgz", "fz", "z", "bz2", "xz", "zst", "lz", "lz4", "zip", "7z", "rar", "jar",
        "jpg", "jpeg", "png", "gif", "webp", "jp2", "heic", "mp3", "mp4", "mov", "mkv", "avi", "ogg", "h5z",
    ]

    /// Whether `auto` stores a file by its name alone.
    static func isCompressedType(_ filename: String) -> Bool {
        guard let dot = filename.lastIndex(of: ".") else { return false }
        return compressedExtensions.contains(filename[filename.index(after: dot)...].lowercased())
    }

    /// `auto` keeps deflate only when the first block shrinks below this fraction of its size.
    static let worthwhileRatio = 0.97
}

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
