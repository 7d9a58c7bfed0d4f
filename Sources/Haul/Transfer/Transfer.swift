import CCurl
import Synchronization

/// The engine thread's record of one running attempt. Owned by that thread but for `cancelled`.
final class Transfer: @unchecked Sendable {
    let request: AttemptRequest
    let sink: any TransferSink
    let counter: ByteCounter?
    let cancelled = Atomic<Bool>(false)
    /// Set (releasing) by the engine thread just before it resumes the waiter, read (acquiring) by the
    /// waiter: whatever the engine thread did to the sink during the attempt happens before the caller's
    /// next step, such as a commit, as ThreadSanitizer can see too. The continuation alone does not show
    /// it when the attempt ends before its task has suspended.
    let ended = Atomic<Bool>(false)
    var continuation: CheckedContinuation<AttemptOutcome, Never>?
    /// Posts a resume command for this transfer; set by the engine when it starts the attempt.
    var waker = SinkWaker {}

    /// Hands the waiting ``Engine/attempt(_:into:counter:)`` its outcome: the one way every attempt
    /// ends (finished, cancelled before it started, refused by an engine that is gone, no handle). The
    /// engine thread calls it, or the poster of a start the engine never took; never under a lock.
    func resumeWaiter(_ outcome: AttemptOutcome) {
        ended.store(true, ordering: .releasing)  // pairs with Engine.attempt
        continuation?.resume(returning: outcome)
        continuation = nil
    }

    /// Ends the attempt as cancelled, with what it had so far.
    func resumeWaiterCancelled() {
        var outcome = self.outcome
        outcome.cancelled = true
        resumeWaiter(outcome)
    }

    var easy: UnsafeMutableRawPointer?
    var headerList: UnsafeMutablePointer<curl_slist>?
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    var outcome = AttemptOutcome()
    var responseChecked = false
    var discardBody = false
    var paused = false
    var finished = false
    /// Whether libcurl was let look for a connection to reuse (no `CURLOPT_FRESH_CONNECT`).
    var searchesConnections = true
    /// Whether libcurl may keep the connection for reuse when the attempt ends (no `CURLOPT_FORBID_REUSE`).
    var keepsConnection = true
    /// The engine's count of paused transfers, kept in step with ``paused``.
    var pausedCount: PauseCount?
    /// The engine's shared receive rate, when it has one.
    unowned var limiter: ReceiveLimiter?
    /// Paused by the limiter (not by the sink): it goes on when the limiter has tokens again.
    var throttled = false
    /// Where the attempt is now (after redirects followed by the engine), and how many it followed.
    var currentURL: String
    var redirects = 0

    init(request: AttemptRequest, sink: any TransferSink, counter: ByteCounter?) {
        self.request = request
        self.sink = sink
        self.counter = counter
        self.currentURL = request.url
        errorBuffer.initialize(to: 0)
        outcome.rangeStart = request.rangeStart
    }

    deinit {
        errorBuffer.deallocate()
    }

    /// Reads the response's status and headers once, before its first body byte (or at its end,
    /// for an empty body). Returns `false` when the attempt must stop.
    func checkResponse(waker: SinkWaker) -> Bool {
        assertOnEngineThread()
        guard !responseChecked, let easy else { return true }
        responseChecked = true
        var code = 0
        _ = ccurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
        outcome.status = code
        guard (200..<300).contains(code) else {
            discardBody = true
            return true
        }
        if let ranges = header("Accept-Ranges"), ranges.lowercased().contains("bytes") { outcome.acceptRanges = true }
        outcome.etag = header("ETag")
        let etag = outcome.etag.flatMap { $0.hasPrefix("W/") ? nil : $0 }
        outcome.validator = etag ?? header("Last-Modified")
        outcome.contentType = header("Content-Type")
        // Haul asks for identity and never turns on libcurl's decoding (CURLOPT_ACCEPT_ENCODING is
        // unset), so an encoded body is stored as sent: the archive's bytes, decoded by nobody.
        if let encoding = header("Content-Encoding"), encoding.lowercased() != "identity" { outcome.contentEncoding = encoding }
        if code == 206 {
            // Content-Range: bytes START-END/TOTAL
            guard let range = header("Content-Range"), let parsed = Self.parseContentRange(range),
                  parsed.start == request.rangeStart else {
                outcome.abort = .rangeMismatch
                return false
            }
            // A server that honours If-Range answers 200 with the whole (new) product when the validator
            // no longer matches; one that sends a range of another version would splice two versions.
            if let sent = request.ifRange {
                let current = sent.hasPrefix("\"") ? etag : header("Last-Modified")
                if current != sent {
                    outcome.abort = .changedOnServer
                    return false
                }
            }
            outcome.offset = parsed.start
            outcome.totalLength = parsed.total
        } else {
            outcome.offset = 0
            var length: curl_off_t = -1
            _ = ccurl_easy_getinfo_off(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length)
            outcome.totalLength = length >= 0 ? Int64(length) : nil
        }
        if let expected = request.expectedSize, let total = outcome.totalLength, total != expected {
            outcome.abort = .sizeMismatch(expected: expected, actual: total)
            return false
        }
        do {
            try sink.begin(offset: outcome.offset, totalLength: outcome.totalLength ?? request.expectedSize, waker: waker)
            outcome.bodyStarted = true
        } catch {
            outcome.abort = .sink(error)
            return false
        }
        return true
    }

    /// The write callback's work: check, bound and hand a chunk to the sink.
    func receive(_ bytes: UnsafeRawBufferPointer, waker: SinkWaker) -> Int {
        assertOnEngineThread()
        if !responseChecked, !checkResponse(waker: waker) { return 0 }
        if discardBody {
            let room = AttemptOutcome.errorBodyLimit - outcome.errorBody.count
            if room > 0 { outcome.errorBody.append(contentsOf: bytes.prefix(room)) }
            return bytes.count
        }
        let count = Int64(bytes.count)
        if let last = request.rangeEnd, outcome.end + count > last + 1 {
            // More than the segment asked for: a server that ignored the range's end.
            outcome.abort = .rangeMismatch
            return 0
        }
        if let limit = request.expectedSize ?? outcome.totalLength, outcome.end + count > limit {
            outcome.abort = .sizeMismatch(expected: limit, actual: outcome.end + count)
            return 0
        }
        if let limiter, !limiter.take(bytes.count, for: self) {
            // libcurl keeps the chunk and delivers it again once the limiter lets this transfer go on.
            throttled = true
            return ccurl_writefunc_pause()
        }
        switch sink.write(bytes) {
        case .accepted:
            outcome.received += count
            counter?.add(count)
            return bytes.count
        case .pause:
            if !paused {
                paused = true
                pausedCount?.value.add(1, ordering: .relaxed)
            }
            return ccurl_writefunc_pause()
        case .failed(let error):
            outcome.abort = .sink(error)
            return 0
        }
    }

    func header(_ name: String) -> String? {
        guard let easy, let value = ccurl_easy_header_value(easy, name) else { return nil }
        let s = String(cString: value).trimmingSpaces()
        return s.isEmpty ? nil : s
    }

    static func parseContentRange(_ value: String) -> (start: Int64, total: Int64?)? {
        let v = value.trimmingSpaces()
        guard v.lowercased().hasPrefix("bytes ") else { return nil }
        let rest = v.dropFirst(6).trimmingSpaces()
        let parts = rest.split(separator: "/", maxSplits: 1)
        guard parts.count == 2, let dash = parts[0].firstIndex(of: "-"),
              let start = Int64(parts[0][..<dash]) else { return nil }
        return (start, Int64(parts[1]))
    }
}
