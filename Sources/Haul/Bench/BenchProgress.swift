/// A running bench's counts, reported at every throughput sample.
public struct BenchProgress: Sendable, Hashable {
    /// Seconds since the run started.
    public var seconds: Double
    /// Fetches ended (any way), and those that failed.
    public var done: Int
    public var failed: Int
    /// Body bytes received so far.
    public var bytes: Int64
    /// The rate over the last sample interval, bytes a second.
    public var bytesPerSecond: Double
    /// Transfers on the wire now.
    public var inFlight: Int
}
