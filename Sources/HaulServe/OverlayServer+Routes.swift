import Foundation
import Haul
import NIOCore
import NIOHTTP1

extension OverlayServer {
    /// `Content-Disposition` for a download saved as `name` (RFC 6266): a plain ASCII `filename`
    /// for old clients, with nothing that could end the quoted string or the header (quotes,
    /// backslashes, controls, `%`, `;` and every non-ASCII character become `_`), and the exact name
    /// as `filename*=UTF-8''…`, percent-encoded, for every client that reads it. Every answer that
    /// names a file says so through here.
    static func attachment(_ name: String) -> String {
        var plain = ""
        for scalar in name.unicodeScalars {
            let v = scalar.value
            plain.unicodeScalars.append((0x20..<0x7F).contains(v) && !"\"\\%;".unicodeScalars.contains(scalar) ? scalar : "_")
        }
        // RFC 5987 attr-chars stay as they are; every other byte of the UTF-8 is %XX.
        let attr = Set("!#$&+-.^_`|~".utf8).union(UInt8(ascii: "0")...UInt8(ascii: "9")).union(UInt8(ascii: "A")...UInt8(ascii: "Z"))
            .union(UInt8(ascii: "a")...UInt8(ascii: "z"))
        var encoded = ""
        for byte in name.utf8 {
            if attr.contains(byte) {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                encoded += (byte < 16 ? "%0" : "%") + String(byte, radix: 16, uppercase: true)
            }
        }
        return "attachment; filename=\"\(plain)\"; filename*=UTF-8''\(encoded)"
    }

    static func send(_ reply: Reply, on channel: any Channel) {
        // A HEAD request's answer is its head only: the encoder leaves the body out.
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
        let (path, queryText) = Self.target(head.uri)
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
        } catch where !channel.isActive {
            // The client went before its answer began (a download manager dropping a connection it no
            // longer needs): nothing to answer.
            configuration.log("\(head.method.rawValue) \(path): the client closed the connection")
            return
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
        // The key was checked on the request's head, before its body was read (OverlayHandler); this
        // checks it again where it is used. A request without it learns nothing more.
        func requireKey(_ pairs: [(String, String)]) throws {
            guard isKey(pairs.last(where: { $0.0 == "key" })?.1 ?? head.headers.first(name: "X-Haul-Key")) else {
                throw HaulError(.forbiddenKey, Self.keyNeeded)
            }
        }
        // HEAD is a GET without the body, on every route GET answers.
        func allow(_ methods: HTTPMethod...) throws {
            guard methods.contains(head.method) || (head.method == .HEAD && methods.contains(.GET)) else {
                let names = methods.map(\.rawValue) + (methods.contains(.GET) ? ["HEAD"] : [])
                throw HaulError(.method, "\(head.method.rawValue) \(path): use \(names.joined(separator: " or "))")
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
            reply.headers.append(("Content-Disposition", Self.attachment("\(defaultRoot(query))-selection.csv")))
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
            reply.headers.append(("Content-Disposition", Self.attachment("\(root).sh")))
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
            let token = try Credentials.AccessToken(text, from: "the token entered")
            credentials = try await engine.signIn(token, archive: configuration.resolver)
        }
        let plan = try self.plan(query, products: products, root: root, authorized: credentials != nil)
        guard !plan.downloads.isEmpty else {
            var reason = "nothing to download: the selection is empty"
            if plan.summary.excludedExclusive > 0 { reason += " (\(plan.summary.excludedExclusive) exclusive-access files need a MAST token)" }
            throw HaulError(.invalidArgument, reason)
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/zip")
        headers.add(name: "Content-Disposition", value: Self.attachment("\(root).zip"))
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        headers.add(name: "X-Haul-Files", value: String(plan.downloads.count))
        if query.compression == .store, let fresh = StoredBundle(plan: plan, credentials: credentials) {
            return try await downloadStored(
                fresh, credentials: credentials, head: head, headers: headers, channel: channel, stream: stream, note: &note, streamed: &streamed
            )
        }
        headers.add(name: "Accept-Ranges", value: "none")
        if head.method == .HEAD {
            try await sendHead(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers), on: channel)
            return nil
        }
        try admit()
        defer { leave() }
        try await channel.writeAndFlush(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))).get()

        do {
            let report = try await engine.download(plan, to: .zipStream(stream, query.compressionValue), credentials: credentials)
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

    /// Takes one of the `--max-downloads` places, or throws `busy` (503) when none is free. Requests of
    /// one stored bundle (its `tag`) share one place: a download manager's ranges are one download.
    private func admit(_ tag: String? = nil) throws {
        let admitted = state.withLock { state -> Bool in
            if let tag, let n = state.active[tag] {
                state.active[tag] = n + 1
                return true
            }
            guard state.downloads < configuration.maximumDownloads else { return false }
            state.downloads += 1
            if let tag { state.active[tag] = 1 }
            return true
        }
        guard admitted else {
            let n = configuration.maximumDownloads
            throw HaulError(.busy, "\(n) download\(n == 1 ? " is" : "s are") running, the most this server streams at once: try again when one has finished")
        }
    }

    /// Gives back what ``admit(_:)`` took.
    private func leave(_ tag: String? = nil) {
        state.withLock { state in
            if let tag, let n = state.active[tag] {
                if n > 1 {
                    state.active[tag] = n - 1
                    return
                }
                state.active[tag] = nil
            }
            state.downloads -= 1
        }
    }

    /// The head of an answer to HEAD: what GET would send, without the body or the work.
    private func sendHead(_ responseHead: HTTPResponseHead, on channel: any Channel) async throws {
        channel.write(HTTPServerResponsePart.head(responseHead), promise: nil)
        try await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
        try? await channel.close()
    }

    /// A stored bundle: the whole of it (200), or any range of it (206).
    ///
    /// A stored bundle is a function of its selection (``StoredBundle/tag``), so any range of it can be
    /// answered whether or not this server sent it before, and after a restart: the files whose entries
    /// overlap the range are fetched (the entry that straddles its start again whole, for its CRC-32),
    /// and the end of the bundle (manifests, directory), which needs every file's CRC-32, is made from
    /// the records of what went out: it waits for the entries other requests of the same bundle are
    /// sending, and fetches those no one is. Requests of one bundle take one `--max-downloads` place.
    private func downloadStored(
        _ fresh: StoredBundle, credentials: Credentials?, head: HTTPRequestHead, headers: HTTPHeaders,
        channel: any Channel, stream: ChannelStream, note: inout String, streamed: inout HTTPResponseStatus
    ) async throws -> Reply? {
        let tag = fresh.tag
        var bundle = remembered(fresh)
        var first: UInt64 = 0
        var last = bundle.length - 1
        var status = HTTPResponseStatus.ok
        // A Range is honoured unless If-Range names other bytes (then the whole bundle, RFC 9110 §13.1.5).
        if let value = head.headers.first(name: "Range"), head.headers.first(name: "If-Range").map({ $0 == tag }) ?? true,
           let range = HTTPFields.byteRange(value) {
            guard let resolved = HTTPFields.resolve(range, length: bundle.length) else {
                var reply = Reply.text(.rangeNotSatisfiable, "\(Self.printable(value)) is past the bundle's \(bundle.length) bytes")
                reply.headers.append(("Content-Range", "bytes */\(bundle.length)"))
                return reply
            }
            (first, last) = resolved
            status = .partialContent
        }
        func responseHead() -> HTTPResponseHead {
            var all = headers
            if status == .partialContent { all.add(name: "Content-Range", value: "bytes \(first)-\(last)/\(bundle.length)") }
            all.add(name: "Content-Length", value: String(last - first + 1))
            all.add(name: "ETag", value: tag)
            all.add(name: "Accept-Ranges", value: "bytes")
            return HTTPResponseHead(version: .http1_1, status: status, headers: all)
        }
        if head.method == .HEAD {
            streamed = status
            try await sendHead(responseHead(), on: channel)
            return nil
        }
        try admit(tag)
        defer { leave(tag) }
        while true {
            // The head goes out with the first byte: until then the answer can still say what went wrong.
            stream.hold(responseHead())
            streamed = status
            // Requests of one bundle at once share the files they fetch (a download manager's ranges).
            bundle.cache.enter()
            let (complete, outcome, failure) = await send(bundle, tag: tag, first...last, credentials: credentials, to: stream)
            bundle.cache.leave()
            let range = status == .partialContent ? " (bytes \(first)-\(last) of \(bundle.length))" : ""
            if complete {
                // Every byte the head promised is out.
                stream.sendHeldHead()
                try? await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
                note = "\(outcome), \(stream.sent) bytes sent\(range)"
                try? await channel.close()
                return nil
            }
            // A bundle that cannot be finished (a file failed or changed) is forgotten, so the next
            // request for it starts from what the archive has now.
            if !stream.isClosed { forget(bundle) }
            if !stream.headSent && !stream.isClosed {
                if failure == .changedOnArchive && status == .partialContent {
                    // The client holds part of an entry whose file the archive has changed since: the
                    // bytes it asks for belong to a bundle that no longer exists. As for an If-Range that
                    // no longer matches, the answer is the whole bundle as it is now (a download manager
                    // starts over, curl -C - stops and says the server did not resume).
                    configuration.log("GET /download.zip: \(outcome); sending the whole bundle as it is now")
                    guard let again = StoredBundle(plan: fresh.plan, credentials: credentials) else { return nil }
                    bundle = remembered(again)
                    (first, last, status) = (0, bundle.length - 1, .ok)
                    continue
                }
                // Nothing went out yet: the answer says why, instead of a body cut short.
                note = outcome
                return .text(.badGateway, "the bundle cannot be sent: \(outcome)")
            }
            // Short of its Content-Length: the client sees the download fail, and may ask for the rest.
            note = "stopped after \(stream.sent) bytes\(range): \(outcome)"
            channel.close(promise: nil)
            return nil
        }
    }

    /// The bundle this server knows by `fresh`'s tag (with its records of what went out), or `fresh`,
    /// remembered from now on: the same selection is the same bundle, to the byte. With a records
    /// folder (`--key-file`), its records are kept on disk, and those of an earlier process taken.
    private func remembered(_ fresh: StoredBundle) -> StoredBundle {
        let tag = fresh.tag
        if let known = state.withLock({ $0.resumable.last(where: { $0.tag == tag }) }) { return known.bundle }
        if let folder = configuration.recordsFolder {
            do {
                try fresh.keepRecords(in: folder)
            } catch {
                configuration.log("warning: \((error as? HaulError)?.message ?? "\(error)"): a restarted server cannot resume this bundle")
            }
        }
        return state.withLock { s -> StoredBundle in
            // Another request may have remembered it meanwhile.
            if let known = s.resumable.last(where: { $0.tag == tag }) { return known.bundle }
            s.resumable.append((tag, fresh))
            // The oldest go first; the newest is always kept.
            while s.resumable.count > 1, s.resumable.count > Self.resumableLimit
                || s.resumable.reduce(0, { $0 + $1.bundle.files }) > Self.resumableFileLimit {
                s.resumable.removeFirst()
            }
            return fresh
        }
    }

    /// Forgets a bundle that could not be finished, with its records.
    private func forget(_ bundle: StoredBundle) {
        state.withLock { $0.resumable.removeAll { $0.bundle === bundle } }
        bundle.forgetRecords()
    }

    /// Sends bytes `range` of `bundle` to `stream`; whether all went, and what to log.
    private func send(
        _ bundle: StoredBundle, tag: String, _ range: ClosedRange<UInt64>, credentials: Credentials?, to stream: ChannelStream
    ) async -> (Bool, String, HaulError.Code?) {
        var outcome = "0 OK"
        var failure: HaulError.Code?
        if range.lowerBound < bundle.trailerOffset {
            // The files' part, by a writer from the range's start. When every entry before the start has
            // gone out (a resumption, or the whole), the same writer goes on to the end of the bundle.
            let end = bundle.canResume(from: range.lowerBound) ? range.upperBound : min(range.upperBound, bundle.trailerOffset - 1)
            let body = RangeStream(stream, count: end - range.lowerBound + 1, lastByte: end)
            let claim = cover(tag, bundle.positions(overlapping: range.lowerBound, end))
            // The bundle's own plan: a known one was made for an earlier request (the same, by its tag).
            // The client going cancels the request. While other requests of the bundle run, the
            // download is not cancelled with it: its stream is closed, so its writer fails and it starts
            // no more transfers, but those in flight finish and their files are kept for the others
            // (ZipOutput.finishesTransfersInFlight, BundleFileCache): a download manager closes a range's
            // connection once it has the range, while the request is fetching the files its next ranges need.
            let (engine, plan, from) = (engine, bundle.plan, range.lowerBound)
            let download = Task(executorPreference: requestThreads) {
                try await engine.download(plan, to: .storedBundle(body, bundle, from: from), credentials: credentials)
            }
            do {
                let report = try await withTaskCancellationHandler {
                    try await download.value
                } onCancel: {
                    if !bundle.cache.isShared { download.cancel() }
                }
                outcome = "\(report.ok) OK"
            } catch {
                outcome = (error as? HaulError)?.message ?? "\(error)"
                failure = (error as? HaulError)?.code
            }
            uncover(tag, claim)
            if body.isComplete && end < bundle.length - 1 {
                // Stopped where the range (or the files' part) ends, as it should.
                outcome = "\(bundle.positions(overlapping: range.lowerBound, end).count) files in range"
            }
            guard body.isComplete else { return (false, outcome, failure) }
            if end == range.upperBound { return (true, outcome, failure) }
        }
        guard let trailer = await trailer(of: bundle, tag: tag, credentials: credentials, while: stream) else {
            return (false, stream.isClosed ? "the client closed the connection" : "a file of the bundle could not be fetched for its CRC-32", nil)
        }
        let from = Int(max(range.lowerBound, bundle.trailerOffset) - bundle.trailerOffset)
        let to = Int(range.upperBound - bundle.trailerOffset)
        // ChannelStream.write blocks while the client has more than its high-water mark unread, as
        // long as the client takes: a thread of its own, never one of a shared pool (Dispatch's global
        // queues and the cooperative pool keep about one runnable thread a core, so a few slow clients
        // would hold back every other request's work). One thread per response at most, and responses
        // are bounded by the connection cap.
        let written: Bool = await withCheckedContinuation { continuation in
            let writer = Thread {
                let ok = (try? trailer[from...to].withUnsafeBytes { try stream.write($0) }) != nil
                continuation.resume(returning: ok)
            }
            writer.name = "haul-serve-trailer"
            writer.start()
        }
        return (written, outcome, nil)
    }

    /// The end of `bundle` (``StoredBundle/trailer()``) once every entry has gone out: waits for the
    /// entries other requests of the bundle are sending, and fetches those no one is (their bytes
    /// dropped, their CRC-32s recorded). `nil` when the client goes, or a file cannot be fetched.
    private func trailer(of bundle: StoredBundle, tag: String, credentials: Credentials?, while stream: ChannelStream) async -> [UInt8]? {
        while !stream.isClosed && !Task.isCancelled {
            if let bytes = bundle.trailer() { return bytes }
            let missing = bundle.unrecordedPositions()
            let covered = state.withLock { $0.coverage[tag].map { Array($0.values) } ?? [] }
            guard let start = missing.first(where: { p in !covered.contains { $0.contains(p) } }) else {
                try? await Wakeups.sleep(for: .milliseconds(50))
                continue
            }
            // The run of entries from there that no one is sending.
            var end = start
            let unrecorded = Set(missing)
            while end + 1 < bundle.files, unrecorded.contains(end + 1), !covered.contains(where: { $0.contains(end + 1) }) { end += 1 }
            let span = (bundle.span(of: start).start, bundle.span(of: end).end)
            let sink = RangeStream(DiscardingStream(), count: span.1 - span.0, lastByte: span.1 - 1)
            let claim = cover(tag, start..<(end + 1))
            _ = try? await engine.download(bundle.plan, to: .storedBundle(sink, bundle, from: span.0), credentials: credentials)
            uncover(tag, claim)
            if !sink.isComplete { return nil }
        }
        return nil
    }

    /// Marks positions of a bundle as being sent by a request (until ``uncover(_:_:)``).
    private func cover(_ tag: String, _ positions: Range<Int>) -> UUID {
        let id = UUID()
        state.withLock { $0.coverage[tag, default: [:]][id] = positions }
        return id
    }

    private func uncover(_ tag: String, _ id: UUID) {
        state.withLock { s in
            s.coverage[tag]?[id] = nil
            if s.coverage[tag]?.isEmpty == true { s.coverage[tag] = nil }
        }
    }
}

/// A stream that drops every byte: the output of a bundle's part fetched only for its CRC-32s.
final class DiscardingStream: DownloadTarget.ByteStream, @unchecked Sendable {
    func write(_ bytes: UnsafeRawBufferPointer) throws {}
}

/// The body of a response that states its length: passes on at most `count` bytes, then stops the
/// writer (an error it reports as the range being complete).
final class RangeStream: StoredBundlePart, @unchecked Sendable {
    private let stream: any DownloadTarget.ByteStream
    private let count: UInt64
    /// The last byte of the bundle it takes (a bundle's writer fetches nothing past it).
    let lastByte: UInt64
    // Touched only by the writer's queue, read once the download has ended.
    private var passed: UInt64 = 0

    init(_ stream: any DownloadTarget.ByteStream, count: UInt64, lastByte: UInt64 = .max) {
        self.stream = stream
        self.count = count
        self.lastByte = lastByte
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
