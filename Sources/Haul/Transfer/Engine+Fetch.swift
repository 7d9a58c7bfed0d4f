import CCurl
import Foundation

extension Engine {
    /// Whether a request header asks a conditional question (`If-None-Match`, `If-Modified-Since`),
    /// whose 304 answer means "your copy is current" rather than a failure.
    static func isConditional(_ header: String) -> Bool {
        let lower = header.lowercased()
        return lower.hasPrefix("if-none-match:") || lower.hasPrefix("if-modified-since:")
    }

    /// Fetches one URL into `sink`, retrying transient failures as ``Configuration/retry`` says and
    /// resuming with `Range` where the server allows it: what a download does for each file.
    ///
    /// The sink is called on the engine's thread (``TransferSink``). The request carries
    /// ``Configuration/headers`` where they go, and `headers` besides.
    ///
    /// - Parameters:
    ///   - url: Where from.
    ///   - expectedSize: The size the file must have; a different length is a failure, never a file.
    ///     `nil` takes what the server sends.
    ///   - headers: Extra request headers (`Name: value`). With `If-None-Match` or `If-Modified-Since`
    ///     among them, a 304 answer ends the fetch as ``FetchResult/Status/notModified``.
    ///   - sink: Where the bytes go; it holds the whole file when the result is ``FetchResult/Status/ok``.
    /// - Returns: How it ended; a failure's ``FileFailure`` says why. Cancelling the calling task
    ///   stops the transfer and gives ``FetchResult/Status/cancelled``.
    package func fetch(url: String, expectedSize: Int64?, headers: [String] = [], into sink: any TransferSink) async -> FetchResult {
        await fetch(url: url, expectedSize: expectedSize, headers: headers, originHeaders: [], into: sink)
    }

    /// The same, with what a download and `haul bench` need besides.
    ///
    /// - Parameters:
    ///   - originHeaders: Request headers sent only while on `url`'s origin (not after a redirect elsewhere).
    ///   - counter: Counts received bytes for progress.
    ///   - onAttempt: Told of every attempt as it ends, before the retry loop decides what follows
    ///     (`haul bench` counts connections, retries and their kinds from it).
    package func fetch(
        url: String, expectedSize: Int64?, headers: [String] = [], originHeaders: [String],
        into sink: any TransferSink, counter: ByteCounter? = nil, onAttempt: (AttemptOutcome) -> Void = { _ in }
    ) async -> FetchResult {
        let started = ContinuousClock.now
        var held: Int64 = 0
        var validator: String?
        var resumable = false
        var lastModified: Int64?
        var etag: String?
        var httpStatus = 0
        var loop = RetryLoop(policy: configuration.retry, hosts: hosts, url: url)
        let status = await loop.run { attempt in
            let rangeStart = resumable ? held : 0
            var request = AttemptRequest(
                url: url, rangeStart: rangeStart, ifRange: rangeStart > 0 ? validator : nil,
                expectedSize: expectedSize, headers: headers
            )
            request.originHeaders = originHeaders
            let outcome = await self.attempt(request, into: sink, counter: counter)
            onAttempt(outcome)
            if outcome.status != 0 { httpStatus = outcome.status }
            if outcome.cancelled { return (outcome, .finished(.cancelled)) }
            if outcome.bodyStarted {
                held = outcome.end
                validator = outcome.validator
                resumable = outcome.acceptRanges
                lastModified = outcome.lastModified ?? lastModified
                etag = outcome.etag
            }
            if outcome.status == 304, outcome.curlCode == 0, headers.contains(where: Self.isConditional) {
                lastModified = outcome.lastModified
                return (outcome, .finished(.notModified))
            }
            switch AttemptVerdict(outcome, expectedSize: expectedSize) {
            case .success:
                return (outcome, .finished(.ok))
            case .fail(let reason):
                return (outcome, .finished(.failed(reason)))
            case .retry(let reason, let retryAfter):
                // What is held cannot be continued: the next attempt asks for the whole product.
                switch outcome.abort {
                case .rangeMismatch?, .changedOnServer?: resumable = false
                default: if outcome.status == 416 { resumable = false }
                }
                return (outcome, .retry(reason: reason, retryAfter: retryAfter))
            }
        }
        let seconds = started.duration(to: .now).seconds
        switch status {
        case .notModified:
            return FetchResult(status: .notModified, attempts: loop.attempts, bytes: 0, lastModified: lastModified, seconds: seconds, httpStatus: 304)
        case .cancelled:
            return FetchResult(status: .cancelled, attempts: loop.attempts, bytes: held, lastModified: lastModified, seconds: seconds)
        default:
            return FetchResult(status: status, attempts: loop.attempts, bytes: held, lastModified: lastModified, seconds: seconds, etag: etag, httpStatus: httpStatus)
        }
    }
}
