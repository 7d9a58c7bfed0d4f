#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one copy a sink makes: chunks from libcurl's buffer into fixed-size blocks, paid for in the
/// ``MemoryBudget`` before a byte is copied, so a pause takes nothing. ``FileSink`` writes the full
/// blocks to a file; ``ZipEntrySink`` checksums and compresses them.
///
/// Engine thread only (and the sink's finishing call once the transfer has ended).
struct BlockFiller {
    let blockSize: Int
    let budget: MemoryBudget
    /// Bytes copied so far: the product offset of the next byte.
    var position: Int64 = 0
    private var block: UnsafeMutableRawBufferPointer?
    private var fill = 0

    /// - Parameter blockSize: A size ``PageMemory`` allocates exactly (whole pages).
    init(blockSize: Int, budget: MemoryBudget) {
        precondition(blockSize == PageMemory.sizeClass(blockSize))
        self.blockSize = blockSize
        self.budget = budget
    }

    /// Copies `bytes` into blocks, handing each full one to `full` (with its product offset).
    /// - Returns: `false`, having copied nothing, when the budget cannot pay for the blocks now; the
    ///   budget then wakes `waker`. Before it returns `false` the partly filled block is handed to `full`
    ///   too, so that a transfer paused for memory holds none (rule 2 of ``MemoryBudget``): that block
    ///   then drains like any other, and its release is what wakes the paused transfers.
    mutating func copy(
        _ bytes: UnsafeRawBufferPointer, waker: SinkWaker, full: (Buffer, Int64) -> Void
    ) -> Bool {
        let room = block.map { $0.count - fill } ?? 0
        var prepaid = 0
        if bytes.count > room {
            prepaid = (bytes.count - room + blockSize - 1) / blockSize
            guard budget.reserve(prepaid * blockSize, orWake: waker) else {
                if let (buffer, offset) = take() { full(buffer, offset) }
                return false
            }
        }
        var source = bytes
        while !source.isEmpty {
            if block == nil {
                precondition(prepaid > 0)
                prepaid -= 1
                block = PageMemory.allocate(blockSize)
                fill = 0
            }
            let n = min(blockSize - fill, source.count)
            UnsafeMutableRawBufferPointer(rebasing: block![fill..<fill + n])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<n]))
            fill += n
            position += Int64(n)
            source = UnsafeRawBufferPointer(rebasing: source[n...])
            if fill == blockSize, let (buffer, offset) = take() { full(buffer, offset) }
        }
        assert(prepaid == 0, "every prepaid block is used")
        return true
    }

    /// The partly filled block and its product offset, now the caller's (its budget share with it).
    mutating func take() -> (Buffer, Int64)? {
        guard let current = block else { return nil }
        block = nil
        defer { fill = 0 }
        return (Buffer(pointer: current, length: fill), position - Int64(fill))
    }

    /// Frees the partly filled block.
    mutating func drop() {
        if let block { budget.release(block.count); PageMemory.free(block) }
        block = nil
        fill = 0
    }
}

/// An allocated buffer and how many of its bytes are used. Its capacity is what the budget holds for it.
struct Buffer: @unchecked Sendable {
    var pointer: UnsafeMutableRawBufferPointer
    var length: Int
    /// No buffer: what a chunk written straight to its place in the archive leaves to keep.
    static let none = Buffer(pointer: UnsafeMutableRawBufferPointer(start: nil, count: 0), length: 0)
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: pointer[0..<length]) }

    /// This buffer, or, when its bytes fill at most half of it, a copy in a buffer of their own size (the
    /// original freed): what is kept in memory is charged for what it holds, not for the size it had
    /// to have before compression. A deflated block of zeros keeps one page, not the block's size.
    func compacted(budget: MemoryBudget) -> Buffer {
        let size = PageMemory.sizeClass(length)
        guard size <= pointer.count / 2 else { return self }
        let copy = PageMemory.allocate(length)
        budget.forceReserve(copy.count)
        if length > 0 { UnsafeMutableRawBufferPointer(rebasing: copy[0..<length]).copyMemory(from: bytes) }
        budget.release(pointer.count)
        PageMemory.free(pointer)
        return Buffer(pointer: copy, length: length)
    }
}

/// Whole writes with EINTR and short writes handled.
enum FileIO {
    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64, what: String) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw HaulError.writing(what, errno: errno)
            }
            done += n
        }
    }
}
