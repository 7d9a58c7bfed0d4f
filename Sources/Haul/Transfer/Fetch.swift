import CCurl
import Foundation

/// How one product's download ended, after every attempt.
public struct FetchResult: Sendable {
    public enum Status: Sendable, Hashable {
        case ok
        /// A conditional request (`If-None-Match`, `If-Modified-Since`) was answered 304: the copy the
        /// caller has is current, and the sink holds nothing.
        case notModified
        /// Final failure; the reason is the manifest's `FAILED: …` text.
        case failed(String)
        case cancelled
    }

    public var status: Status
    public var attempts: Int
    /// Bytes the sink holds (the whole product when `ok`).
    public var bytes: Int64
    /// `Last-Modified` of the last response, as Unix seconds.
    public var lastModified: Int64?
    public var seconds: Double
    /// `ETag` of the response the bytes came from (as sent, quotes and any `W/` kept).
    public var etag: String? = nil
    /// The last response's HTTP status, 0 when none arrived.
    public var httpStatus = 0
}

/// What to do after one attempt.
public enum AttemptVerdict: Sendable, Hashable {
    case success
    /// Transient: try again after the wait (the server's `Retry-After` when it sent one).
    case retry(reason: String, retryAfter: Duration?)
    case fail(reason: String)

    /// Classifies an attempt (SPEC §3): connection errors, timeouts, stalls, 408, 429 and 5xx are
    /// transient; other 4xx, redirect loops, TLS trust failures, size mismatches and sink errors are final.
    public init(_ outcome: AttemptOutcome, expectedSize: Int64?) {
        if let abort = outcome.abort {
            switch abort {
            case .sizeMismatch(let expected, let actual):
                self = .fail(reason: "size mismatch (expected \(expected) bytes, server has \(actual))" + Self.why(outcome))
            case .rangeMismatch:
                self = .retry(reason: "the server answered another byte range than asked", retryAfter: nil)
            case .changedOnServer:
                self = .retry(reason: "the file changed on the server during the download (the server ignored If-Range)", retryAfter: nil)
            case .sink(let error):
                self = .fail(reason: "write error: \(error)")
            }
            return
        }
        let retryAfter = outcome.retryAfter.map { Duration.seconds($0) }
        let code = CURLcode(rawValue: UInt32(outcome.curlCode))
        if code == CURLE_OK || code == CURLE_HTTP_RETURNED_ERROR {
            switch outcome.status {
            case 200..<300:
                if let total = outcome.totalLength, outcome.end != total {
                    self = .retry(reason: "body ended at \(outcome.end) of \(total) bytes", retryAfter: nil)
                } else if let expectedSize, outcome.end != expectedSize {
                    self = .fail(reason: "size mismatch (expected \(expectedSize) bytes, received \(outcome.end))" + Self.why(outcome))
                } else {
                    self = .success
                }
            case 408, 429, 500..<600:
                self = .retry(reason: "HTTP \(outcome.status)", retryAfter: retryAfter)
            case 416 where outcome.rangeStart > 0:
                // The part already held cannot be completed (the product shrank or changed): start over.
                self = .retry(reason: "HTTP 416: the server refused to resume from byte \(outcome.rangeStart)", retryAfter: nil)
            default:
                self = .fail(reason: "HTTP \(outcome.status)")
            }
            return
        }
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            self = .retry(reason: outcome.bodyStarted || outcome.status != 0 ? "stalled" : "timeout", retryAfter: nil)
        case CURLE_COULDNT_CONNECT:
            self = .retry(reason: "cannot connect", retryAfter: nil)
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            self = .retry(reason: "cannot resolve host", retryAfter: nil)
        case CURLE_PARTIAL_FILE:
            self = .retry(reason: "connection closed before the end of the body", retryAfter: nil)
        case CURLE_GOT_NOTHING:
            self = .retry(reason: "empty reply from server", retryAfter: nil)
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR:
            self = .retry(reason: "connection error", retryAfter: nil)
        case CURLE_HTTP2, CURLE_HTTP2_STREAM:
            self = .retry(reason: "HTTP/2 error", retryAfter: nil)
        case CURLE_SSL_CONNECT_ERROR:
            self = .retry(reason: "TLS handshake failed", retryAfter: nil)
        case CURLE_PEER_FAILED_VERIFICATION:
            // Never accepted silently: the user names the authority to trust (curl's wording kept).
            self = .fail(reason: "TLS certificate not trusted (\(outcome.curlMessage)): trust its issuer with --cacert FILE or --capath DIR")
        case CURLE_SSL_CACERT_BADFILE:
            self = .fail(reason: "cannot read the trusted certificates (\(outcome.curlMessage)): check --cacert FILE or --capath DIR")
        case CURLE_TOO_MANY_REDIRECTS:
            self = .fail(reason: "too many redirects")
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
            self = .fail(reason: "bad URL")
        default:
            self = .fail(reason: "transfer error (curl \(outcome.curlCode): \(outcome.curlMessage))")
        }
    }

    /// Why a body's length is not the catalog's, when the response says: an encoding, an HTML page.
    static func why(_ outcome: AttemptOutcome) -> String {
        if let encoding = outcome.contentEncoding {
            return ": the server sent the file \(encoding)-encoded (Content-Encoding: \(encoding)) although identity was asked; Haul keeps an archive's bytes as sent and never decodes them"
        }
        if let type = outcome.contentType, type.lowercased().hasPrefix("text/html") {
            return ": the server answered \(outcome.status) with an HTML page (an error page?) instead of the file"
        }
        return ""
    }
}

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
