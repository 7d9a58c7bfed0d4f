import CCurl
import Foundation

extension Engine {
    /// Whether a request header asks a conditional question (`If-None-Match`, `If-Modified-Since`),
    /// whose 304 answer means "your copy is current" rather than a failure.
    static func isConditional(_ header: String) -> Bool {
        let lower = header.lowercased()
        return lower.hasPrefix("if-none-match:") || lower.hasPrefix("if-modified-since:")
    }

    /// Fetches one product into `sink`, retrying transient failures as ``Configuration/retry`` says
    /// and resuming with `Range` where the server allows it.
    ///
    /// - Parameters:
    ///   - url: Where from.
    ///   - expectedSize: The catalog's size; a different length is a failure, never a file.
    ///   - headers: Extra request headers. With `If-None-Match` or `If-Modified-Since` among them, a 304
    ///     answer ends the fetch as `notModified`.
    ///   - sink: Where the bytes go; it holds the whole product when the result is `ok`.
    ///   - counter: Counts received bytes for progress.
    /// - Returns: The result; cancelling the task gives `cancelled`.
    ///   - originHeaders: Request headers sent only while on `url`'s origin (not after a redirect elsewhere).
    public func fetch(
        url: String, expectedSize: Int64?, headers: [String] = [], originHeaders: [String] = [],
        into sink: any TransferSink, counter: ByteCounter? = nil
    ) async -> FetchResult {
        let started = ContinuousClock.now
        let policy = configuration.retry
        var held: Int64 = 0
        var validator: String?
        var resumable = false
        var lastModified: Int64?
        var etag: String?
        var attempt = 0
        var httpStatus = 0
        let host = HostHealth.key(url)
        func elapsed() -> Double { started.duration(to: .now).seconds }
        func result(_ status: FetchResult.Status) -> FetchResult {
            FetchResult(status: status, attempts: attempt, bytes: held, lastModified: lastModified, seconds: elapsed(), etag: etag, httpStatus: httpStatus)
        }
        while true {
            // A host that refused every connection so far ends the fetch at once, with its reason.
            if let host, let verdict = hosts.verdict(host) { return result(.failed(verdict)) }
            attempt += 1
            let rangeStart = resumable ? held : 0
            var request = AttemptRequest(
                url: url, rangeStart: rangeStart, ifRange: rangeStart > 0 ? validator : nil,
                expectedSize: expectedSize, headers: headers
            )
            request.originHeaders = originHeaders
            let outcome = await self.attempt(request, into: sink, counter: counter)
            if let host { hosts.record(host, outcome) }
            if outcome.status != 0 { httpStatus = outcome.status }
            if outcome.cancelled || Task.isCancelled {
                return FetchResult(status: .cancelled, attempts: attempt, bytes: held, lastModified: lastModified, seconds: elapsed())
            }
            if outcome.bodyStarted {
                held = outcome.end
                validator = outcome.validator
                resumable = outcome.acceptRanges
                lastModified = outcome.lastModified ?? lastModified
                etag = outcome.etag
            }
            if outcome.status == 304, outcome.curlCode == 0, headers.contains(where: Self.isConditional) {
                return FetchResult(status: .notModified, attempts: attempt, bytes: 0, lastModified: outcome.lastModified, seconds: elapsed(), httpStatus: 304)
            }
            switch AttemptVerdict(outcome, expectedSize: expectedSize) {
            case .success:
                return result(.ok)
            case .fail(let reason):
                return result(.failed(reason))
            case .retry(let reason, let retryAfter):
                guard attempt <= policy.retries else {
                    // One reason for every file of a host given up on, whichever attempt was last.
                    if let host, let verdict = hosts.verdict(host) { return result(.failed(verdict)) }
                    let text = attempt == 1 ? reason : "\(reason) after \(attempt) attempts"
                    return result(.failed(text))
                }
                // What is held cannot be continued: the next attempt asks for the whole product.
                switch outcome.abort {
                case .rangeMismatch?, .changedOnServer?: resumable = false
                default: if outcome.status == 416 { resumable = false }
                }
                do {
                    try await waitToRetry(policy.delay(afterAttempt: attempt, retryAfter: retryAfter), host: host)
                } catch {
                    return FetchResult(status: .cancelled, attempts: attempt, bytes: held, lastModified: lastModified, seconds: elapsed())
                }
            }
        }
    }

    /// Sleeps before a retry, waking early when `host` is given up on meanwhile (checked every 100 ms).
    func waitToRetry(_ delay: Duration, host: String?) async throws {
        guard let host, configuration.unreachableAfter > 0 else { return try await Task.sleep(for: delay) }
        let end = ContinuousClock.now + delay
        while ContinuousClock.now < end {
            if hosts.verdict(host) != nil { return }
            try await Task.sleep(for: min(.milliseconds(100), ContinuousClock.now.duration(to: end)))
        }
    }
}
