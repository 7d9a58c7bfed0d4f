import Foundation

/// Work over a million rows split between two threads: the plan's per-row hashes and checks, which
/// read the rows and change nothing, ran on one thread after the catalog was read on two.
enum Halves {
    /// Below this many rows one thread does it: starting another costs more than it saves.
    static let minimumCount = 65_536

    /// `body(i)` for each `i` in `0..<count`, in order, computed on two threads when there are many and
    /// two cores. `body` must only read what it shares (it is called from both threads at once).
    static func map<T: BitwiseCopyable>(_ count: Int, _ body: (Int) -> T) -> [T] {
        [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            guard let base = buffer.baseAddress else { return }
            if count < minimumCount || ProcessInfo.processInfo.activeProcessorCount < 2 {
                for i in 0..<count { (base + i).initialize(to: body(i)) }
            } else {
                withoutActuallyEscaping(body) { body in
                    // Each thread writes its own half of the buffer and only reads what `body` reads.
                    let shared = Shared(base: base, body: body)
                    DispatchQueue.concurrentPerform(iterations: 2) { part in
                        for i in (part == 0 ? 0..<(count / 2) : (count / 2)..<count) { (shared.base + i).initialize(to: shared.body(i)) }
                    }
                }
            }
            initialized = count
        }
    }

    private struct Shared<T>: @unchecked Sendable {
        let base: UnsafeMutablePointer<T>
        let body: (Int) -> T
    }
}
