/// One fetch of a bench run, as its task hands it to the run's aggregation.
struct BenchFetch: Sendable {
    var target: BenchTarget
    /// When the load meant it to start, when it started, when it ended.
    var intended: ContinuousClock.Instant
    var started: ContinuousClock.Instant
    var ended: ContinuousClock.Instant
    /// When the body's first byte arrived, for the attempt that ended the fetch.
    var firstByte: ContinuousClock.Instant?
    var result: FetchResult
    /// The kind of every attempt that was retried, in order.
    var retried: [String] = []
    /// The kind of the last attempt's failure (`nil` when it had none, or no attempt was made).
    var lastFailure: String?
    /// Body bytes its attempts received (a retried or cancelled attempt's too).
    var received: Int64 = 0
    /// The CRC-32 of the whole body, when asked for and the fetch ended OK.
    var crc: UInt32?
    var connectionsOpened = 0
    var connectionsReused = 0
}
