extension DownloadEvent {
    /// A snapshot of a download's progress: a ``DownloadEvent/progress(_:)`` event.
    public struct Progress: Sendable, Hashable {
        /// Unique files the download fetches.
        public var filesTotal: Int
        /// Files that have ended, in any way.
        public var filesDone: Int
        /// Files that ended `FAILED` (a subset of ``filesDone``).
        public var filesFailed: Int
        /// Bytes of the files held so far (received, or already complete from an earlier run).
        public var bytesDone: Int64
        /// The catalog's stated bytes of the files fetched; `nil` when it states none.
        public var bytesTotal: Int64?
        /// Transfers on the wire now.
        public var activeTransfers: Int
        /// Time since the download started.
        public var elapsed: Duration
        /// Receive rate over the last few seconds, in bytes per second (over the whole run in the last snapshot).
        public var bytesPerSecond: Double
    }
}
