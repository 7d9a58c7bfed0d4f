/// One latency's percentiles, in seconds (all 0 when nothing was recorded).
package struct LatencySummary: Sendable, Hashable {
    package var count = 0
    package var p50 = 0.0
    package var p90 = 0.0
    package var p99 = 0.0
    package var max = 0.0
    package var min = 0.0
    package var mean = 0.0

    package init(count: Int = 0, p50: Double = 0, p90: Double = 0, p99: Double = 0, max: Double = 0, min: Double = 0, mean: Double = 0) {
        self.count = count
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.max = max
        self.min = min
        self.mean = mean
    }
}
