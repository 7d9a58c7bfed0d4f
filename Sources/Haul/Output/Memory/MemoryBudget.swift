#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes held between the network and the output, shared by every sink of a download.
///
/// # Why a download always makes progress
///
/// Every byte charged here is in one of three states:
/// - *filling*: the block a running transfer copies into (at most one per transfer);
/// - *moving*: blocks handed on to a worker (CRC-32, deflate), to a file's write queue, or to a
///   spool file. They are freed, or become staged, after CPU or disk work that never waits on this
///   budget (workers charge their output with ``forceReserve(_:)``): moving memory always drains;
/// - *staged*: an entry's finished output kept in memory until its transfer ends and the entry is
///   appended. Only this waits on the network.
///
/// Four rules, enforced here and in ``BlockFiller``, make a hang impossible for every limit of at least
/// ``minimumLimit``, every `parallel`, and every mix of sizes and compressibility:
/// 1. Staged memory never exceeds ``stagedLimit`` (half the limit): ``stage(_:)`` refuses past it and the
///    entry spills to its spool file instead, which is moving memory.
/// 2. A transfer whose reservation is refused first hands its partly filled block on (``BlockFiller``),
///    so a transfer paused here holds no filling block.
/// 3. A refusal registers the transfer's waker under the same lock that ``release(_:)`` takes, and a
///    release wakes every waiter once usage is at or below ``wakeMark`` (three quarters of the limit).
/// 4. A reservation is granted when its first quarter of the limit fits (``reserve(_:orWake:)``), so a
///    woken transfer always gets its blocks.
///
/// Suppose every transfer is paused here. By rule 2 none holds a filling block, so usage is staged plus
/// moving memory; moving memory drains, leaving at most ``stagedLimit`` ≤ ``wakeMark``, so by rule 3 a
/// release wakes them, and by rule 4 the first to retry is granted. Transfers paused by their own sink
/// (too much of one file in flight) wait only for moving memory, which drains. A transfer that is not
/// paused but waits on a slow server holds its filling block until bytes arrive or libcurl's stall
/// limit ends the attempt (the next attempt hands the block on): that wait is bounded by the server
/// and ``Configuration/Timeout/stall``, never by the budget. So a pause always ends.
///
/// # Why it ends on a busy machine too
///
/// "Moving memory always drains" needs the work that drains it to run. It runs on the download's own
/// ``WorkerPool``, never on a queue or pool shared with the rest of the process: on Linux, Dispatch's
/// global queues and the cooperative pool keep about one runnable thread per core and add one only
/// when a worker blocks, so another download's compression or an embedding program's busy tasks could
/// keep this work queued for as long as they run (a contended machine made that tens of seconds). The
/// pool's work waits only on the CPU and the disk, and the kernel shares both among the pool's threads
/// and everything else, so draining slows down with the machine but never waits on anyone's
/// goodwill. The wake itself goes to the engine's own thread (``SinkWaker``), and the run's tasks
/// prefer the same pool as their executor, so no step from a release to the resumed transfer waits on
/// a shared pool either.
package final class MemoryBudget: Sendable {
    /// The smallest limit the guarantee is tested at (half of ``Configuration/minimumMemoryLimit``). The
    /// argument above holds for any limit; below this, blocks shrink to a few pages and throughput with them.
    package static let minimumLimit = 2 << 20

    package let limit: Int
    /// The most staged memory (entries' finished output awaiting their end): half the limit.
    package let stagedLimit: Int
    /// Waiters are woken once usage falls to this: three quarters of the limit.
    package let wakeMark: Int

    /// The state of a budget at one moment, for the watchdog's report and for tests.
    package struct Snapshot: Sendable, Hashable, CustomStringConvertible {
        package var limit: Int
        package var used: Int
        package var staged: Int
        package var peak: Int
        /// Transfers paused for memory, waiting for a release.
        package var waiting: Int
        /// Reservations refused so far (each one paused a transfer).
        package var refusals: Int
        /// Pieces that could not be staged because staged memory was at its limit (each spilled instead).
        package var stagingRefusals: Int

        package var description: String {
            "memory budget: \(used) of \(limit) bytes in use (\(staged) staged, peak \(peak)), \(waiting) transfers waiting, \(refusals) refusals, \(stagingRefusals) spills forced by the staging limit"
        }
    }

    private struct State {
        var used = 0
        var staged = 0
        var peak = 0
        var refusals = 0
        var stagingRefusals = 0
        var waiting: [SinkWaker] = []
    }
    private let state = Locked(State())

    package init(limit: Int) {
        self.limit = max(1, limit)
        stagedLimit = self.limit / 2
        wakeMark = self.limit - self.limit / 4
    }

    /// Takes `bytes` when its first quarter of the limit fits; otherwise keeps `waker` to wake once
    /// usage has fallen to ``wakeMark`` (rules 3 and 4).
    ///
    /// A request larger than a quarter of the limit (a chunk libcurl delivers whole) may take usage past
    /// the limit by the excess: bounded by the chunk, and never a hang.
    package func reserve(_ bytes: Int, orWake waker: SinkWaker) -> Bool {
        state.withLock { s in
            if s.used + min(bytes, limit / 4) <= limit || s.used == 0 {
                s.used += bytes
                s.peak = max(s.peak, s.used)
                return true
            }
            s.refusals += 1
            s.waiting.append(waker)
            return false
        }
    }

    /// Takes `bytes` whatever the usage: for memory that replaces memory about to be released
    /// (a compressed chunk in place of its input), which must never wait.
    package func forceReserve(_ bytes: Int) {
        state.withLock { s in
            s.used += bytes
            s.peak = max(s.peak, s.used)
        }
    }

    /// Marks `bytes` already reserved as staged. - Returns: `false`, changing nothing, when staged memory
    /// would pass ``stagedLimit``: the caller spills them instead (rule 1).
    func stage(_ bytes: Int) -> Bool {
        state.withLock { s in
            guard s.staged + bytes <= stagedLimit else {
                s.stagingRefusals += 1
                return false
            }
            s.staged += bytes
            return true
        }
    }

    /// Marks `bytes` of staged memory as moving again (an entry spilling what it held).
    func unstage(_ bytes: Int) {
        guard bytes != 0 else { return }
        state.withLock { $0.staged -= bytes }
    }

    /// Gives back `bytes`; `staged` of them were staged. Wakes every waiter once usage is at or below
    /// ``wakeMark``.
    package func release(_ bytes: Int, staged: Int = 0) {
        let wake = state.withLock { s -> [SinkWaker] in
            s.used -= bytes
            s.staged -= staged
            guard s.used <= wakeMark, !s.waiting.isEmpty else { return [] }
            defer { s.waiting.removeAll() }
            return s.waiting
        }
        for waker in wake { waker.wake() }
    }

    /// Wakes every waiter now, whatever the usage: the watchdog's last resort.
    func wakeAll() {
        let wake = state.withLock { s -> [SinkWaker] in
            defer { s.waiting.removeAll() }
            return s.waiting
        }
        for waker in wake { waker.wake() }
    }

    /// The block a transfer's bytes are collected in before they are written or compressed: large enough
    /// for few system calls and good deflate chunks, small enough that every transfer can hold one within
    /// a quarter of the limit, and never more than a sixteenth of it, so that the blocks of one chunk
    /// always fit in a quarter (rule 4). A power of two, so a whole number of pages, as ``PageMemory``
    /// allocates.
    func blockSize(parallel: Int) -> Int {
        let share = min(1 << 20, limit / 16, max(64 << 10, limit / (4 * max(1, parallel))))
        var size = 4096
        while size * 2 <= share { size *= 2 }
        return size  // the largest power of two within the share
    }

    package var snapshot: Snapshot {
        state.withLock { s in
            Snapshot(limit: limit, used: s.used, staged: s.staged, peak: s.peak, waiting: s.waiting.count,
                     refusals: s.refusals, stagingRefusals: s.stagingRefusals)
        }
    }

    /// Bytes held now, and the most ever held.
    package var used: Int { state.withLock { $0.used } }
    package var peak: Int { state.withLock { $0.peak } }
}
