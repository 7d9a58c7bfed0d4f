import CCurl
import Synchronization

/// One HTTP GET attempt as the engine runs it.
public struct AttemptRequest: Sendable {
    public var url: String
    /// Ask for the body from this byte on (`Range: bytes=N-`); 0 for the whole body.
    public var rangeStart: Int64 = 0
    /// The last byte to ask for (`Range: bytes=N-M`), for one segment of a product; `nil` for the rest.
    public var rangeEnd: Int64?
    /// A validator (`ETag` or `Last-Modified`) from the earlier attempt, sent as `If-Range`.
    public var ifRange: String?
    /// The size the catalog states: a response that disagrees ends at once as a size mismatch.
    public var expectedSize: Int64?
    /// Extra request headers (`Name: value`).
    public var headers: [String] = []
    /// Headers sent only to this URL's origin (scheme, host and port): a redirect to another origin is
    /// followed without them.
    public var originHeaders: [String] = []

    public init(url: String, rangeStart: Int64 = 0, rangeEnd: Int64? = nil, ifRange: String? = nil, expectedSize: Int64? = nil, headers: [String] = []) {
        self.url = url
        self.rangeStart = rangeStart
        self.rangeEnd = rangeEnd
        self.ifRange = ifRange
        self.expectedSize = expectedSize
        self.headers = headers
    }
}

/// What one attempt did.
public struct AttemptOutcome: Sendable {
    /// Why an attempt was stopped by Haul rather than by the network.
    public enum Abort: Sendable {
        /// The response declares a length other than the catalog's size, or grew past it.
        case sizeMismatch(expected: Int64, actual: Int64)
        /// A 206 answer for another range than asked.
        case rangeMismatch
        /// A 206 answer whose validator is not the `If-Range` sent: the product changed on the server and
        /// the server sent a range of the new one anyway (it does not honour `If-Range`).
        case changedOnServer
        /// The sink failed.
        case sink(any Error)
    }

    /// The byte the request asked the body from (`Range`), 0 for the whole body.
    public var rangeStart: Int64 = 0
    /// libcurl's result code (`CURLE_OK` is 0) and its message.
    public var curlCode: Int32 = 0
    public var curlMessage: String = ""
    /// The final HTTP status, 0 when none arrived.
    public var status: Int = 0
    /// Where in the product the body started, and how many body bytes the sink took.
    public var offset: Int64 = 0
    public var received: Int64 = 0
    /// The product's full length as the response states it, when it does.
    public var totalLength: Int64?
    public var acceptRanges = false
    /// A validator to resume with (`ETag`, else `Last-Modified`).
    public var validator: String?
    /// A 2xx response's `ETag`, as sent (weak ones too).
    public var etag: String?
    /// `Retry-After`, in seconds.
    public var retryAfter: Int64?
    /// `Last-Modified`, as Unix seconds.
    public var lastModified: Int64?
    /// A 2xx response's `Content-Encoding` (other than `identity`): the body was stored as sent, never
    /// decoded, so its length is the encoded length.
    public var contentEncoding: String?
    /// A 2xx response's `Content-Type`, when it sent one.
    public var contentType: String?
    /// The system's error number of a failed connection (`ECONNREFUSED`…), 0 when none.
    public var osErrno: Int32 = 0
    public var abort: Abort?
    public var cancelled = false
    /// Whether a 2xx body started and the sink was told where (`begin(offset:)`).
    public var bodyStarted = false
    /// Whether the bytes the sink now holds are the product's first `offset + received` bytes.
    public var end: Int64 { offset + received }
}

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

    // Engine thread only.
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
        if !responseChecked, !checkResponse(waker: waker) { return 0 }
        if discardBody { return bytes.count }
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

/// A shared count of bytes received, updated from the engine thread and read by progress.
public final class ByteCounter: Sendable {
    private let value = Atomic<Int64>(0)
    public init() {}
    public func add(_ n: Int64) { value.wrappingAdd(n, ordering: .relaxed) }
    public var total: Int64 { value.load(ordering: .relaxed) }
}
