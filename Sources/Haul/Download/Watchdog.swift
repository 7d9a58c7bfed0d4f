
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
