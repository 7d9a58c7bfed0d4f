import Foundation

/// What a `haul bench` run measured, as load generators report it: counts, throughput over time,
/// latency percentiles from HDR histograms, connections, retries and errors by kind, per host.
package struct BenchReport: Sendable {
    package var options: BenchOptions
    /// When the run started (wall clock), and how long it ran.
    package var started: Date
    package var seconds: Double
    /// Fetches started, and how they ended. A fetch is one product, its retries included.
    package var requests = 0
    package var ok = 0
    package var failed = 0
    /// Stopped by the end of a `--duration` run (or an interrupt) before they ended.
    package var cancelled = 0
    /// Body bytes received, of every attempt (a retried attempt's bytes too).
    package var bytes: Int64 = 0
    /// Failed fetches by the kind of their last failure (`HTTP 503`, `timeout`, `size mismatch`…).
    package var errors: [String: Int] = [:]
    /// Attempts that were retried, by kind.
    package var retries: [String: Int] = [:]
    /// Connections opened (libcurl's `CURLINFO_NUM_CONNECTS`, summed over attempts) and attempts that
    /// got an answer over a connection already open.
    package var connectionsOpened = 0
    package var connectionsReused = 0
    /// HTTP statuses of the last response of each fetch.
    package var statuses: [Int: Int] = [:]
    /// Time to first byte and total time of the fetches that ended OK. Under ``BenchOptions/Load/rate(_:limit:)``
    /// they count from each request's intended start (coordinated omission corrected); ``uncorrected``
    /// then holds the same from its actual start.
    package var ttfb = LatencyHistogram()
    package var total = LatencyHistogram()
    package var uncorrected: (ttfb: LatencyHistogram, total: LatencyHistogram)?
    /// How many requests started later than intended by more than a millisecond (rate mode): the
    /// client, not the server, was the bottleneck when most did.
    package var lateStarts = 0
    package var throughput: [ThroughputSample] = []
    /// Per host, in the order first seen.
    package var hosts: [HostReport] = []

    package init(options: BenchOptions, started: Date) {
        self.options = options
        self.started = started
        self.seconds = 0
        if case .rate = options.load { uncorrected = (LatencyHistogram(), LatencyHistogram()) }
    }

    package var errorCount: Int { errors.values.reduce(0, +) }
    package var retryCount: Int { retries.values.reduce(0, +) }
    package var bytesPerSecond: Double { seconds > 0 ? Double(bytes) / seconds : 0 }
    package var requestsPerSecond: Double { seconds > 0 ? Double(ok + failed) / seconds : 0 }
}
