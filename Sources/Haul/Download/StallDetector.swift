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
