import Foundation
import Synchronization

extension Engine {
    /// Fetches `targets` as a load generator does and discards the bytes: under a fixed concurrency or
    /// at a fixed rate, once or several times each or for a while, measuring each fetch's time to
    /// first byte and total time, connections, retries and errors, per host, and throughput over time.
    ///
    /// Every fetch goes through ``fetch(url:expectedSize:headers:originHeaders:into:counter:onAttempt:)``
    /// as a download's does: the same retries, length checks and connection reuse; only the sink differs.
    ///
    /// - Parameters:
    ///   - targets: What to fetch, in order; cycled through as ``BenchOptions/stop`` says.
    ///   - options: The load, when to stop, CRC-32 or not.
    ///   - progress: Told of the counts at every throughput sample.
    /// - Returns: The report. Cancelling the task ends the run early; transfers then running count as
    ///   `cancelled`.
    package func bench(
        _ targets: [BenchTarget], options: BenchOptions, progress: (@Sendable (BenchProgress) -> Void)? = nil
    ) async -> BenchReport {
        // On threads of the run's own, as a download's tasks are (``WorkerPool``): the loop that starts
        // fetches at their intended times and the sampler must not wait behind whatever else the
        // process runs on Swift's shared pool (as wide as the cores), which would delay every start
        // and every sample.
        let workers = WorkerPool(name: "haul-bench")
        return await withTaskExecutorPreference(workers) {
            await run(targets, options: options, progress: progress, workers: workers)
        }
    }

    private func run(
        _ targets: [BenchTarget], options: BenchOptions, progress: (@Sendable (BenchProgress) -> Void)?, workers: WorkerPool
    ) async -> BenchReport {
        var report = BenchReport(options: options, started: Date())
        guard !targets.isEmpty else { return report }
        let received = ByteCounter()
        let start = ContinuousClock.now
        let recorder = ThroughputRecorder(bytes: received, started: start)
        // An unstructured task does not inherit the executor preference: it is given it.
        let sampler = Task(executorPreference: workers) { [self] in
            await recorder.run(every: options.sampleInterval) { sample in
                progress?(BenchProgress(
                    seconds: sample.seconds, done: recorder.completed.load(ordering: .relaxed), failed: recorder.failed.load(ordering: .relaxed),
                    bytes: recorder.bytes.total, bytesPerSecond: sample.bytesPerSecond, inFlight: self.activeTransfers
                ))
            }
        }
        var aggregate = BenchAggregate(report: report)

        // The loop below is the only place that starts fetches and the only reader of their results,
        // so the report is built by one task, without a lock; the fetches' own tasks only fetch.
        await withTaskGroup(of: BenchStep.self) { group in
            var deadline: ContinuousClock.Instant?
            var count: Int?
            switch options.stop {
            case .repeats(let n): count = max(0, n) * targets.count
            case .duration(let d):
                deadline = start + d
                group.addTask {
                    try? await Wakeups.sleep(until: start + d)
                    return .deadline
                }
            }
            /// Fetches started and not yet taken back (some may have ended: `group.next()` returns those first).
            var inFlight = 0
            var stopping = false
            func take(_ step: BenchStep) {
                switch step {
                case .fetched(let fetch):
                    inFlight -= 1
                    aggregate.add(fetch)
                case .deadline:
                    // The time is up: what is still running is cancelled (and counted apart).
                    stopping = true
                    group.cancelAll()
                }
            }
            var index = 0
            while !stopping, !Task.isCancelled {
                if let count, index >= count { break }
                var intended = ContinuousClock.now
                if case .rate(let rate, _) = options.load {
                    intended = start + .seconds(Double(index) / rate)
                    if let deadline, intended >= deadline { break }
                    if intended > .now {
                        do { try await Wakeups.sleep(until: intended) } catch { break }
                    }
                }
                // A free slot; under a rate, the wait for it is part of the latency (from `intended`).
                while inFlight >= options.limit, !stopping, let step = await group.next() { take(step) }
                if stopping || Task.isCancelled { break }
                if let deadline, ContinuousClock.now >= deadline { break }
                let target = targets[index % targets.count]
                let crc = options.computesCRC
                if case .concurrency = options.load { intended = .now }
                group.addTask {
                    let fetch = await self.benchFetch(target, intended: intended, computesCRC: crc, counter: received)
                    // Counted here, as it ends: the loop takes results only when it needs a free slot.
                    switch fetch.result.status {
                    case .cancelled: break  // cut by the end of the run: not a request the server answered
                    case .failed:
                        recorder.completed.add(1, ordering: .relaxed)
                        recorder.failed.add(1, ordering: .relaxed)  // live count; the report also counts CRC differences
                    case .ok, .notModified: recorder.completed.add(1, ordering: .relaxed)
                    }
                    return .fetched(fetch)
                }
                inFlight += 1
                index += 1
            }
            if deadline == nil || Task.isCancelled {
                // Nothing more to wait for than the fetches (the deadline's sleep is cancelled with them
                // when the run is).
                while inFlight > 0, let step = await group.next() { take(step) }
                group.cancelAll()
            }
            while let step = await group.next() { take(step) }
        }
        sampler.cancel()
        await sampler.value
        report = aggregate.report
        report.seconds = start.duration(to: .now).seconds
        report.bytes = received.total
        report.throughput = recorder.samples
        return report
    }

    /// One fetch of a bench run, timed.
    func benchFetch(_ target: BenchTarget, intended: ContinuousClock.Instant, computesCRC: Bool, counter: ByteCounter) async -> BenchFetch {
        let sink = DiscardSink(computesCRC: computesCRC)
        let started = ContinuousClock.now
        var last: (outcome: AttemptOutcome, ended: ContinuousClock.Instant)?
        var retried: [String] = []
        var opened = 0
        var reused = 0
        var received: Int64 = 0
        let result = await fetch(
            url: target.url, expectedSize: target.expectedSize, headers: target.headers, originHeaders: target.originHeaders,
            into: sink, counter: counter
        ) { outcome in
            // An attempt after another means the other was retried.
            if let previous = last { retried.append(FailureKind.of(previous.outcome)) }
            last = (outcome, outcome.ended ?? .now)
            opened += outcome.connectionsOpened
            received += outcome.received
            if outcome.connectionsOpened == 0, outcome.status != 0 { reused += 1 }
        }
        // Ended when the engine ended the last attempt (its thread's clock), not when this task ran again.
        var fetch = BenchFetch(target: target, intended: intended, started: started, ended: last?.ended ?? .now, result: result, retried: retried)
        fetch.connectionsOpened = opened
        fetch.connectionsReused = reused
        fetch.received = received
        if result.status == .ok { fetch.crc = sink.crc }
        if let last {
            // libcurl times the attempt from its start; placed back from its end on our clock.
            if let first = last.outcome.firstByteSeconds {
                fetch.firstByte = last.ended - .seconds(max(0, last.outcome.totalSeconds - first))
            }
            if case .failed = result.status { fetch.lastFailure = FailureKind.of(last.outcome) }
        }
        return fetch
    }
}
