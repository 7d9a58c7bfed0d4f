/// Work run one piece at a time, in the order it was given, on a ``WorkerPool``: a file's writes, a
/// segment's blocks (checksummed in order), an entry's last steps.
///
/// A lane holds a thread only while it has work, and gives it up after a few pieces when more remain,
/// so one busy file cannot keep the pool's other work waiting.
package final class SerialLane: Sendable {
    private struct State {
        var work: [(@Sendable () -> Void)?] = []
        var head = 0
        /// Whether a drain is queued or running on the pool.
        var draining = false

        /// The next piece, or `nil` (and no longer draining) when there is none.
        mutating func next() -> (@Sendable () -> Void)? {
            guard head < work.count else {
                work.removeAll(keepingCapacity: true)
                head = 0
                draining = false
                return nil
            }
            defer { work[head] = nil; head += 1 }
            return work[head]
        }
    }

    private let pool: WorkerPool
    private let state = Locked(State())
    /// Pieces one turn on a thread runs before the lane queues itself again behind the pool's other work.
    private static let turn = 16

    package init(on pool: WorkerPool) {
        self.pool = pool
    }

    /// Queues `work`, to run after everything queued on this lane before it has ended.
    package func async(_ work: @escaping @Sendable () -> Void) {
        let start = state.withLock { s -> Bool in
            s.work.append(work)
            guard !s.draining else { return false }
            s.draining = true
            return true
        }
        if start { pool.async { [self] in drain() } }
    }

    private func drain() {
        for _ in 0..<Self.turn {
            guard let work = state.withLock({ $0.next() }) else { return }
            work()
        }
        // Still draining: the rest goes behind what the pool was given meanwhile.
        pool.async { [self] in drain() }
    }
}
