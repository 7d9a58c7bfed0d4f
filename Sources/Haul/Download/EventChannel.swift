/// What carries a download's events from its workers to ``DownloadEvents``: records queued without
/// limit, progress coalesced to the newest snapshot (``DownloadEvents`` states the rule and why).
/// ``yield(_:)`` never waits; one consumer waits in ``next()``.
final class EventChannel: Sendable {
    private struct State {
        /// Records not yet read: `records[head...]`.
        var records: [DownloadEvent] = []
        var head = 0
        /// Records ever queued, and ever read.
        var queued = 0
        var read = 0
        /// The newest unread progress snapshot, delivered once `read` reaches `progressAfter` (the
        /// records queued before it went out first).
        var progress: DownloadEvent.Progress?
        var progressAfter = 0
        /// The download ended: the consumer reads what is left, then `nil`.
        var finished = false
        /// The consumer is gone: events are dropped.
        var closed = false
        /// The consumer, waiting; only while nothing is pending.
        var waiter: CheckedContinuation<DownloadEvent?, Never>?

        mutating func take() -> DownloadEvent? {
            if let snapshot = progress, read >= progressAfter {
                progress = nil
                return .progress(snapshot)
            }
            guard head < records.count else { return nil }
            let event = records[head]
            head += 1
            read += 1
            // Read records are let go of in batches, so a long backlog costs no quadratic shifting.
            if head >= 1024 && head * 2 >= records.count {
                records.removeFirst(head)
                head = 0
            }
            return event
        }
    }

    /// The package's lock (``Locked``), which ThreadSanitizer sees, not `Mutex`.
    private let state = Locked(State())
    /// Events are not wanted (a download without a consumer): ``yield(_:)`` drops them.
    private let discarding: Bool

    init(discarding: Bool = false) {
        self.discarding = discarding
    }

    /// Hands an event on; never waits.
    func yield(_ event: DownloadEvent) {
        if discarding { return }
        let waiter: CheckedContinuation<DownloadEvent?, Never>? = state.withLock { s in
            if s.finished || s.closed { return nil }
            if let waiter = s.waiter {
                // Nothing is pending while a consumer waits: this event is the next one.
                s.waiter = nil
                if case .progress = event {} else {
                    s.queued += 1
                    s.read += 1
                }
                return waiter
            }
            if case .progress(let snapshot) = event {
                s.progress = snapshot
                s.progressAfter = s.queued
            } else {
                s.records.append(event)
                s.queued += 1
            }
            return nil
        }
        // Resumed outside the lock.
        waiter?.resume(returning: event)
    }

    /// The download has ended: the consumer reads what is queued, then the sequence ends.
    func finish() {
        let waiter = state.withLock { s in
            s.finished = true
            return s.waiter.take()
        }
        waiter?.resume(returning: nil)
    }

    /// The consumer is done: what is queued and what comes later is dropped.
    func close() {
        let waiter = state.withLock { s in
            s.closed = true
            s.records = []
            s.head = 0
            s.progress = nil
            return s.waiter.take()
        }
        waiter?.resume(returning: nil)
    }

    /// The next event, waiting for one; `nil` at the end, or when the waiting task is cancelled.
    func next() async -> DownloadEvent? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<DownloadEvent?, Never>) in
                let ready: DownloadEvent?? = state.withLock { s in
                    if s.closed { return .some(nil) }
                    if let event = s.take() { return .some(event) }
                    // A cancellation that came before the waiter was stored finds none: it is seen here.
                    if s.finished || Task.isCancelled { return .some(nil) }
                    precondition(s.waiter == nil, "DownloadEvents is read by one task at a time")
                    s.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiter.take() }
            waiter?.resume(returning: nil)
        }
    }
}
