import CHaulSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Sleeps that end on a thread of Haul's own: the download's watchdog and progress ticks, retry
/// backoffs, `haul bench`'s pacing and the server's waits all sleep through here.
///
/// # Why not `Task.sleep`
///
/// On Linux, `Task.sleep` hands its wake-up to Dispatch: a timer that, when it fires, queues the task
/// on a *global* queue, and only a thread of that queue moves it on to the task's own executor
/// (``WorkerPool``). Those are the threads everything else in the process queues work on, and
/// libdispatch adds none while its busy ones run (see ``WorkerPool``). With them held, a 100 ms
/// `Task.sleep` on a task of a ``WorkerPool`` was measured waking after 39 s, and a download under
/// contention lost its watchdog (its tick never came) and waited out every retry backoff until the
/// process's other work ended. Cancelling a sleep and resuming a continuation do not go through those
/// queues, only the timed wake-up does.
///
/// Here one thread, started on the first sleep and kept for the process, holds every pending wake-up
/// in deadline order and resumes each one's continuation at its deadline. Resuming a continuation queues the
/// task straight on its own executor, so a sleeping task of a download wakes on the download's threads
/// whatever else the process is doing; the thread itself does nothing but resume, so it never holds a
/// wake-up back behind other work.
package enum Wakeups {
    /// Suspends the task for `duration` (at least; the kernel may wake it a little later).
    ///
    /// - Throws: `CancellationError` as soon as the task is cancelled, as `Task.sleep` does.
    package static func sleep(for duration: Duration) async throws {
        try await WakeupThread.shared.sleep(nanoseconds: duration.nanosecondsClamped)
    }

    /// Suspends the task until `instant`.
    package static func sleep(until instant: ContinuousClock.Instant) async throws {
        try await sleep(for: ContinuousClock.now.duration(to: instant))
    }
}

extension Duration {
    /// The duration in whole nanoseconds, 0 for a negative one, at most `Int64.max`.
    fileprivate var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (sum, past) = whole.addingReportingOverflow(max(0, attoseconds / 1_000_000_000))
        return overflow || past ? .max : sum
    }
}

/// The thread behind ``Wakeups``: pending wake-ups in deadline order, each with its continuation.
///
/// The order is an array kept sorted by binary search, not a heap from a package: a download has a
/// few sleeps pending at once (the ticks, and a transfer in its backoff), `haul bench` at most one per
/// request in flight, so an insertion moves at most a few thousand words; and swift-collections'
/// heap would be the library's second Swift dependency, which `scripts/fuzz` builds by hand.
final class WakeupThread: @unchecked Sendable {
    /// The one ``Wakeups`` uses. (Tests make their own, to count what they alone left pending.)
    static let shared = WakeupThread()

    /// One pending wake-up, ordered by deadline (then by number, so equal deadlines keep their order).
    private struct Pending: Comparable {
        let deadline: UInt64
        let id: UInt64
        static func < (a: Pending, b: Pending) -> Bool { (a.deadline, a.id) < (b.deadline, b.id) }
    }

    // All guarded by `mutex`. A cancelled wake-up leaves the waiting table and `pending` at once.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    /// Latest deadline first, so the next one is removed from the end.
    private var pending: [Pending] = []
    private var waiting: [UInt64: CheckedContinuation<Void, any Error>] = [:]
    /// Wake-ups cancelled before their continuation was registered.
    private var cancelledEarly: Set<UInt64> = []
    private var nextID: UInt64 = 0
    private var started = false

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if !canImport(Darwin)
        // Deadlines are on the monotonic clock, not the wall clock a user may set.
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        precondition(pthread_mutex_init(mutex, nil) == 0 && pthread_cond_init(condition, &attributes) == 0)
        pthread_condattr_destroy(&attributes)
    }

    private static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    func sleep(nanoseconds: Int64) async throws {
        try Task.checkCancellation()
        guard nanoseconds > 0 else { return }
        let deadline = Self.now() &+ UInt64(nanoseconds)
        pthread_mutex_lock(mutex)
        nextID += 1
        let id = nextID
        pthread_mutex_unlock(mutex)
        defer {
            // A cancellation that came after the wake-up left its mark; the handler has finished by
            // now (the runtime waits for a running one before the call returns), so none comes later.
            pthread_mutex_lock(mutex)
            cancelledEarly.remove(id)
            pthread_mutex_unlock(mutex)
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                pthread_mutex_lock(mutex)
                if cancelledEarly.remove(id) != nil {
                    pthread_mutex_unlock(mutex)
                    continuation.resume(throwing: CancellationError())
                    return
                }
                waiting[id] = continuation
                let entry = Pending(deadline: deadline, id: id)
                let low = place(of: entry)
                pending.insert(entry, at: low)
                let first = low == pending.count - 1
                let start = !started
                started = true
                pthread_mutex_unlock(mutex)
                if start { startThread() } else if first { pthread_cond_signal(condition) }
            }
        } onCancel: {
            pthread_mutex_lock(mutex)
            let continuation = waiting.removeValue(forKey: id)
            if continuation == nil {
                cancelledEarly.insert(id)
            } else {
                // Out of the order too, so that sleeps cancelled long before their deadline (a
                // watchdog's, a server's) do not pile up there.
                let entry = Pending(deadline: deadline, id: id)
                let at = place(of: entry)
                if at < pending.count, pending[at] == entry { pending.remove(at: at) }
            }
            pthread_mutex_unlock(mutex)
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// Wake-ups pending now.
    var count: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return pending.count
    }

    /// Where `entry` goes in `pending` (latest first): after every entry due later. Under `mutex`.
    private func place(of entry: Pending) -> Int {
        var low = 0, high = pending.count
        while low < high {
            let middle = (low + high) / 2
            if entry < pending[middle] { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private func startThread() {
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { context in
            let owner = Unmanaged<WakeupThread>.fromOpaque(context!).takeUnretainedValue()
            // Its own name: a new thread takes the name of the one that started it.
            _ = csystem_name_this_thread("haul-wakeups")
            owner.serve()
            return nil
        }, Unmanaged.passUnretained(self).toOpaque())
        // Without this thread no sleep would ever end: a crash, not a hang.
        precondition(rc == 0, "cannot start the wake-up thread: \(String(cString: strerror(rc)))")
        pthread_detach(thread)
    }

    /// The thread's life: resumes what is due, then waits for the next deadline or a new first one.
    private func serve() {
        pthread_mutex_lock(mutex)
        while true {
            let now = Self.now()
            var due: [CheckedContinuation<Void, any Error>] = []
            while let first = pending.last, first.deadline <= now {
                pending.removeLast()
                if let continuation = waiting.removeValue(forKey: first.id) { due.append(continuation) }
            }
            if !due.isEmpty {
                pthread_mutex_unlock(mutex)
                for continuation in due { continuation.resume() }
                pthread_mutex_lock(mutex)
                continue
            }
            if let first = pending.last {
                var until = timespec(tv_sec: Int(first.deadline / 1_000_000_000), tv_nsec: Int(first.deadline % 1_000_000_000))
                _ = pthread_cond_timedwait(condition, mutex, &until)
            } else {
                _ = pthread_cond_wait(condition, mutex)
            }
        }
    }
}
