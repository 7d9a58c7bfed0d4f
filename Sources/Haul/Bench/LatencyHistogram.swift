import Histogram

/// Latencies of one kind (time to first byte, total time), recorded in microseconds in an HDR
/// histogram: three significant digits from 1 µs to an hour and beyond, in a fixed ~200 KB whatever the
/// number of requests, as wrk2 and h2load keep theirs.
package struct LatencyHistogram: Sendable {
    var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)

    package init() {
        // A request slower than an hour still counts, in a histogram that grows for it.
        histogram.autoResize = true
    }

    /// Values recorded.
    package var count: Int { Int(histogram.totalCount) }

    /// Records one latency; a negative one (clocks of two sources) as 0.
    package mutating func record(seconds: Double) {
        let microseconds = seconds.isFinite ? UInt64(max(0, (seconds * 1e6).rounded())) : UInt64(3_600_000_000)
        _ = histogram.record(microseconds)
    }

    package mutating func add(_ other: LatencyHistogram) {
        histogram.add(other.histogram)
    }

    /// The latency at a percentile (0–100), in seconds: the highest value the histogram cannot tell
    /// from it (within 0.1 %), as HdrHistogram reports.
    package func seconds(atPercentile percentile: Double) -> Double {
        count == 0 ? 0 : Double(histogram.valueAtPercentile(percentile)) / 1e6
    }

    /// How many recorded latencies are at least `seconds` long (to the histogram's 0.1 %).
    package func count(atLeast seconds: Double) -> Int {
        guard count > 0 else { return 0 }
        let low = UInt64(max(0, (seconds * 1e6).rounded()))
        guard low <= histogram.maxRecorded else { return 0 }
        return Int(histogram.count(within: low...histogram.maxRecorded))
    }

    /// p50, p90, p99, max (the largest value recorded, exact), min and mean, in seconds.
    package var summary: LatencySummary {
        guard count > 0 else { return LatencySummary() }
        return LatencySummary(
            count: count, p50: seconds(atPercentile: 50), p90: seconds(atPercentile: 90), p99: seconds(atPercentile: 99),
            max: Double(histogram.maxRecorded) / 1e6, min: Double(histogram.min) / 1e6, mean: histogram.mean / 1e6
        )
    }

    /// The percentile distribution HdrHistogram prints (`ticksPerHalfDistance` points each time the
    /// distance to 100 % halves): the points of a latency-by-percentile plot.
    package func distribution(ticksPerHalfDistance: Int = 5) -> [(percentile: Double, seconds: Double)] {
        guard count > 0 else { return [] }
        var points: [(Double, Double)] = []
        for step in histogram.percentiles(ticksPerHalfDistance: ticksPerHalfDistance) {
            points.append((step.percentileLevelIteratedTo, Double(step.value) / 1e6))
        }
        return points
    }
}
