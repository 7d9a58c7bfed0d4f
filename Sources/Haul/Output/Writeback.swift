import CHaulSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts the disk's writeback of a file's pages while they are still being written, when the run
/// flushes what it calls done (``Configuration/synchronizesOutput``), so that the flush at the end
/// waits only for what the disk has not taken yet, not for everything written: the disk writes while
/// the network still delivers, and a durable download costs about the longer of the two instead of
/// their sum.
///
/// After every ``threshold`` bytes written, one `sync_file_range(SYNC_FILE_RANGE_WRITE)` over the
/// whole file is queued on `pool`. It starts the writeback of the dirty pages not already under way
/// and returns without waiting for them; it can wait when the disk's queue is full, so it never runs
/// on the writer's thread. One request at a time per file; bytes written meanwhile go with the next.
///
/// It changes no guarantee: the `fsync` at the end still makes the file durable, and a crash before
/// it leaves what it always did (a temporary name, or an archive a re-run checks entry by entry).
/// Where the system has no `sync_file_range` the requests do nothing and the flush does it all.
final class Writeback: Sendable {
    /// Bytes written between two requests.
    static let threshold: Int64 = 8 << 20

    private let fd: Int32
    private let pool: WorkerPool
    private struct State {
        var pending: Int64 = 0
        var inFlight = false
        /// The file's own descriptor, duplicated at the first request: a request queued as the
        /// owner closes the file must never reach a number the process has since given to another.
        /// -1 before the first request; -2 when it could not be duplicated (then none is made: the
        /// flush at the end does it all, and no descriptor is asked for again).
        var copy: Int32 = -1
    }
    private let state = Locked(State())

    /// - Parameters:
    ///   - fd: The file's descriptor; open whenever ``wrote(_:)`` is called.
    ///   - pool: Where the requests run: threads that may wait on the disk.
    init(fd: Int32, pool: WorkerPool) {
        self.fd = fd
        self.pool = pool
    }

    deinit {
        let copy = state.withLock { $0.copy }
        if copy >= 0 { close(copy) }
    }

    /// Counts `count` bytes just written; queues a request once enough have been.
    /// Call from the writing thread, while the file's descriptor is open.
    func wrote(_ count: Int) {
        let start = state.withLock { s -> Bool in
            s.pending += Int64(count)
            guard !s.inFlight, s.pending >= Self.threshold else { return false }
            if s.copy == -1 {
                let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
                s.copy = copy >= 0 ? copy : -2
            }
            guard s.copy >= 0 else { return false }
            s.pending = 0
            s.inFlight = true
            return true
        }
        if start { pool.async { self.request() } }
    }

    /// Runs requests until fewer than ``threshold`` bytes wait.
    private func request() {
        while true {
            let copy = state.withLock { $0.copy }
            // Advisory: a failure (ENOSYS, EINVAL on a file system without it) leaves it all to the flush.
            _ = csystem_start_writeback(copy)
            let again = state.withLock { s -> Bool in
                guard s.pending >= Self.threshold else { s.inFlight = false; return false }
                s.pending = 0
                return true
            }
            if !again { return }
        }
    }
}
