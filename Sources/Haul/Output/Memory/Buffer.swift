#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
