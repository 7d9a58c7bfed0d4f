/// How `haul bench` drives the engine.
package struct BenchOptions: Sendable, Hashable {
    /// How requests are started.
    package enum Load: Sendable, Hashable {
        /// Keep this many transfers in flight: a new one starts when one ends (h2load, oha `-c`).
        case concurrency(Int)
        /// Start requests at this many a second, evenly spaced, with at most `limit` in flight (wrk2 `-R`).
        /// Each request's latency counts from the moment it was meant to start, not the moment a
        /// free slot let it start: a server that stalls holds back the requests queued behind it, and
        /// their wait is part of what a user at that rate would see (coordinated omission corrected).
        case rate(Double, limit: Int)
    }

    /// When the run ends.
    package enum Stop: Sendable, Hashable {
        /// After every target was fetched this many times.
        case repeats(Int)
        /// When this much time has passed, cycling through the targets; transfers still running then are
        /// cancelled and counted apart (`cancelled`), not as errors and not in the latencies.
        case duration(Duration)
    }

    package var load: Load
    package var stop: Stop
    /// Compute each body's CRC-32 as a download does (its CPU cost included in the run), and count a
    /// body that differs from the one the same URL gave before as an error (`content differs`).
    package var computesCRC: Bool
    /// How often throughput is sampled (and progress reported).
    package var sampleInterval: Duration
    /// What the report calls the source of the bytes (the archive, a mirror, a cloud copy).
    package var label: String

    package init(load: Load = .concurrency(64), stop: Stop = .repeats(1), computesCRC: Bool = false,
                sampleInterval: Duration = .milliseconds(250), label: String = "") {
        self.load = load
        self.stop = stop
        self.computesCRC = computesCRC
        self.sampleInterval = sampleInterval
        self.label = label
    }

    /// The most transfers in flight.
    var limit: Int {
        switch load {
        case .concurrency(let n): return max(1, n)
        case .rate(_, let limit): return max(1, limit)
        }
    }
}
