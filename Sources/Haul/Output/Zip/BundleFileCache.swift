import Dispatch

/// Whole files of one ``StoredBundle``, shared by the requests of it that run at the same time, and
/// kept a little while for the next one.
///
/// A download manager asks for a bundle as several ranges at once (`aria2c -x8`), and splits them
/// again as they finish. Each range fetches every file whose entry it overlaps, whole (its header
/// carries the file's CRC-32): without sharing, a file at a range's boundary is fetched once for each
/// side, and one a new split starts inside is fetched again though another request has it. Here every
/// file a request fetches is claimed while its transfer runs, so a request that needs it meanwhile
/// waits for it instead of fetching it too; and every file fetched is kept for the others, within
/// bounds, the least recently used dropped first.
///
/// # What a request alone keeps
/// A download manager's first connection is alone for a while: the response's head goes out with the
/// first byte, which waits for the first file to be whole, and only then does the client learn the
/// length and open its other connections, at offsets inside the bundle (inside the first file, when it
/// is big). So a request alone keeps files too, but only those already in a spool file (a file big
/// enough to spill, ``ZipStaging/memoryThreshold``: keeping it costs no copy, only its disk space for
/// longer), and within a smaller bound, ``aloneByteLimit`` and ``aloneFileLimit``: one plain download
/// (`curl`, a browser) never has another request to share with, and this is what it pays for the chance.
/// Two or more requests running copy a file held in memory to a spool file too, within ``byteLimit``
/// and ``fileLimit``.
///
/// When the last request of the bundle ends, what is kept is cut to the smaller bound, and kept for
/// ``grace`` more: a download manager's next connection (a split it makes as a range finishes, a retry
/// after a connection broke) finds it; then all is dropped, unless a request of the bundle began meanwhile.
///
/// # Why it cannot wait forever
/// A file is claimed only by a transfer that starts at once (after its writer admitted it), and every
/// claim ends when that transfer ends, whatever its outcome (``publish(_:_:)`` with the file, or with
/// `nil`, after which a waiter claims it itself). So a wait is for a transfer in flight, never for
/// another wait. A waiting task that is cancelled stops waiting.
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
        /// Changes with every request that begins: a ``grace`` period that began before is over.
        var generation = 0
        /// When the grace period running now ends (no request running), for the readers to see it
        /// ended even before its timer has run.
        var graceEnd: ContinuousClock.Instant?
        var files: [Int: File] = [:]
        var lastUse: [Int: UInt64] = [:]
        var clock: UInt64 = 0
        var bytes: UInt64 = 0
        /// Files a transfer is fetching for the others, and who waits for each.
        var fetching: [Int: [Int: CheckedContinuation<Void, Never>]] = [:]
        var nextWaiter = 0
        /// The most files and bytes kept at once while fewer than two requests ran.
        var alonePeak: (files: Int, bytes: UInt64) = (0, 0)
    }

    /// What two or more requests running keep at most.
    let byteLimit: UInt64
    let fileLimit: Int
    /// What a request alone keeps at most, and what stays for ``grace`` after the last request ends.
    ///
    /// Four files: a range a download manager opens once the head is out starts inside a file its first
    /// connection fetched alone only when the bundle's first files are big (entries go smallest first),
    /// and then few of them precede its offsets; the most recently fetched are kept. 512 MiB: a first
    /// file up to that size is not fetched twice by the range that starts inside it, and one plain
    /// download holds no more spool than that beyond what it stages anyway (a file that spilled is on
    /// disk until its entry has gone out, whether kept or not).
    package let aloneByteLimit: UInt64
    package let aloneFileLimit: Int
    /// How long what is kept stays after the last request ends: a download manager opens its next
    /// connections as soon as the head arrives (a round trip), and a split or a retry after a broken
    /// connection follows within seconds; a plain download that has ended frees the space this much
    /// later.
    let grace: Duration
    private let state = Locked(State())

    init(
        byteLimit: UInt64 = 1 << 30, fileLimit: Int = 256, aloneByteLimit: UInt64 = 512 << 20, aloneFileLimit: Int = 4,
        grace: Duration = .seconds(10)
    ) {
        self.byteLimit = byteLimit
        self.fileLimit = fileLimit
        self.aloneByteLimit = min(aloneByteLimit, byteLimit)
        self.aloneFileLimit = min(aloneFileLimit, fileLimit)
        self.grace = grace
    }

    /// A request of the bundle begins.
    package func enter() {
        state.withLock {
            $0.requests += 1
            $0.generation += 1
            $0.graceEnd = nil
        }
    }

    /// A request of the bundle ends. Fewer than two left: what is kept is cut to the smaller bound;
    /// none: it is dropped after ``grace`` unless a request begins meanwhile.
    package func leave() {
        let (dropped, generation) = state.withLock { s -> ([File], Int?) in
            s.requests -= 1
            guard s.requests < 2 else { return ([], nil) }
            let dropped = Self.trim(&s, bytes: aloneByteLimit, files: aloneFileLimit)
            Self.notePeak(&s)
            guard s.requests <= 0 else { return (dropped, nil) }
            s.graceEnd = .now + grace
            return (dropped, s.generation)
        }
        // Spool files close as their last reference goes: outside the lock.
        _ = dropped
        guard let generation else { return }
        // A timer of libdispatch's, not a task: Swift's shared threads may all be busy for longer
        // than the grace (a loaded machine, blocking work). Readers also drop what is kept once the
        // grace has ended (``expired(_:)``), whether or not the timer has run.
        let seconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [weak self] in self?.expire(generation) }
    }

    /// The end of a ``grace`` period: everything is dropped unless a request began since.
    private func expire(_ generation: Int) {
        let dropped = state.withLock { s -> [File] in
            guard s.requests <= 0, s.generation == generation else { return [] }
            s.graceEnd = nil
            return Self.trim(&s, bytes: 0, files: 0)
        }
        _ = dropped
    }

    /// Drops everything when a grace period has ended and no request began: the files to release
    /// outside the lock.
    private static func expired(_ s: inout State) -> [File] {
        guard s.requests <= 0, let end = s.graceEnd, ContinuousClock.now >= end else { return [] }
        s.graceEnd = nil
        return trim(&s, bytes: 0, files: 0)
    }

    /// Whether a file in memory published now would be kept (copied to a spool file): two or more
    /// requests run.
    package var isShared: Bool { state.withLock { $0.requests >= 2 } }

    /// Files kept now, and their bytes.
    package var holding: (files: Int, bytes: UInt64) {
        let (holding, dropped) = state.withLock { s in
            let dropped = Self.expired(&s)
            return ((s.files.count, s.bytes), dropped)
        }
        _ = dropped
        return holding
    }

    /// The most files, and bytes, kept at once while fewer than two requests ran.
    package var alonePeak: (files: Int, bytes: UInt64) { state.withLock { $0.alonePeak } }

    /// Drops the least recently used files until at most `bytes` and `files` are kept; returns them
    /// (to be released outside the lock).
    private static func trim(_ s: inout State, bytes: UInt64, files: Int) -> [File] {
        var dropped: [File] = []
        while s.bytes > bytes || s.files.count > files, let oldest = s.lastUse.min(by: { $0.value < $1.value })?.key {
            s.lastUse[oldest] = nil
            if let gone = s.files.removeValue(forKey: oldest) {
                s.bytes -= gone.size
                dropped.append(gone)
            }
        }
        return dropped
    }

    private static func notePeak(_ s: inout State) {
        guard s.requests < 2 else { return }
        s.alonePeak = (max(s.alonePeak.files, s.files.count), max(s.alonePeak.bytes, s.bytes))
    }

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

    /// Ends a claim: the file fetched (kept for the others, within the bound in effect: the smaller one
    /// while fewer than two requests run), or `nil` when the transfer failed or was cancelled (a waiter
    /// then claims it). Wakes whoever waits for it.
    func publish(_ index: Int, _ file: File?) {
        let (waiters, dropped) = state.withLock { s -> ([CheckedContinuation<Void, Never>], [File]) in
            let waiting = s.fetching.removeValue(forKey: index).map { Array($0.values) } ?? []
            let (bytes, files) = s.requests >= 2 ? (byteLimit, fileLimit) : (aloneByteLimit, aloneFileLimit)
            // No request entered (the engine used on its own): nothing would end the keeping.
            guard let file, s.requests > 0, file.size <= bytes, files > 0 else { return (waiting, []) }
            let replaced = s.files.updateValue(file, forKey: index)
            s.bytes = s.bytes - (replaced?.size ?? 0) + file.size
            s.clock += 1
            s.lastUse[index] = s.clock
            let dropped = Self.trim(&s, bytes: bytes, files: files)
            Self.notePeak(&s)
            return (waiting, dropped + (replaced.map { [$0] } ?? []))
        }
        _ = dropped
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
