import CZlib
import Foundation
import Haul
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Runs a loopback archive for the duration of `body`: an HTTP/1.1 server on `127.0.0.1`, on a port
/// the system picks, that serves MAST's download endpoints for the products registered with it.
///
/// Tests, `haul demo` and the benchmarks all use this one server.
///
/// - Parameters:
///   - threads: Event-loop threads serving requests.
///   - body: Registers products and points Haul at ``TestArchive/url``.
/// - Returns: What `body` returns. The server is closed, and every connection with it, before this returns.
public func withTestArchive<Result: Sendable>(
    threads: Int = 1,
    _ body: (TestArchive) async throws -> Result
) async throws -> Result {
    let archive = try await TestArchive.start(threads: threads)
    do {
        let result = try await body(archive)
        await archive.stop()
        return result
    } catch {
        await archive.stop()
        throw error
    }
}

/// A loopback MAST archive: products registered by URI, generated content, chosen faults, counters.
///
/// Endpoints:
/// - `GET /api/v0.1/Download/file?uri=mast:…` — a product by its `mast:` URI;
/// - `GET /search/{mission}/api/v0.1/retrieve_product?product_name=…` — by its missions-search URI;
/// - `GET /whoami` — `{"anon": true}`, or the user a registered token belongs to;
/// - `GET /api/v0.1/path_lookup/?uri=…&uri=…` — where MAST's public bucket keeps each product
///   (``setCloudPath(_:path:)``): `{"URI": {"status_code": 200, "path": "/…"}}`, or `404` and `null`;
/// - any other path — the product registered under that path (for catalogs of plain URLs).
///
/// Responses carry `Content-Length`, `Last-Modified`, `ETag` and `Accept-Ranges: bytes`, and honour
/// `Range` (`bytes=N-` and `bytes=N-M`) and `HEAD`.
public final class TestArchive: Sendable {
    /// What the archive does wrong for a product, for the first ``times`` requests of it.
    public struct Fault: Sendable, Hashable {
        public enum Kind: Sendable, Hashable {
            /// Answer with this status (and `Retry-After` when given), no body.
            case status(Int, retryAfter: Int? = nil)
            /// Send the headers and this many body bytes, then close the connection.
            case closeAfter(Int64)
            /// Promise the full `Content-Length` but close one byte short of it.
            case shortBody
            /// State (and send) a length `delta` bytes off the product's size.
            case wrongLength(delta: Int64)
            /// Send the headers and this many body bytes, then send nothing more, keeping the connection.
            case stall(after: Int64)
            /// Send the body at this many bytes per second.
            case trickle(bytesPerSecond: Int)
            /// Ignore `Range` and send no `Accept-Ranges`.
            case noRanges
            /// Send the body chunked, without `Content-Length`.
            case chunked
            /// Redirect (302) to the product's plain path.
            case redirect
            /// Redirect (302) to this URL (another server, say).
            case redirectTo(String)
            /// Redirect (302) through this many hops in all (`/hop/N/…`) before the product's plain path.
            case redirectChain(Int)
            /// Redirect (302) to `/loop/a/…`, which redirects to `/loop/b/…` and back, forever.
            case redirectLoop
            /// Answer with this status and `Retry-After` as an HTTP date this many seconds ahead.
            case statusRetryAt(Int, secondsAhead: Int)
            /// Send the body chunked, without `Content-Length`, and close the connection after this many
            /// bytes without the last chunk.
            case chunkedCloseAfter(Int64)
            /// Send the product gzip-encoded (`Content-Encoding: gzip`, the encoded length as
            /// `Content-Length`) whatever `Accept-Encoding` asked; `Range` is ignored.
            case gzipEncoded
            /// Answer 200 with a small HTML error page (`text/html`) instead of the product: with its
            /// `Content-Length`, or chunked.
            case htmlErrorPage(chunked: Bool)
            /// Answer a `Range` request with 206 for the range starting `delta` bytes off the one asked,
            /// and say so in `Content-Range`.
            case wrongContentRange(delta: Int64)
            /// The product changed on the server (another `ETag` and `Last-Modified`), yet a `Range`
            /// request is answered 206 with the range, as a server that does not understand `If-Range` does.
            case ignoreIfRange
            /// Send the headers, then hold the body until ``TestArchive/release()``.
            case hold
            /// Wait this long before answering (head and body then come as usual): an archive, or a
            /// network, that adds a fixed latency to every request it affects. 0 adds none.
            case delay(milliseconds: Int)
            /// Answer as S3 does when it refuses: this status and S3's XML error body,
            /// `<Error><Code>CODE</Code><Message>MESSAGE</Message>…</Error>`, no `Retry-After`
            /// (`503 SlowDown`, `403 AccessDenied`, `404 NoSuchKey`).
            case s3Error(Int, code: String, message: String)
        }

        public var kind: Kind
        /// How many requests of the product it affects; later requests are served correctly.
        public var times: Int

        public init(_ kind: Kind, times: Int = .max) {
            self.kind = kind
            self.times = times
        }

        public static func failing(_ times: Int, status: Int = 503, retryAfter: Int? = 1) -> Fault {
            Fault(.status(status, retryAfter: retryAfter), times: times)
        }
    }

    /// What the archive has seen.
    public struct Statistics: Sendable, Hashable {
        public var requests = 0
        /// Connections accepted.
        public var connections = 0
        /// Requests that carried a `Range` header.
        public var rangeRequests = 0
        /// Body bytes sent.
        public var bytesSent: Int64 = 0
        /// The most requests being answered at one time.
        public var peakConcurrentResponses = 0
        /// Requests for URIs that are not registered (answered 404).
        public var unknown = 0
        /// Product requests that carried an `Authorization` header.
        public var authorizedRequests = 0
        /// Requests of any kind (a product, `/whoami`, an unknown path) that carried one.
        public var authorizationHeaders = 0
        /// Product requests that carried `If-None-Match` or `If-Modified-Since`.
        public var conditionalRequests = 0
        /// Product requests answered 304 Not Modified (a conditional request for an unchanged product).
        public var notModified = 0
        /// Product requests answered 200 with the whole product (a `GET`, not a range, not a fault).
        public var fullResponses = 0
        /// Path lookups answered, and the URIs they asked about in all.
        public var lookupCalls = 0
        public var lookupURIs = 0
        /// Requests in absolute form (`GET http://host/path`): what a client sends to a proxy. The archive
        /// answers them as for its own path, so it can stand in for a proxy.
        public var proxiedRequests = 0
    }

    /// A request as the archive received it (``recordRequests()``).
    public struct RecordedRequest: Sendable, Hashable {
        /// The request target as sent: a path, or an absolute URL when sent to a proxy.
        public var target: String
        /// Its headers, names in lower case, in the order sent.
        public var headers: [(name: String, value: String)]

        /// The values of one header (any case).
        public func values(_ name: String) -> [String] {
            headers.filter { $0.name == name.lowercased() }.map(\.value)
        }

        public static func == (a: RecordedRequest, b: RecordedRequest) -> Bool {
            a.target == b.target && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
        }

        public func hash(into hasher: inout Hasher) { hasher.combine(target) }
    }

    struct Resource: Sendable {
        var content: ArchiveContent
        var faults: [Fault]
        var lastModified: Int64
        var lastModifiedText: String
        var requests = 0
        var access: Access
        var ranges: Bool
    }

    /// Who may fetch a product.
    public enum Access: Sendable, Hashable {
        case `public`
        /// Only with `Authorization: token T` for a token registered with ``addToken(_:user:)``.
        case exclusive
    }

    struct State {
        var resources: [String: Resource] = [:]
        var tokens: [String: String] = [:]
        var statistics = Statistics()
        var concurrent = 0
        /// Whether ``TestArchive/release()`` was called, and the held bodies waiting for it.
        var released = false
        var held: [@Sendable () -> Void] = []
        /// The requests received since ``TestArchive/recordRequests()``, the newest 10,000; `nil` when not recording.
        var recorded: [RecordedRequest]?
        /// The bucket paths the path lookup gives, by URI, and how often each URI was asked about.
        var cloudPaths: [String: String] = [:]
        var lookedUp: [String: Int] = [:]
    }

    let state = Locked(State())
    let group: MultiThreadedEventLoopGroup
    let channel: Locked<(any Channel)?>
    /// `http://127.0.0.1:PORT`, the value for `--archive` or `HAUL_ARCHIVE`.
    public let url: String
    public let port: Int

    private init(group: MultiThreadedEventLoopGroup, channel: any Channel, port: Int) {
        self.group = group
        self.channel = Locked(channel)
        self.port = port
        self.url = "http://127.0.0.1:\(port)"
    }

    static func start(threads: Int) async throws -> TestArchive {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        let box = Locked<TestArchive?>(nil)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 4096)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let archive = box.withLock({ $0 }) else { throw ChannelError.ioOnClosedChannel }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(ArchiveHandler(archive: archive))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let archive = TestArchive(group: group, channel: channel, port: channel.localAddress?.port ?? 0)
        box.withLock { $0 = archive }
        return archive
    }

    func stop() async {
        let channel = self.channel.withLock { c -> (any Channel)? in defer { c = nil }; return c }
        try? await channel?.close()
        try? await group.shutdownGracefully()
    }

    // MARK: Registration

    /// Serves a product.
    ///
    /// - Parameters:
    ///   - uri: The key it is fetched by: a `mast:` URI, a missions-search relative URI, or a path (`/x/y`).
    ///   - size: Its length in bytes; the content is ``ArchiveContent``.
    ///   - faults: What goes wrong, in order: the first fault applies to its first `times` requests, the
    ///     next to the requests after those, and so on.
    ///   - access: Whether a token is needed.
    ///   - ranges: Whether `Range` is honoured (and `Accept-Ranges: bytes` sent).
    ///   - lastModified: Unix seconds for `Last-Modified`; by default a fixed date varied by URI.
    ///   - content: FITS-like (compressible) or random (incompressible) bytes.
    public func add(
        uri: String, size: Int64, faults: [Fault] = [], access: Access = .public, ranges: Bool = true, lastModified: Int64? = nil,
        content kind: ArchiveContent.Kind = .fits
    ) {
        let content = ArchiveContent(uri: uri, size: size, kind: kind)
        let modified = lastModified ?? (1_700_000_000 + Int64(content.seed % 10_000_000))
        state.withLock {
            $0.resources[uri] = Resource(
                content: content, faults: faults, lastModified: modified, lastModifiedText: Self.httpDate(modified), access: access,
                ranges: ranges
            )
        }
    }

    /// Makes the path lookup answer `uri` with `path` (`/hst/public/…`, a key of the bucket with a
    /// leading `/`); `nil` makes it answer 404 for it again (the default for every URI).
    public func setCloudPath(_ uri: String, path: String?) {
        state.withLock { $0.cloudPaths[uri] = path }
    }

    /// How many times the path lookup was asked about `uri`.
    public func lookups(of uri: String) -> Int {
        state.withLock { $0.lookedUp[uri] ?? 0 }
    }

    /// Accepts `Authorization: token TOKEN` as `user` (for `/whoami` and exclusive products).
    public func addToken(_ token: String, user: String) {
        state.withLock { $0.tokens[token] = user }
    }

    /// The bytes a product has, to compare with what was downloaded.
    public func content(of uri: String) -> [UInt8]? {
        state.withLock { $0.resources[uri]?.content }?.allBytes
    }

    /// Changes a product's content under the same name, as an archive that reprocessed it does: other
    /// bytes (and, when given, another size), a later `Last-Modified` (a day later by default) and so
    /// another `ETag`. Its faults and counts stay.
    public func reprocess(uri: String, size: Int64? = nil, lastModified: Int64? = nil) {
        state.withLock { s in
            guard var resource = s.resources[uri] else { return }
            let old = resource.content
            resource.content = ArchiveContent(uri: uri, size: size ?? old.size, kind: old.kind, version: old.version + 1)
            resource.lastModified = lastModified ?? resource.lastModified + 86_400
            resource.lastModifiedText = Self.httpDate(resource.lastModified)
            s.resources[uri] = resource
        }
    }

    /// The `ETag` a product is served with (quoted, as sent).
    public func etag(of uri: String) -> String? {
        state.withLock { $0.resources[uri] }.map { Self.etag($0, changed: false) }
    }

    /// The `Last-Modified` time a product is served with, in Unix seconds.
    public func lastModified(of uri: String) -> Int64? {
        state.withLock { $0.resources[uri]?.lastModified }
    }

    /// Requests received for one product.
    public func requests(for uri: String) -> Int {
        state.withLock { $0.resources[uri]?.requests ?? 0 }
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Starts keeping every request's target and headers (the newest 10,000), for tests that check what
    /// a client sent. Off unless asked for: the demo and benchmarks keep nothing.
    public func recordRequests() {
        state.withLock { if $0.recorded == nil { $0.recorded = [] } }
    }

    /// The requests kept since ``recordRequests()``, oldest first.
    public var recordedRequests: [RecordedRequest] { state.withLock { $0.recorded ?? [] } }

    /// The page a ``Fault/Kind/htmlErrorPage(chunked:)`` fault sends instead of a product.
    public static let errorPage = Array("""
        <!DOCTYPE html>
        <html><head><title>Service unavailable</title></head>
        <body><h1>Service unavailable</h1><p>The archive is busy. Please try again later.</p></body></html>

        """.utf8)

    /// The body a ``Fault/Kind/gzipEncoded`` fault sends for a product: its bytes, gzip-encoded.
    public func gzipEncodedContent(of uri: String) -> [UInt8]? {
        content(of: uri).map(Self.gzip)
    }

    /// Lets every body held by a ``Fault/Kind/hold`` fault go, now and from now on.
    public func release() {
        let waiting = state.withLock { s -> [@Sendable () -> Void] in
            s.released = true
            defer { s.held.removeAll() }
            return s.held
        }
        for wake in waiting { wake() }
    }

    /// Whether a held body may be sent; otherwise `wake` is kept and called by ``release()``.
    func mayRelease(orWake wake: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { s in
            if s.released { return true }
            s.held.append(wake)
            return false
        }
    }

    // MARK: Answering

    /// What to send for one request.
    struct Reply {
        var status: HTTPResponseStatus
        var headers: [(String, String)] = []
        var text: [UInt8] = []
        var body: BodyPlan?
        var closeAfter = false
        /// Wait this long before sending anything (``Fault/Kind/delay(milliseconds:)``).
        var delayMilliseconds = 0
    }

    /// A product body to stream.
    struct BodyPlan {
        var content: ArchiveContent
        var start: Int64
        var end: Int64
        /// Close the connection when the body reaches this offset.
        var cutAt: Int64?
        /// Stop sending when the body reaches this offset.
        var stallAt: Int64?
        var bytesPerSecond: Int?
        var chunked = false
        /// Send nothing until the archive is released.
        var held = false
    }

    func connectionOpened() {
        state.withLock { $0.statistics.connections += 1 }
    }

    func responseStarted() {
        state.withLock {
            $0.concurrent += 1
            $0.statistics.peakConcurrentResponses = max($0.statistics.peakConcurrentResponses, $0.concurrent)
        }
    }

    func responseEnded(sent: Int64) {
        state.withLock {
            $0.concurrent -= 1
            $0.statistics.bytesSent += sent
        }
    }

    func reply(to head: HTTPRequestHead) -> Reply {
        let proxied = Self.originForm(head.uri)
        let (path, query) = Self.split(proxied ?? head.uri)
        let range = head.headers.first(name: "range")
        let authorization = head.headers.first(name: "authorization")
        return state.withLock { s -> Reply in
            s.statistics.requests += 1
            if proxied != nil { s.statistics.proxiedRequests += 1 }
            if s.recorded != nil {
                if s.recorded!.count >= 10_000 { s.recorded!.removeFirst(1_000) }
                s.recorded!.append(RecordedRequest(target: head.uri, headers: head.headers.map { ($0.name.lowercased(), $0.value) }))
            }
            if range != nil { s.statistics.rangeRequests += 1 }
            if authorization != nil { s.statistics.authorizationHeaders += 1 }
            guard head.method == .GET || head.method == .HEAD else {
                return Reply(status: .methodNotAllowed, headers: [("Allow", "GET, HEAD")])
            }
            if let location = Self.hop(path) {
                return Reply(status: .found, headers: [("Location", location)])
            }
            // `/redirect?to=URL`: a redirect to anywhere, another server included.
            if path == "/redirect", let location = query["to"] {
                return Reply(status: .found, headers: [("Location", location)])
            }
            let user = authorization.flatMap { Self.token(in: $0) }.flatMap { s.tokens[$0] }
            if path == "/whoami" {
                let json = user.map { #"{"anon":false,"attrib":{"display_name":"# + JSONText.quoted($0) + "}}" } ?? #"{"anon":true}"#
                return Reply(status: .ok, headers: [("Content-Type", "application/json")], text: Array(json.utf8))
            }
            if path == "/api/v0.1/path_lookup/" || path == "/api/v0.1/path_lookup" {
                return Self.lookupReply(&s, query: head.uri.firstIndex(of: "?").map { head.uri[head.uri.index(after: $0)...] } ?? "")
            }
            let key: String?
            switch path {
            case "/api/v0.1/Download/file": key = query["uri"]
            case _ where path.hasPrefix("/search/") && path.hasSuffix("/api/v0.1/retrieve_product"): key = query["product_name"]
            case _ where path.hasPrefix("/files/") && s.resources[path] == nil: key = String(path.dropFirst(7))
            default: key = path
            }
            guard let key, var resource = s.resources[key] else {
                s.statistics.unknown += 1
                return Reply(status: .notFound, headers: [("Content-Type", "text/plain")], text: Array("no such product\n".utf8))
            }
            if authorization != nil { s.statistics.authorizedRequests += 1 }
            resource.requests += 1
            s.resources[key] = resource
            if resource.access == .exclusive && user == nil {
                return Reply(status: .unauthorized, headers: [("Content-Type", "text/plain")], text: Array("exclusive access: token required\n".utf8))
            }
            // Which fault applies to this request: faults are consumed in order.
            var fault: Fault.Kind?
            var n = resource.requests
            for f in resource.faults {
                if n <= f.times { fault = f.kind; break }
                n -= f.times
            }
            let conditional = (ifNoneMatch: head.headers.first(name: "if-none-match"), ifModifiedSince: head.headers.first(name: "if-modified-since"))
            if conditional.ifNoneMatch != nil || conditional.ifModifiedSince != nil { s.statistics.conditionalRequests += 1 }
            // A conditional request for an unchanged product, where no fault answers instead (RFC 9110
            // §13.1: If-None-Match decides when present, else If-Modified-Since).
            if fault == nil || fault == .noRanges,
               Self.unchanged(resource, ifNoneMatch: conditional.ifNoneMatch, ifModifiedSince: conditional.ifModifiedSince) {
                s.statistics.notModified += 1
                return Reply(status: .notModified, headers: [
                    ("Last-Modified", resource.lastModifiedText), ("ETag", Self.etag(resource, changed: false)), ("Content-Length", "0"),
                ])
            }
            let reply = Self.productReply(resource, key: key, fault: fault, range: range, head: head.method == .HEAD)
            if reply.status == .ok, reply.body != nil, fault == nil {
                s.statistics.fullResponses += 1
            }
            return reply
        }
    }

    static func productReply(_ resource: Resource, key: String, fault: Fault.Kind?, range: String?, head: Bool) -> Reply {
        let size = resource.content.size
        var reply = Reply(status: .ok)
        // A product that changed on the server has other validators.
        let changed = fault == .ignoreIfRange
        reply.headers = [
            ("Content-Type", "application/fits"),
            ("Last-Modified", changed ? httpDate(resource.lastModified + 86_400) : resource.lastModifiedText),
            ("ETag", etag(resource, changed: changed)),
        ]
        let ranges = fault != .noRanges && resource.ranges
        if ranges { reply.headers.append(("Accept-Ranges", "bytes")) }
        var plan = BodyPlan(content: resource.content, start: 0, end: size)
        switch fault {
        case .status(let code, let retryAfter)?:
            var r = Reply(status: HTTPResponseStatus(statusCode: code), headers: [("Content-Type", "text/plain")], text: Array("fault injected: HTTP \(code)\n".utf8))
            if let retryAfter { r.headers.append(("Retry-After", String(retryAfter))) }
            return r
        case .redirectTo(let url)?:
            return Reply(status: .found, headers: [("Location", url)])
        case .s3Error(let code, let name, let message)?:
            let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>\(name)</Code><Message>\(message)</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>"
            return Reply(status: HTTPResponseStatus(statusCode: code), headers: [("Content-Type", "application/xml")], text: head ? [] : Array(xml.utf8))
        case .redirectChain(let hops)?:
            return Reply(status: .found, headers: [("Location", hops <= 1 ? plainPath(key) : "/hop/\(hops - 1)/\(key)")])
        case .redirectLoop?:
            return Reply(status: .found, headers: [("Location", "/loop/a/\(key)")])
        case .statusRetryAt(let code, let seconds)?:
            let date = httpDate(Int64(Date().timeIntervalSince1970.rounded(.down)) + Int64(seconds))
            return Reply(
                status: HTTPResponseStatus(statusCode: code),
                headers: [("Content-Type", "text/plain"), ("Retry-After", date)], text: Array("fault injected: HTTP \(code)\n".utf8)
            )
        case .gzipEncoded?:
            reply.headers.append(("Content-Encoding", "gzip"))
            reply.text = head ? [] : gzip(resource.content.allBytes)
            if head { reply.headers.append(("Content-Length", String(gzip(resource.content.allBytes).count))) }
            return reply
        case .htmlErrorPage(let chunked)?:
            let page = errorPage
            var r = Reply(status: .ok, headers: [("Content-Type", "text/html; charset=utf-8")], text: head ? [] : page)
            r.headers.append(chunked ? ("Transfer-Encoding", "chunked") : ("Content-Length", String(page.count)))
            return r
        case .redirect?:
            let target = plainPath(key)
            if target != key {
                return Reply(status: .found, headers: [("Location", target)])
            }
        case .wrongLength(let delta)?:
            plan = BodyPlan(content: ArchiveContent(uri: resource.content.uri, size: max(0, size + delta), kind: resource.content.kind), start: 0, end: max(0, size + delta))
        default:
            break
        }
        if ranges, let range, let parsed = HTTPFields.byteRange(range) {
            guard let resolved = HTTPFields.resolve(parsed, length: UInt64(plan.end)) else {
                return Reply(status: .rangeNotSatisfiable, headers: [("Content-Range", "bytes */\(plan.end)")])
            }
            var first = Int64(resolved.first)
            let last = Int64(resolved.last)
            if case .wrongContentRange(let delta)? = fault {
                first = max(0, min(last, first + delta))
            }
            plan.start = first
            plan.end = last + 1
            reply.status = .partialContent
            reply.headers.append(("Content-Range", "bytes \(first)-\(last)/\(plan.content.size)"))
        }
        switch fault {
        case .closeAfter(let n)?: plan.cutAt = max(plan.start, min(plan.end, n))
        case .shortBody?: plan.cutAt = max(plan.start, plan.end - 1)
        case .stall(let n)?: plan.stallAt = max(plan.start, min(plan.end, n))
        case .trickle(let rate)?: plan.bytesPerSecond = max(1, rate)
        case .chunked?: plan.chunked = true
        case .chunkedCloseAfter(let n)?:
            plan.chunked = true
            plan.cutAt = max(plan.start, min(plan.end, n))
        case .hold?: plan.held = true
        case .delay(let milliseconds)?: reply.delayMilliseconds = max(0, milliseconds)
        default: break
        }
        if plan.chunked {
            reply.headers.append(("Transfer-Encoding", "chunked"))
        } else {
            reply.headers.append(("Content-Length", String(plan.end - plan.start)))
        }
        if !head { reply.body = plan }
        reply.closeAfter = plan.cutAt != nil
        return reply
    }

    /// The path lookup's answer: a JSON object with a member per URI asked (each once, in order).
    static func lookupReply(_ s: inout State, query: Substring) -> Reply {
        s.statistics.lookupCalls += 1
        var members: [(String, String)] = []
        var seen = Set<String>()
        for (name, value) in HTTPFields.formPairs(query) ?? [] where name == "uri" {
            s.statistics.lookupURIs += 1
            s.lookedUp[value, default: 0] += 1
            guard seen.insert(value).inserted else { continue }
            let answer = s.cloudPaths[value].map { #"{"status_code": 200, "path": "# + JSONText.quoted($0) + "}" }
                ?? #"{"status_code": 404, "path": null}"#
            members.append((value, answer))
        }
        return Reply(status: .ok, headers: [("Content-Type", "application/json")], text: Array(JSONText.object(members).utf8))
    }

    // MARK: Helpers

    /// A product's entity tag: its content's seed (which its version changes) and size.
    static func etag(_ resource: Resource, changed: Bool) -> String {
        "\"\(String(resource.content.seed, radix: 16))-\(resource.content.size)\(changed ? "-changed" : "")\""
    }

    /// Whether a conditional request's validators match the product as it is now.
    static func unchanged(_ resource: Resource, ifNoneMatch: String?, ifModifiedSince: String?) -> Bool {
        if let ifNoneMatch {
            let current = etag(resource, changed: false)
            // Weak comparison (RFC 9110 §13.1.2): `W/` prefixes do not count.
            func bare(_ tag: Substring) -> Substring { tag.hasPrefix("W/") ? tag.dropFirst(2) : tag }
            return ifNoneMatch.split(separator: ",").contains { tag in
                let t = tag.trimmingCharacters(in: .whitespaces)
                return t == "*" || bare(Substring(t)) == Substring(current)
            }
        }
        if let ifModifiedSince, let since = HTTPDate.parse(ifModifiedSince) {
            return resource.lastModified <= since
        }
        return false
    }

    /// Where a product is served under its own path: `/files/KEY`, or KEY when it is a path.
    static func plainPath(_ key: String) -> String {
        key.hasPrefix("/") ? key : "/files/" + key
    }

    /// The next hop of a redirect chain (`/hop/N/KEY`) or loop (`/loop/a|b/KEY`), or `nil` for other paths.
    static func hop(_ path: String) -> String? {
        if path.hasPrefix("/loop/a/") { return "/loop/b/" + path.dropFirst(8) }
        if path.hasPrefix("/loop/b/") { return "/loop/a/" + path.dropFirst(8) }
        guard path.hasPrefix("/hop/") else { return nil }
        let rest = path.dropFirst(5)
        guard let slash = rest.firstIndex(of: "/"), let n = Int(rest[..<slash]) else { return nil }
        let key = String(rest[rest.index(after: slash)...])
        return n <= 1 ? plainPath(key) : "/hop/\(n - 1)/\(key)"
    }

    /// `bytes` gzip-encoded, as a server compressing on the fly sends them.
    static func gzip(_ bytes: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        precondition(czlib_deflate_init_gzip(&stream, 6) == Z_OK, "zlib cannot start")
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 32)
        var input = bytes
        let produced = input.withUnsafeMutableBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { outp -> Int in
                stream.next_in = inp.baseAddress
                stream.avail_in = uInt(inp.count)
                stream.next_out = outp.baseAddress
                stream.avail_out = uInt(outp.count)
                precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END, "zlib did not finish")
                return outp.count - Int(stream.avail_out)
            }
        }
        return Array(out.prefix(produced))
    }

    /// The path and query of an absolute-form target (`http://host:port/path?q`), as a proxy receives
    /// it; `nil` for an ordinary path.
    static func originForm(_ target: String) -> String? {
        let lower = target.prefix(8).lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else { return nil }
        let afterScheme = target[target.index(target.startIndex, offsetBy: lower.hasPrefix("http://") ? 7 : 8)...]
        guard let slash = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }) else { return "/" }
        let rest = String(afterScheme[slash...])
        return rest.hasPrefix("?") ? "/" + rest : rest
    }

    static func split(_ uri: String) -> (path: String, query: [String: String]) {
        guard let q = uri.firstIndex(of: "?") else { return (percentDecode(uri), [:]) }
        var query: [String: String] = [:]
        // A query that is not valid percent-encoding is read as no query.
        for (name, value) in HTTPFields.formPairs(uri[uri.index(after: q)...]) ?? [] where query[name] == nil {
            query[name] = value
        }
        return (percentDecode(String(uri[..<q])), query)
    }

    static func percentDecode(_ s: String) -> String {
        guard s.contains("%") else { return s }
        var bytes: [UInt8] = []
        var utf8 = Array(s.utf8)[...]
        while let b = utf8.popFirst() {
            if b == UInt8(ascii: "%"), utf8.count >= 2,
               let v = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func token(in authorization: String) -> String? {
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "token" || parts[0].lowercased() == "bearer" else { return nil }
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }

    static func httpDate(_ seconds: Int64) -> String { HTTPDate.format(seconds) }
}
