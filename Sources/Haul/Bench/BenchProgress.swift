/// A running bench's counts, reported at every throughput sample.
package struct BenchProgress: Sendable, Hashable {
    /// Seconds since the run started.
    package var seconds: Double
    /// Fetches ended (any way), and those that failed.
    package var done: Int
    package var failed: Int
    /// Body bytes received so far.
    package var bytes: Int64
    /// The rate over the last sample interval, bytes a second.
    package var bytesPerSecond: Double
    /// Transfers on the wire now.
    package var inFlight: Int
}
