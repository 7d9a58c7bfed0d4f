import Foundation
import Haul
import NIOCore
import NIOHTTP1

/// A whole answer: status, type and body.
struct Reply: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: [UInt8]
    var headers: [(String, String)] = []

    static func text(_ status: HTTPResponseStatus, _ text: String) -> Reply {
        Reply(status: status, contentType: "text/plain; charset=utf-8", body: Array((text + "\n").utf8))
    }

    static func json(_ status: HTTPResponseStatus, _ text: String) -> Reply {
        Reply(status: status, contentType: "application/json", body: Array((text + "\n").utf8))
    }

    static func html(_ status: HTTPResponseStatus, _ text: String) -> Reply {
        Reply(
            status: status, contentType: "text/html; charset=utf-8", body: Array(text.utf8),
            headers: [
                // Nothing from elsewhere: the page's own inline script and style, and requests to this server only.
                ("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
                ("X-Frame-Options", "DENY"),
                ("Referrer-Policy", "no-referrer"),
            ]
        )
    }
}

extension OverlayServer {
    /// What `uri` names, without its query (what the log shows).
    static func pathOnly(_ uri: String) -> String {
        String(uri.prefix { $0 != "?" })
    }

    static func send(_ reply: Reply, on channel: any Channel) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: reply.contentType)
        headers.add(name: "Content-Length", value: String(reply.body.count))
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        for (name, value) in reply.headers { headers.add(name: name, value: value) }
        let head = HTTPResponseHead(version: .http1_1, status: reply.status, headers: headers)
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        if !reply.body.isEmpty {
            channel.write(HTTPServerResponsePart.body(.byteBuffer(channel.allocator.buffer(bytes: reply.body))), promise: nil)
        }
        channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Answers one request: a whole reply, or a streamed bundle.
    func respond(to head: HTTPRequestHead, body: [UInt8], channel: any Channel, stream: ChannelStream) async {
        let path = Self.pathOnly(head.uri)
        let queryText = head.uri.dropFirst(path.count).dropFirst()
        let isForm = head.headers.first(name: "Content-Type")?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true
        var status: UInt
        var note = ""
        do {
            // A streamed answer (a bundle) says its status here.
            var streamed = HTTPResponseStatus.ok
            let reply = try await route(
                head, path: path, queryText: queryText, body: body, isForm: isForm, channel: channel, stream: stream, note: &note, streamed: &streamed
            )
            if let reply {
                Self.send(reply, on: channel)
                status = reply.status.code
            } else {
                status = streamed.code
            }
        } catch {
            let haul = error as? HaulError ?? HaulError(.engine, "\(error)")
            let code: HTTPResponseStatus
            switch haul.code {
            case .authentication: code = .unauthorized
            case _ where haul.code == .forbiddenKey: code = .forbidden
            case _ where haul.code == .notFound: code = .notFound
            case _ where haul.code == .method: code = .methodNotAllowed
            case _ where haul.code == .busy: code = .serviceUnavailable
            case _ where haul.isInputError: code = .badRequest
            default: code = .internalServerError
            }
            var reply: Reply
            if path.hasSuffix(".json") {
                reply = .json(code, JSONText.object([("error", JSONText.quoted(haul.message))]))
            } else if isForm || path == "/" {
                // The way back carries the key only to a request that brought it: an error page must
                // never hand the key to whoever asked without it.
                var pairs = (try? OverlayQuery.pairs(queryText)) ?? []
                if isForm { pairs += (try? OverlayQuery.pairs(Substring(String(decoding: body, as: UTF8.self)))) ?? [] }
                let known = isKey(pairs.last(where: { $0.0 == "key" })?.1)
                reply = .html(code, OverlayPage.error(haul.message, back: known ? "/?key=\(key)" : nil))
            } else {
                reply = .text(code, haul.message)
            }
            if code == .serviceUnavailable { reply.headers.append(("Retry-After", "10")) }
            Self.send(reply, on: channel)
            status = code.code
        }
        configuration.log("\(head.method.rawValue) \(path) \(status)\(note.isEmpty ? "" : ": " + note)")
    }

    private func route(
        _ head: HTTPRequestHead, path: String, queryText: Substring, body: [UInt8], isForm: Bool,
        channel: any Channel, stream: ChannelStream, note: inout String, streamed: inout HTTPResponseStatus
    ) async throws -> Reply? {
        let queryPairs = try OverlayQuery.pairs(queryText)
        // The key is checked before anything else is read: a request without it learns nothing more.
        func requireKey(_ pairs: [(String, String)]) throws {
            guard isKey(pairs.last(where: { $0.0 == "key" })?.1 ?? head.headers.first(name: "X-Haul-Key")) else {
                throw HaulError(.forbiddenKey, "this needs the server's key: open the URL `haul serve` printed (it ends in ?key=…)")
            }
        }
        func allow(_ methods: HTTPMethod...) throws {
            guard methods.contains(head.method) else {
                throw HaulError(.method, "\(head.method.rawValue) \(path): use \(methods.map(\.rawValue).joined(separator: " or "))")
            }
        }
        switch path {
        case "/", "/index.html":
            try allow(.GET)
            try requireKey(queryPairs)
            let (catalog, names) = state.withLock { ($0.catalog, $0.catalogNames) }
            return .html(.ok, OverlayPage.render(catalog: catalog, names: names, key: key))
        case "/summary.json", "/preview.json":
            try allow(.GET)
            let query = try OverlayQuery(queryPairs)
            // `select` names its plan's root "selection": the same paths, the same JSON.
            let plan = try self.plan(query, products: try products(), root: "selection", authorized: false)
            return .json(.ok, plan.summaryJSON(page: try plan.page(query.page, size: query.pageSize)))
        case "/export.csv":
            try allow(.GET)
            let query = try OverlayQuery(queryPairs)
            let plan = try self.plan(query, products: try products(), root: "selection", authorized: false)
            var reply = Reply(status: .ok, contentType: "text/csv; charset=utf-8", body: Array(plan.exportCSV().utf8))
            reply.headers.append(("Content-Disposition", "attachment; filename=\"\(defaultRoot(query))-selection.csv\""))
            return reply
        case "/script.sh":
            try allow(.GET)
            let query = try OverlayQuery(queryPairs)
            let root = defaultRoot(query)
            // Exclusive-access products are in the script: it asks for the token when it runs.
            let plan = try self.plan(query, products: try products(), root: root, authorized: true)
            let names = state.withLock { $0.catalogNames }
            let generator = (["haul", "script"] + names + query.arguments).joined(separator: " ")
            let script = CurlScript(plan: plan, archive: configuration.resolver, generator: generator)
            var reply = Reply(status: .ok, contentType: "text/x-shellscript; charset=utf-8", body: Array(script.text().utf8))
            reply.headers.append(("Content-Disposition", "attachment; filename=\"\(root).sh\""))
            return reply
        case "/catalog":
            try allow(.POST)
            try requireKey(queryPairs)
            _ = try OverlayQuery(queryPairs)
            let catalog = try Catalog(products: Catalog.parse(Data(body), name: "the uploaded list"))
            guard !catalog.products.isEmpty else { throw HaulError(.invalidCatalog, "the uploaded list: no products in it") }
            state.withLock {
                $0.catalog = catalog
                $0.catalogNames = ["uploaded"]
            }
            note = "\(catalog.products.count) products"
            return .json(.ok, JSONText.object([("products", String(catalog.products.count))]))
        case "/download.zip":
            try allow(.GET, .POST)
            let query: OverlayQuery
            let products: [Product]
            if head.method == .POST && isForm {
                // The page's START DOWNLOAD: selectors, key and token in the body, never in the URL.
                let formPairs = (try? OverlayQuery.pairs(Substring(String(decoding: body, as: UTF8.self)))) ?? []
                try requireKey(queryPairs + formPairs)
                query = try OverlayQuery(queryPairs + OverlayQuery.pairs(Substring(String(decoding: body, as: UTF8.self))), allowToken: true)
                products = try self.products()
            } else if head.method == .POST {
                // A portal's bundle service: the body is a product list in any format Haul reads.
                try requireKey(queryPairs)
                query = try OverlayQuery(queryPairs)
                products = try Catalog.parse(Data(body), name: "the posted list")
            } else {
                try requireKey(queryPairs)
                query = try OverlayQuery(queryPairs)
                products = try self.products()
            }
            return try await download(query, products: products, head: head, channel: channel, stream: stream, note: &note, streamed: &streamed)
        default:
            throw HaulError(.notFound, "\(path): not here (the page is /?key=…; the interface is /summary.json, /preview.json, /export.csv, /script.sh and /download.zip)")
        }
    }

    private func products() throws -> [Product] {
        guard let catalog = state.withLock({ $0.catalog }) else {
            throw HaulError(.invalidArgument, "no product list yet: upload one on the page, or POST it to /download.zip")
        }
        return catalog.products
    }

    private func defaultRoot(_ query: OverlayQuery) -> String {
        if let root = query.root { return root }
        let first = state.withLock { $0.catalogNames.first } ?? "haul"
        var name = first.split(separator: "/").last.map(String.init) ?? first
        if let dot = name.lastIndex(of: "."), dot != name.startIndex { name = String(name[..<dot]) }
        return SafePath.problem(in: name, what: "root") == nil && !name.contains("\\") && name != "-" ? name : "haul"
    }

    private func plan(_ query: OverlayQuery, products: [Product], root: String, authorized: Bool) throws -> Plan {
        Plan(
            products: products, selection: try query.selection(), layout: query.layout, root: root,
            resolver: configuration.resolver, authorized: authorized
        )
    }

    /// Streams the selection's bundle as the response, on the server's engine; the connection closing
    /// cancels the download.
    ///
    /// Stored, with every size known, the bundle is a ``StoredBundle``: its `Content-Length` is exact
    /// (a browser shows the time left), it has an `ETag`, and a `Range` request for one this server
    /// sent (matching `If-Range` when given) gets the rest of the same bytes (206), fetching only the
    /// files not yet sent: a broken browser download resumes. Otherwise the ZIP goes out chunked as it
    /// is written, entries in the order they complete, and cannot be resumed (`Accept-Ranges: none`).
    private func download(
        _ query: OverlayQuery, products: [Product], head: HTTPRequestHead, channel: any Channel, stream: ChannelStream,
        note: inout String, streamed: inout HTTPResponseStatus
    ) async throws -> Reply? {
        let root = defaultRoot(query)
        var credentials: Credentials?
        if let text = query.token {
            let token = try AccessToken(text, from: "the token entered")
            credentials = try await engine.signIn(token, archive: configuration.resolver)
        }
        let plan = try self.plan(query, products: products, root: root, authorized: credentials != nil)
        guard !plan.downloads.isEmpty else {
            var reason = "nothing to download: the selection is empty"
            if plan.summary.excludedExclusive > 0 { reason += " (\(plan.summary.excludedExclusive) exclusive-access files need a MAST token)" }
            throw HaulError(.invalidArgument, reason)
        }
        let admitted = state.withLock { state -> Bool in
            guard state.downloads < configuration.maximumDownloads else { return false }
            state.downloads += 1
            return true
        }
        guard admitted else {
            let n = configuration.maximumDownloads
            throw HaulError(.busy, "\(n) download\(n == 1 ? " is" : "s are") running, the most this server streams at once: try again when one has finished")
        }
        defer { state.withLock { $0.downloads -= 1 } }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/zip")
        headers.add(name: "Content-Disposition", value: "attachment; filename=\"\(root).zip\"")
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        headers.add(name: "X-Haul-Files", value: String(plan.downloads.count))
        if query.compression == .store, let fresh = StoredBundle(plan: plan, credentials: credentials, time: Int64(Date().timeIntervalSince1970)) {
            return try await downloadStored(
                fresh, credentials: credentials, head: head, headers: headers, channel: channel, stream: stream, note: &note, streamed: &streamed
            )
        }
        headers.add(name: "Accept-Ranges", value: "none")
        try await channel.writeAndFlush(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))).get()

        let download = engine.download(plan, to: .zipStream(stream, query.compressionValue), credentials: credentials)
        do {
            let report = try await download.report
            if report.cancelled == 0 && !Task.isCancelled {
                // Written after every body part: once it is out, so is the whole bundle.
                try? await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
            }
            note = "\(report.ok) OK, \(report.failed) failed, \(report.cancelled) cancelled, \(stream.sent) bytes sent in \(String(format: "%.1f", report.seconds)) s"
            try? await channel.close()
        } catch {
            // The response has begun: a cut connection is how the client learns the bundle is incomplete.
            note = "stopped after \(stream.sent) bytes: \((error as? HaulError)?.message ?? "\(error)")"
            channel.close(promise: nil)
        }
        return nil
    }

    /// A stored bundle: the whole of a new one (200), or the rest of one sent before (206).
    private func downloadStored(
        _ fresh: StoredBundle, credentials: Credentials?, head: HTTPRequestHead, headers: HTTPHeaders,
        channel: any Channel, stream: ChannelStream, note: inout String, streamed: inout HTTPResponseStatus
    ) async throws -> Reply? {
        var headers = headers
        var tag = "\"haul-\(Self.randomKey().prefix(20))\""
        var bundle = fresh
        var first: UInt64 = 0
        var last = fresh.length - 1
        var status = HTTPResponseStatus.ok
        if let range = head.headers.first(name: "Range").flatMap(HTTPFields.byteRange) {
            let condition = head.headers.first(name: "If-Range")
            // The newest bundle this server sent for the same request, the one If-Range names if any.
            let sent = state.withLock { s in
                s.resumable.last { $0.bundle.fingerprint == fresh.fingerprint && (condition == nil || $0.tag == condition) }
            }
            if let sent {
                guard range.first < sent.bundle.length else {
                    var reply = Reply.text(.rangeNotSatisfiable, "bytes \(range.first)- are past the bundle's \(sent.bundle.length)")
                    reply.headers.append(("Content-Range", "bytes */\(sent.bundle.length)"))
                    return reply
                }
                if sent.bundle.canResume(from: range.first) {
                    (tag, bundle, first) = (sent.tag, sent.bundle, range.first)
                    last = min(range.last ?? (bundle.length - 1), bundle.length - 1)
                    status = .partialContent
                    headers.add(name: "Content-Range", value: "bytes \(first)-\(last)/\(bundle.length)")
                }
            }
            // Otherwise the whole of a new bundle (RFC 9110 §14.2: a server may ignore Range).
        }
        if status == .ok {
            state.withLock { s in
                s.resumable.append((tag, bundle))
                // The oldest go first; the newest is always kept.
                while s.resumable.count > 1, s.resumable.count > Self.resumableLimit
                    || s.resumable.reduce(0, { $0 + $1.bundle.files }) > Self.resumableFileLimit {
                    s.resumable.removeFirst()
                }
            }
        }
        headers.add(name: "Content-Length", value: String(last - first + 1))
        headers.add(name: "ETag", value: tag)
        headers.add(name: "Accept-Ranges", value: "bytes")
        try await channel.writeAndFlush(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))).get()
        streamed = status

        let body = RangeStream(stream, count: last - first + 1)
        // The bundle's own plan: a resumed one was made for an earlier request (the same, by its fingerprint).
        let download = engine.download(bundle.plan, to: .storedBundle(body, bundle, from: first), credentials: credentials)
        let outcome: String
        do {
            let report = try await download.report
            outcome = "\(report.ok) OK"
        } catch {
            outcome = (error as? HaulError)?.message ?? "\(error)"
        }
        let range = status == .partialContent ? " (bytes \(first)-\(last) of \(bundle.length))" : ""
        if body.isComplete {
            // Every byte the head promised is out (a range that ends early stops the download there).
            try? await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
            note = "\(outcome), \(stream.sent) bytes sent\(range)"
            try? await channel.close()
        } else {
            // Short of its Content-Length: the client sees the download fail, and may ask for the rest.
            // A bundle that cannot be finished (a file failed or changed) is forgotten, so the next
            // request for it gets a new one whole.
            if !stream.isClosed { state.withLock { $0.resumable.removeAll { $0.tag == tag } } }
            note = "stopped after \(stream.sent) bytes\(range): \(outcome)"
            channel.close(promise: nil)
        }
        return nil
    }

}

/// The body of a response that states its length: passes on at most `count` bytes, then stops the
/// writer (an error it reports as the range being complete).
final class RangeStream: ByteStream, @unchecked Sendable {
    private let stream: any ByteStream
    private let count: UInt64
    // Touched only by the writer's queue, read once the download has ended.
    private var passed: UInt64 = 0

    init(_ stream: any ByteStream, count: UInt64) {
        self.stream = stream
        self.count = count
    }

    /// Whether every byte was passed on.
    var isComplete: Bool { passed == count }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        let room = count - passed
        let n = Int(min(UInt64(bytes.count), room))
        if n > 0 {
            try stream.write(UnsafeRawBufferPointer(rebasing: bytes[0..<n]))
            passed += UInt64(n)
        }
        if n < bytes.count { throw HaulError(.output, "the requested range is complete") }
    }
}

extension HaulError.Code {
    static let forbiddenKey = HaulError.Code("forbidden")
    static let notFound = HaulError.Code("not found")
    static let method = HaulError.Code("method not allowed")
    static let busy = HaulError.Code("busy")
}
