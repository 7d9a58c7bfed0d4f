import CHaulSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Threads that belong to one download and run only that download's work: checksums, compression,
/// writes to files and spool files, flushes, and the download's own tasks (it is their
/// `TaskExecutor`).
///
/// # Why not Dispatch's global queues or the cooperative pool
///
/// A paused transfer waits for *moving* memory to drain (``MemoryBudget``), and moving memory drains
/// only when this work runs. On Linux, libdispatch's global queues (every concurrent queue and every
/// queue that targets one) keep about as many threads *runnable* as there are cores, and add one only
/// when its monitor sees a worker blocked; a worker that is busy, or runnable but waiting for a core
/// behind other processes, counts as running. So whatever else the process queues at the same quality
/// of service (another download's 4 GiB of spool writes, an embedding program's own work, a test's
/// compression) is served first-come first-served on those few threads, and on a contended machine a
/// download's checksums could wait there for tens of seconds while every one of its transfers was
/// paused. The cooperative pool has the same width and the same neighbours. Nothing of ours may depend
/// on them.
///
/// These threads are started by the download for itself, so only its own work is ever queued ahead
/// of its work, and the kernel gives them their share of the CPU however busy the machine is.
///
/// # Why this always makes progress
///
/// Every piece of work given here ends after CPU or disk work alone: it never waits for another piece
/// of work, for the memory budget, for the network, or for a task. Tasks run here only between their
/// suspension points. So with at least one thread, each queued piece of work is reached in turn and
/// ends: the queue always drains, which is what ``MemoryBudget``'s argument needs of moving memory.
///
/// Threads start when work arrives and none is idle (up to ``threadLimit``) and end after
/// ``idleTimeout`` without work, so a pool costs nothing once its download has ended.
package final class WorkerPool: TaskExecutor, @unchecked Sendable {
    /// A closure or a task's job, as queued.
    private enum Work {
        case closure(@Sendable () -> Void)
        case job(UnownedJob)
    }

    /// The most threads this pool runs at once.
    package let threadLimit: Int
    /// A thread with nothing to do for this long ends.
    package static let idleTimeout: Duration = .seconds(2)
    private let name: String

    // Guarded by `mutex`; `condition` signals new work to idle threads.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var queue: [Work?] = []
    private var head = 0
    private var threads = 0
    private var idle = 0

    /// - Parameters:
    ///   - name: The threads' name, as `top -H` and a debugger show it (15 bytes at most on Linux).
    ///   - threads: The most threads at once (at least one).
    package init(name: String, threads: Int) {
        self.name = name
        threadLimit = max(1, threads)
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        precondition(pthread_mutex_init(mutex, nil) == 0 && pthread_cond_init(condition, nil) == 0)
    }

    /// Two threads per core, at least four: what a download's work gets, so that compression keeps
    /// every core busy while some threads wait on the disk (a flush, a write to a full page cache).
    package convenience init(name: String) {
        self.init(name: name, threads: min(64, max(4, 2 * Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))))
    }

    deinit {
        // Threads hold the pool while they run, so none is left here.
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Queues `work`; it runs on one of the pool's threads, after the work queued before it has started.
    package func async(_ work: @escaping @Sendable () -> Void) {
        submit(.closure(work))
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        submit(.job(UnownedJob(job)))
    }

    private func submit(_ work: Work) {
        pthread_mutex_lock(mutex)
        queue.append(work)
        // A new thread only for work no idle thread will take (a burst), up to the limit.
        let start = queue.count - head > idle && threads < threadLimit
        if start { threads += 1 }
        let wake = idle > 0
        pthread_mutex_unlock(mutex)
        if wake { pthread_cond_signal(condition) }
        if start { startThread() }
    }

    private func startThread() {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { context in
            let pool = Unmanaged<WorkerPool>.fromOpaque(context!).takeRetainedValue()
            _ = csystem_name_this_thread(pool.name)
            pool.serve()
            return nil
        }, context)
        guard rc == 0 else {
            // The system cannot start a thread now (a process or memory limit): the threads already
            // running take the work; with none, no work could ever run, which is a crash, not a hang.
            Unmanaged<WorkerPool>.fromOpaque(context).release()
            pthread_mutex_lock(mutex)
            threads -= 1
            let none = threads == 0
            pthread_mutex_unlock(mutex)
            precondition(!none, "cannot start a worker thread: \(String(cString: strerror(rc)))")
            return
        }
        pthread_detach(thread)
    }

    /// A thread's life: takes work in order until none comes for ``idleTimeout``.
    private func serve() {
        pthread_mutex_lock(mutex)
        while true {
            if head < queue.count {
                let work = queue[head]!
                queue[head] = nil
                head += 1
                if head == queue.count {
                    queue.removeAll(keepingCapacity: true)
                    head = 0
                } else if head >= 1024 && head * 2 >= queue.count {
                    queue.removeFirst(head)
                    head = 0
                }
                pthread_mutex_unlock(mutex)
                switch work {
                case .closure(let body): body()
                case .job(let job): job.runSynchronously(on: asUnownedTaskExecutor())
                }
                pthread_mutex_lock(mutex)
                continue
            }
            idle += 1
            var deadline = timespec()
            clock_gettime(CLOCK_REALTIME, &deadline)
            deadline.tv_sec += Int(Self.idleTimeout.components.seconds)
            let rc = pthread_cond_timedwait(condition, mutex, &deadline)
            idle -= 1
            if rc == ETIMEDOUT && head == queue.count {
                threads -= 1
                pthread_mutex_unlock(mutex)
                return
            }
        }
    }
}
