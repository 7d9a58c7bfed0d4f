#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Configuration {
    /// When and how failed attempts are tried again.
    ///
    /// Connection errors, timeouts, stalls, 408, 429 and 5xx are transient; other 4xx are final. Waits grow
    /// exponentially from ``baseDelay`` with full jitter, capped at ``maxDelay``; a `Retry-After` from the
    /// server is honoured up to ``maxRetryAfter``.
    public struct RetryPolicy: Sendable, Hashable {
        /// Attempts after the first.
        public var retries: Int = 5
        public var baseDelay: Duration = .milliseconds(500)
        public var maxDelay: Duration = .seconds(30)
        public var maxRetryAfter: Duration = .seconds(300)

        public init(retries: Int = 5) {
            self.retries = retries
        }

        /// The wait before attempt `attempt + 1` (1-based `attempt` just failed).
        package func delay(afterAttempt attempt: Int, retryAfter: Duration?) -> Duration {
            if let retryAfter { return min(retryAfter, maxRetryAfter) }
            let exponent = min(attempt - 1, 30)
            let ceiling = min(maxDelay, baseDelay * (1 << exponent))
            // Half fixed, half random: spreads a burst of retries without ever retrying at once.
            let fraction = 0.5 + Double.random(in: 0..<0.5)
            return ceiling * fraction
        }
    }
}
