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

    /// `nil` when the kernel gives no memory.
    init?(capacity: Int = standardCapacity) {
        self.capacity = capacity
        bytes = MemoryLayout<Product>.stride * capacity
        guard let mapped = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              mapped != MAP_FAILED else { return nil }
        base = mapped.bindMemory(to: Product.self, capacity: capacity)
    }

    deinit {
        base.deinitialize(count: count)
        munmap(UnsafeMutableRawPointer(base), bytes)
    }

    var isFull: Bool { count == capacity }

    func append(_ product: Product) {
        precondition(count < capacity)
        (base + count).initialize(to: product)
        count += 1
    }

    /// Adds `offset` to every product's row number (``Product/originRow``).
    func renumber(by offset: Int) {
        for i in 0..<count { base[i].originRow += offset }
    }

    /// The products, valid while the run lives.
    var products: UnsafeBufferPointer<Product> { UnsafeBufferPointer(start: base, count: count) }
}
