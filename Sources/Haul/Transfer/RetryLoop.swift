/// The retry loop of every fetch: a whole product (``Engine/fetch(url:expectedSize:headers:originHeaders:into:counter:)``)
/// and each segment of a big one (``Engine/fetchSegmented(url:expectedSize:headers:originHeaders:into:counter:)``)
/// go through this one loop, so both give up on an unreachable host at once and wake early from a
/// backoff when it is given up on meanwhile.
///
/// The loop knows nothing of HTTP: each attempt is a closure that runs the request, keeps what it
/// needs of the outcome, and says whether the fetch is finished or worth another try. The loop counts
/// attempts, tells ``HostHealth`` how each ended, enforces ``Configuration/RetryPolicy/retries`` and
/// sleeps the policy's backoff between attempts.
struct RetryLoop {
    /// What one attempt decided.
    enum Step {
        /// The fetch ends with this status.
        case finished(FetchResult.Status)
        /// A transient failure: try again after the policy's backoff (or `retryAfter`).
        case retry(reason: FileFailure, retryAfter: Duration?)
    }

    let policy: Configuration.RetryPolicy
    let hosts: HostHealth
    /// `host:port` of the URL, when it has one (``HostHealth/key(_:)``).
    let host: String?
    /// How the loop waits; tests pass one that does not.
    let sleep: @Sendable (Duration) async throws -> Void
    /// Attempts made so far.
    private(set) var attempts = 0

    init(policy: Configuration.RetryPolicy, hosts: HostHealth, url: String,
         sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Wakeups.sleep(for: $0) }) {
        self.policy = policy
        self.hosts = hosts
        self.host = HostHealth.key(url)
        self.sleep = sleep
    }

    /// Runs attempts until one finishes the fetch, the retries are spent, the host is given up on, or
    /// the task is cancelled.
    ///
    /// - Parameter attempt: Runs attempt number `n` (1-based). It returns the outcome of the request
    ///   it made (`nil` when it made none) and its decision.
    /// - Returns: How the fetch ended: a given-up host's reason, or the last transient reason with the
    ///   number of attempts, when it failed.
    mutating func run(_ attempt: (_ n: Int) async -> (outcome: AttemptOutcome?, step: Step)) async -> FetchResult.Status {
        while true {
            // A host that refused every connection so far ends the fetch at once, with its reason.
            if let host, let verdict = hosts.verdict(host) { return .failed(FileFailure(.unreachable, verdict)) }
            attempts += 1
            let (outcome, step) = await attempt(attempts)
            if let outcome {
                if let host { hosts.record(host, outcome) }
                if outcome.cancelled { return .cancelled }
            }
            if Task.isCancelled { return .cancelled }
            switch step {
            case .finished(let status):
                return status
            case .retry(let reason, let retryAfter):
                guard attempts <= policy.retries else {
                    // One reason for every file of a host given up on, whichever attempt was last.
                    if let host, let verdict = hosts.verdict(host) { return .failed(FileFailure(.unreachable, verdict)) }
                    return .failed(attempts == 1 ? reason : reason.adding(" after \(attempts) attempts"))
                }
                do {
                    try await wait(policy.delay(afterAttempt: attempts, retryAfter: retryAfter))
                } catch {
                    return .cancelled
                }
            }
        }
    }

    /// Sleeps before a retry, waking early when the host is given up on meanwhile (checked every 100 ms).
    private func wait(_ delay: Duration) async throws {
        guard let host, hosts.givesUp else { return try await sleep(delay) }
        // Follows the clock, so the steps' own delays (a busy machine) do not lengthen the wait, and
        // counts the steps, so a sleep that returns at once (a test's) still ends it.
        let end = ContinuousClock.now + delay
        var left = delay
        while left > .zero {
            if hosts.verdict(host) != nil { return }
            let step = min(.milliseconds(100), left)
            try await sleep(step)
            left = min(left - step, ContinuousClock.now.duration(to: end))
        }
    }
}
