import Foundation

/// A run of products in memory of its own, mapped from the kernel and unmapped when the run ends.
///
/// The rows read ahead (``RowsAhead``) are held in these until the reader appends them to its own
/// list. An array's storage would go back to `malloc`, which keeps freed blocks of this size for
/// later rather than returning them: the peak would then hold every row read ahead twice. Unmapped,
/// each run's memory leaves the process as soon as it is copied.
final class ProductRun {
    /// How many products a run holds (about 13 MB).
    static let standardCapacity = 1 << 16

    let capacity: Int
    private let base: UnsafeMutablePointer<Product>
    private let bytes: Int
    private(set) var count = 0
    /// The products before this one have been moved out (``moved``).
    private var taken = 0

    /// `nil` when the kernel gives no memory.
    init?(capacity: Int = standardCapacity) {
        self.capacity = capacity
        bytes = MemoryLayout<Product>.stride * capacity
        guard let mapped = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              mapped != MAP_FAILED else { return nil }
        base = mapped.bindMemory(to: Product.self, capacity: capacity)
    }

    deinit {
        (base + taken).deinitialize(count: count - taken)
        munmap(UnsafeMutableRawPointer(base), bytes)
    }

    var isFull: Bool { count == capacity }

    /// Takes `product` in: moved, not copied (a copy would retain its strings, and the caller's end
    /// release them again).
    func append(_ product: consuming Product) {
        precondition(count < capacity)
        (base + count).initialize(to: product)
        count += 1
    }

    /// Adds `offset` to every product's row number (``Product/originRow``).
    func renumber(by offset: Int) {
        for i in taken..<count { base[i].originRow += offset }
    }

    /// The products, moved out as they are read: `array.append(contentsOf: run.moved)` moves them into
    /// the array bit for bit, where copying them would retain every string, and ending the run release
    /// each again.
    var moved: Moved { Moved(run: self) }

    struct Moved: Sequence, IteratorProtocol {
        let run: ProductRun

        var underestimatedCount: Int { run.count - run.taken }

        mutating func next() -> Product? {
            guard run.taken < run.count else { return nil }
            defer { run.taken += 1 }
            return (run.base + run.taken).move()
        }

        /// What `Array.append(contentsOf:)` calls, with room for ``underestimatedCount`` at least: one move.
        func _copyContents(initializing buffer: UnsafeMutableBufferPointer<Product>) -> (Moved, Int) {
            let n = Swift.min(buffer.count, run.count - run.taken)
            if n > 0 { buffer.baseAddress!.moveInitialize(from: run.base + run.taken, count: n) }
            run.taken += n
            return (self, n)
        }
    }
}
