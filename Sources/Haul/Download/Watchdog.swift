/// Notices a download that has stopped moving: transfers paused, no byte received and no file
/// finished for a whole ``Configuration/Watchdog/after``.
///
/// The memory budget makes such a hang impossible by construction (``MemoryBudget``); the watchdog is
/// the alarm that turns a regression into a clear failure instead of a silent hang. A value: it is fed
/// observations and says when to act, so it is tested without a network.
struct StallDetector {
    let window: Duration
    private var marker: (received: Int64, done: Int)?
    private var since: ContinuousClock.Instant?

    init(window: Duration) {
        self.window = window
    }

    /// - Returns: `true` when transfers have been paused with nothing moving for the window; it then
    ///   starts a new window, so a download that stays stuck is reported again one window later.
    mutating func observe(received: Int64, done: Int, paused: Int, at now: ContinuousClock.Instant) -> Bool {
        let current = (received, done)
        guard paused > 0, let marker, marker == current, let since else {
            marker = current
            since = now
            return false
        }
        guard since.duration(to: now) >= window else { return false }
        self.since = now
        return true
    }
}

extension Configuration {
    /// What a download does when transfers are paused and nothing moves (``StallDetector``).
    package struct Watchdog: Sendable, Hashable {
        package enum Action: Sendable, Hashable {
            /// Report (a ``DownloadEvent/warning(_:)``), then free memory: every entry staged in memory
            /// spills to its spool file and every paused transfer is woken. For real runs.
            case recover
            /// Report, then stop the download with a ``HaulError`` (`engine`) carrying the report. For
            /// tests, where a stall is a bug to see, not to survive.
            case fail
        }

        /// How long transfers may stay paused with no byte received and no file finished.
        package var after: Duration = .seconds(30)
        package var action: Action = .recover

        package init(after: Duration = .seconds(30), action: Action = .recover) {
            self.after = after
            self.action = action
        }
    }
}
