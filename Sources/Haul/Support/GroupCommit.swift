#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Group commit: writes to one file, numbered as they complete, made durable by one flush at a time,
/// each flush covering every write numbered before it began. A writer that needs its write on the
/// disk waits for the flush in progress when it began before that write was numbered (one that may
/// not cover it), then flushes itself, for every write numbered by then, unless another writer took
/// that turn first. So writers that arrive while the disk flushes share the next flush: with `n`
/// threads writing at once, at most about two flushes each turn instead of `n`.
///
/// Blocking: ``waitUntilFlushed(_:)`` waits on the disk (or on another thread's flush). Call it only on
/// a thread that may wait (a ``ZipWriter``'s queue, a thread of its own), never on an event loop or in
/// the cooperative pool. The flush runs with the lock released (a waiting thread sleeps on the
/// condition, which releases it too), so no lock is held across I/O.
final class GroupCommit: @unchecked Sendable {
    // Guarded by `mutex`; `condition` signals the end of a flush.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var written: UInt64 = 0
    private var flushed: UInt64 = 0
    private var flushing = false
    private var flushCount = 0
    private let flush: @Sendable () -> Void

    /// - Parameter flush: Makes every write that completed before it began durable (`fdatasync`).
    init(flush: @escaping @Sendable () -> Void) {
        self.flush = flush
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        precondition(pthread_mutex_init(mutex, nil) == 0 && pthread_cond_init(condition, nil) == 0)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deinitialize(count: 1)
        condition.deallocate()
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Numbers a write that has completed (its `pwrite` returned): the number to wait for.
    func wrote() -> UInt64 {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        written += 1
        return written
    }

    /// The number of the last write so far.
    var last: UInt64 {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return written
    }

    /// Flushes done so far.
    var flushes: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return flushCount
    }

    /// Returns once every write numbered up to `number` is flushed: at once when one is; else after
    /// the flush in progress, or one this thread makes.
    func waitUntilFlushed(_ number: UInt64) {
        pthread_mutex_lock(mutex)
        while flushed < number {
            if flushing {
                pthread_cond_wait(condition, mutex)
                continue
            }
            flushing = true
            let target = written
            pthread_mutex_unlock(mutex)
            flush()
            pthread_mutex_lock(mutex)
            flushing = false
            flushed = max(flushed, target)
            flushCount += 1
            pthread_cond_broadcast(condition)
        }
        pthread_mutex_unlock(mutex)
    }
}
