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
