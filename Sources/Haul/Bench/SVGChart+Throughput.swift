extension SVGChart {
    /// Throughput (MB/s) over time: `haul bench --html`'s plot, and a download's in `manifest.html`.
    static func throughput(_ samples: [ThroughputSample]) -> String {
        guard samples.count > 1 else { return "<p>The run was too short to plot throughput over time.</p>\n" }
        let points = steps(merged(samples)) { $0.bytesPerSecond / 1e6 }
        return SVGChart(title: "Throughput", xLabel: "seconds", yLabel: "MB/s",
                        series: [SVGChart.Series(name: "MB/s", color: "#1f6fb2", points: points)], filled: true).svg()
    }

    /// Each sample as a level held over its interval: a rate is an average over a span, not a value at
    /// an instant, and a line between sample ends would draw rises before they happened.
    static func steps(_ samples: [ThroughputSample], _ value: (ThroughputSample) -> Double) -> [(x: Double, y: Double)] {
        samples.flatMap { sample -> [(x: Double, y: Double)] in
            let v = value(sample)
            return [(max(0, sample.seconds - sample.interval), v), (sample.seconds, v)]
        }
    }

    /// At most `limit` samples, neighbours merged, so a long run still draws a light plot.
    static func merged(_ samples: [ThroughputSample], limit: Int = 400) -> [ThroughputSample] {
        guard samples.count > limit else { return samples }
        let group = (samples.count + limit - 1) / limit
        return stride(from: 0, to: samples.count, by: group).map { i in
            let slice = samples[i..<min(samples.count, i + group)]
            return ThroughputSample(
                seconds: slice.last!.seconds, interval: slice.reduce(0) { $0 + $1.interval },
                bytes: slice.reduce(0) { $0 + $1.bytes }, completed: slice.reduce(0) { $0 + $1.completed }
            )
        }
    }
}
