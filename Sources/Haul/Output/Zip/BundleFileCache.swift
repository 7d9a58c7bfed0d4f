/// Whole files of one ``StoredBundle``, shared by the requests of it that run at the same time.
///
/// A download manager asks for a bundle as several ranges at once (`aria2c -x8`), and splits them
/// again as they finish. Each range fetches every file whose entry it overlaps, whole (its header
/// carries the file's CRC-32): without sharing, a file at a range's boundary is fetched once for each
/// side, and one a new split starts inside is fetched again though another request has it. Here every
/// file a request fetches is claimed while its transfer runs, so a request that needs it meanwhile
/// waits for it instead of fetching it too; and while two or more requests of the bundle run, a file
/// fetched is kept (its spool file, or its bytes copied to one) for the others. A request alone keeps
/// nothing, so one plain download costs no copy.
///
/// # Why it cannot wait forever
/// A file is claimed only by a transfer that starts at once (after its writer admitted it), and every
/// claim ends when that transfer ends, whatever its outcome (``publish(_:_:)`` with the file, or with
/// `nil`, after which a waiter claims it itself). So a wait is for a transfer in flight, never for
/// another wait. A waiting task that is cancelled stops waiting.
///
/// Bounded: at most ``byteLimit`` bytes and ``fileLimit`` files (descriptors), the least recently used
/// dropped first; everything is dropped when the last request of the bundle ends.
package final class BundleFileCache: Sendable {
    /// A file as a request of the bundle fetched it.
    struct File: Sendable {
        let spool: SpoolFile
        let size: UInt64
        let crc32: UInt32
        /// The time its entry went out with.
        let modified: Int64
    }

    enum Take {
        /// Another request fetched it: its bytes, to write instead of fetching.
        case ready(File)
        /// This request is to fetch it and ``publish(_:_:)`` it (or `nil`) when the transfer ends.
        case claimed
        /// Fetch it without a claim (the task was cancelled while it waited).
        case unclaimed
    }

    private struct State {
        var requests = 0
        var files: [Int: File] = [:]
        var lastUse: [Int: UInt64] = [:]
        var clock: UInt64 = 0
        var bytes: UInt64 = 0
        /// Files a transfer is fetching for the others, and who waits for each.
        var fetching: [Int: [Int: CheckedContinuation<Void, Never>]] = [:]
        var nextWaiter = 0
    }

    let byteLimit: UInt64
    let fileLimit: Int
    private let state = Locked(State())

    init(byteLimit: UInt64 = 1 << 30, fileLimit: Int = 256) {
        self.byteLimit = byteLimit
        self.fileLimit = fileLimit
    }

    /// A request of the bundle begins.
    package func enter() { state.withLock { $0.requests += 1 } }

    /// A request of the bundle ends: the last one drops every file.
    package func leave() {
        let dropped = state.withLock { s -> [File] in
            s.requests -= 1
            guard s.requests <= 0 else { return [] }
            defer {
                s.files = [:]
                s.lastUse = [:]
                s.bytes = 0
            }
            return Array(s.files.values)
        }
        // Spool files close as their last reference goes: outside the lock.
        _ = dropped
    }

    /// Whether a file published now would be kept: two or more requests run.
    var isShared: Bool { state.withLock { $0.requests >= 2 } }

    /// Files kept now, and their bytes.
    var holding: (files: Int, bytes: UInt64) { state.withLock { ($0.files.count, $0.bytes) } }

    /// What to do for the file at plan index `index`: write the copy another request fetched, or fetch
    /// it under a claim. Waits while another request's transfer fetches it.
    func take(_ index: Int) async -> Take {
        while true {
            enum Step { case ready(File), claimed, wait }
            let step = state.withLock { s -> Step in
                if let file = s.files[index] {
                    s.clock += 1
                    s.lastUse[index] = s.clock
                    return .ready(file)
                }
                if s.fetching[index] != nil { return .wait }
                s.fetching[index] = [:]
                return .claimed
            }
            switch step {
            case .ready(let file): return .ready(file)
            case .claimed: return .claimed
            case .wait:
                await waitWhileFetched(index)
                // Cancelled: the transfer this would start is cancelled too; nothing to share.
                if Task.isCancelled { return .unclaimed }
            }
        }
    }

    /// Ends a claim: the file fetched (kept for the others, within the limits), or `nil` when the
    /// transfer failed or was cancelled (a waiter then claims it). Wakes whoever waits for it.
    func publish(_ index: Int, _ file: File?) {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            let waiting = s.fetching.removeValue(forKey: index).map { Array($0.values) } ?? []
            guard let file, s.requests >= 2, file.size <= byteLimit else { return waiting }
            s.files[index] = file
            s.bytes += file.size
            s.clock += 1
            s.lastUse[index] = s.clock
            while s.bytes > byteLimit || s.files.count > fileLimit,
                  let oldest = s.lastUse.min(by: { $0.value < $1.value })?.key {
                s.lastUse[oldest] = nil
                if let gone = s.files.removeValue(forKey: oldest) { s.bytes -= gone.size }
            }
            return waiting
        }
        for waiter in waiters { waiter.resume() }
    }

    private func waitWhileFetched(_ index: Int) async {
        let id = state.withLock { s -> Int in
            s.nextWaiter += 1
            return s.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    guard s.fetching[index] != nil, !Task.isCancelled else { return true }
                    s.fetching[index]![id] = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.fetching[index]?.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
