import Synchronization

/// Samples a run's received bytes and finished transfers at a fixed interval, from the clock: each
/// sample records the time it was really taken, so a late wake on a busy machine makes a longer
/// interval, not a wrong rate. Used by `haul bench` and by downloads (the manifest's plot).
final class ThroughputRecorder: Sendable {
    let bytes: ByteCounter
    /// Transfers that ended OK or failed, and of those the ones that failed.
    let completed = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let started: ContinuousClock.Instant
    private let state = Locked(State())

    private struct State {
        var samples: [ThroughputSample] = []
        var lastSeconds = 0.0
        var lastBytes: Int64 = 0
        var lastCompleted = 0
    }

    init(bytes: ByteCounter, started: ContinuousClock.Instant = .now) {
        self.bytes = bytes
        self.started = started
    }

    /// Takes a sample now: what arrived since the last one.
    @discardableResult
    func sample() -> ThroughputSample? {
        let now = started.duration(to: .now).seconds
        let total = bytes.total
        let done = completed.load(ordering: .relaxed)
        return state.withLock { s in
            let interval = now - s.lastSeconds
            guard interval > 0 else { return nil }
            let sample = ThroughputSample(seconds: now, interval: interval, bytes: total - s.lastBytes, completed: done - s.lastCompleted)
            s.samples.append(sample)
            (s.lastSeconds, s.lastBytes, s.lastCompleted) = (now, total, done)
            return sample
        }
    }

    var samples: [ThroughputSample] { state.withLock { $0.samples } }

    /// Samples every `interval` until the task is cancelled, then once more, telling `each` of every sample.
    func run(every interval: Duration, _ each: (ThroughputSample) -> Void = { _ in }) async {
        var next = started + interval
        while !Task.isCancelled {
            do { try await Wakeups.sleep(until: next) } catch { break }
            if let sample = sample() { each(sample) }
            next += interval
            // Behind by more than an interval (a long pause): sample from now on, not in a burst.
            if next < .now { next = .now + interval }
        }
        finish(interval: interval)
    }

    /// The last sample, when the run ends: merged into the one before when it covers less than half an
    /// interval, so a few transfers ending in the last milliseconds do not plot as a spike of rate.
    func finish(interval: Duration) {
        guard let last = sample() else { return }
        state.withLock { s in
            guard last.interval < interval.seconds / 2, s.samples.count >= 2 else { return }
            let tail = s.samples.removeLast()
            let previous = s.samples.removeLast()
            s.samples.append(ThroughputSample(
                seconds: tail.seconds, interval: previous.interval + tail.interval,
                bytes: previous.bytes + tail.bytes, completed: previous.completed + tail.completed
            ))
        }
    }
}
