/// What a run received in one interval of time: a point of the throughput-over-time plot.
package struct ThroughputSample: Sendable, Hashable {
    /// Seconds from the start of the run to the end of the interval.
    package var seconds: Double
    /// The interval's length in seconds.
    package var interval: Double
    /// Body bytes received during it.
    package var bytes: Int64
    /// Transfers that ended during it, OK or failed (not those the end of a run cancelled).
    package var completed: Int

    package init(seconds: Double, interval: Double, bytes: Int64, completed: Int) {
        self.seconds = seconds
        self.interval = interval
        self.bytes = bytes
        self.completed = completed
    }

    package var bytesPerSecond: Double { interval > 0 ? Double(bytes) / interval : 0 }
}
