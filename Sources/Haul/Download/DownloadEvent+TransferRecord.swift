extension DownloadEvent {
    /// How one product's transfer went: a ``DownloadEvent/transfer(_:)`` event.
    public struct TransferRecord: Sendable, Hashable {
        /// The URL asked (before redirects).
        public var url: String
        /// The last response's HTTP status, 0 when none arrived.
        public var httpStatus: Int
        /// Bytes held at the end (the whole product when it is `OK`).
        public var bytes: Int64
        /// Time from the first attempt's start to the last one's end.
        public var seconds: Double
        /// Attempts made: 1 plus the retries.
        public var attempts: Int
        /// The manifest status it ended with.
        public var status: Manifest.Status

        package init(url: String, httpStatus: Int, bytes: Int64, seconds: Double, attempts: Int, status: Manifest.Status) {
            self.url = url
            self.httpStatus = httpStatus
            self.bytes = bytes
            self.seconds = seconds
            self.attempts = attempts
            self.status = status
        }
    }
}
