import Foundation

/// What a `haul bench` run measured, as load generators report it: counts, throughput over time,
/// latency percentiles from HDR histograms, connections, retries and errors by kind, per host.
public struct BenchReport: Sendable {
    public var options: BenchOptions
    /// When the run started (wall clock), and how long it ran.
    public var started: Date
    public var seconds: Double
    /// Fetches started, and how they ended. A fetch is one product, its retries included.
    public var requests = 0
    public var ok = 0
    public var failed = 0
    /// Stopped by the end of a `--duration` run (or an interrupt) before they ended.
    public var cancelled = 0
    /// Body bytes received, of every attempt (a retried attempt's bytes too).
    public var bytes: Int64 = 0
    /// Failed fetches by the kind of their last failure (`HTTP 503`, `timeout`, `size mismatch`…).
    public var errors: [String: Int] = [:]
    /// Attempts that were retried, by kind.
    public var retries: [String: Int] = [:]
    /// Connections opened (libcurl's `CURLINFO_NUM_CONNECTS`, summed over attempts) and attempts that
    /// got an answer over a connection already open.
    public var connectionsOpened = 0
    public var connectionsReused = 0
    /// HTTP statuses of the last response of each fetch.
    public var statuses: [Int: Int] = [:]
    /// Time to first byte and total time of the fetches that ended OK. Under ``BenchOptions/Load/rate(_:limit:)``
    /// they count from each request's intended start (coordinated omission corrected); ``uncorrected``
    /// then holds the same from its actual start.
    public var ttfb = LatencyHistogram()
    public var total = LatencyHistogram()
    public var uncorrected: (ttfb: LatencyHistogram, total: LatencyHistogram)?
    /// How many requests started later than intended by more than a millisecond (rate mode): the
    /// client, not the server, was the bottleneck when most did.
    public var lateStarts = 0
    public var throughput: [ThroughputSample] = []
    /// Per host, in the order first seen.
    public var hosts: [HostReport] = []

    public init(options: BenchOptions, started: Date) {
        self.options = options
        self.started = started
        self.seconds = 0
        if case .rate = options.load { uncorrected = (LatencyHistogram(), LatencyHistogram()) }
    }

    public var errorCount: Int { errors.values.reduce(0, +) }
    public var retryCount: Int { retries.values.reduce(0, +) }
    public var bytesPerSecond: Double { seconds > 0 ? Double(bytes) / seconds : 0 }
    public var requestsPerSecond: Double { seconds > 0 ? Double(ok + failed) / seconds : 0 }
}
