/// One latency's percentiles, in seconds (all 0 when nothing was recorded).
public struct LatencySummary: Sendable, Hashable {
    public var count = 0
    public var p50 = 0.0
    public var p90 = 0.0
    public var p99 = 0.0
    public var max = 0.0
    public var min = 0.0
    public var mean = 0.0

    public init(count: Int = 0, p50: Double = 0, p90: Double = 0, p99: Double = 0, max: Double = 0, min: Double = 0, mean: Double = 0) {
        self.count = count
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.max = max
        self.min = min
        self.mean = mean
    }
}
