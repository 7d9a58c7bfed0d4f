import Foundation

/// Finds where MAST's public bucket keeps products, with the archive's batched path lookup:
/// `GET {archive}/api/v0.1/path_lookup/?uri=URI&uri=URI…`, answered with a JSON object keyed by URI,
/// `{"mast:…": {"status_code": 200, "path": "/hst/public/…"}, "mast:…": {"status_code": 404, "path": null}}`.
/// The key is the path without its leading `/`.
///
/// The URIs are cut, in the order the transfers take them, into batches of ``batchSize`` (astroquery's
/// 40: under the URL-length limits of the servers in between). A batch is asked for when a transfer
/// first needs one of its URIs, and the 16 batches (640 URIs) past the furthest one a transfer has
/// reached are asked for ahead of it, at most 8 calls at once, while the transfers run: the first file
/// waits for its own batch only, never for the last, and later files find their answers there. (At
/// 0.25 s a call, that is 1,280 URIs a second: more than a download of small files gets through.)
/// Each URI is in one batch, and each batch is asked for once in a run (a failed call is retried as any
/// request is, then its URIs go to the archive with the reason). Files complete from an earlier run
/// never ask, so a re-run of a complete download makes no lookup.
final class PathLookup: Sendable {
    /// What the lookup said of one URI.
    enum Answer: Sendable, Hashable {
        /// In the bucket, under this key.
        case found(String)
        /// Not in the bucket (the lookup's 404, or another status it gave for the URI).
        case missing(String)
        /// The lookup itself failed: the reason.
        case failed(String)
    }

    /// URIs a call; astroquery's number.
    static let batchSize = 40

    private let engine: Engine
    /// `{archive}/api/v0.1/path_lookup/`.
    let endpoint: String
    private let headers: [String]
    private let batches: [[String]]
    private let batchOf: [String: Int]
    private let concurrency: Int
    private let readAhead: Int

    private struct State {
        var started: [Bool]
        var answers: [String: Answer] = [:]
        var waiting: [Int: [CheckedContinuation<Void, Never>]] = [:]
        /// The highest batch a transfer has asked for, -1 before any.
        var highest = -1
        var running = 0
        var driver: CheckedContinuation<Void, Never>?
        var wakePending = false
        var finished = false
        var calls = 0
    }
    // Locked (a pthread mutex), not Synchronization.Mutex: ThreadSanitizer sees only the former on Linux.
    private let state: Locked<State>

    /// - Parameters:
    ///   - uris: The URIs to look up, in the order the transfers take them, each once.
    ///   - archive: The archive's base URL: lookups always go there.
    ///   - headers: The headers of a request to the archive (the `-H` ones; never a token: a lookup needs none).
    init(engine: Engine, uris: [String], archive: String, headers: [String], batchSize: Int = PathLookup.batchSize, concurrency: Int = 8, readAhead: Int = 16) {
        self.engine = engine
        self.endpoint = archive + "/api/v0.1/path_lookup/"
        self.headers = headers
        let size = max(1, batchSize)
        var batches: [[String]] = []
        var batchOf: [String: Int] = [:]
        batchOf.reserveCapacity(uris.count)
        for uri in uris where batchOf[uri] == nil {
            if batches.isEmpty || batches[batches.count - 1].count == size { batches.append([]) }
            batches[batches.count - 1].append(uri)
            batchOf[uri] = batches.count - 1
        }
        self.batches = batches
        self.batchOf = batchOf
        self.concurrency = max(1, concurrency)
        self.readAhead = max(0, readAhead)
        self.state = Locked(State(started: [Bool](repeating: false, count: batches.count)))
    }

    /// Calls made so far.
    var calls: Int { state.withLock { $0.calls } }

    /// Batches asked for so far (their calls started).
    var askedFor: Int { state.withLock { $0.started.count { $0 } } }

    /// Whether `uri` is one this lookup answers.
    func covers(_ uri: String) -> Bool { batchOf[uri] != nil }

    /// The bucket key of `uri`, waiting for its batch (asking for it when no one has yet).
    func answer(for uri: String) async -> Answer {
        guard let batch = batchOf[uri] else { return .missing("not looked up") }
        // The read-ahead follows what the transfers take, not only what they wait for: a window
        // moved only by waits let the transfers run to its end, and every transfer then waited for
        // a call (and the calls ahead of it) before its file could start.
        // (A URI not answered yet moves it below, once its transfer waits: so the batch waited for is
        // the one the driver asks for first.)
        let (known, advanced) = state.withLock { s -> (Answer?, Bool) in
            guard let known = s.answers[uri] else { return (nil, false) }
            defer { s.highest = max(s.highest, batch) }
            return (known, batch > s.highest)
        }
        if let known {
            if advanced { wake() }
            return known
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { s -> Bool in
                if s.answers[uri] != nil || s.finished { return true }
                s.waiting[batch, default: []].append(continuation)
                s.highest = max(s.highest, batch)
                return false
            }
            if ready { continuation.resume() } else { wake() }
        }
        return state.withLock { $0.answers[uri] } ?? .failed("the download ended before the lookup")
    }

    /// Runs the lookups as transfers ask for them, until ``finish()``.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            while true {
                enum Step { case start(Int), wait, stop }
                let step = state.withLock { s -> Step in
                    if s.finished { return .stop }
                    guard s.running < concurrency, let next = Self.next(&s, count: batches.count, readAhead: readAhead) else { return .wait }
                    s.started[next] = true
                    s.running += 1
                    return .start(next)
                }
                switch step {
                case .stop:
                    group.cancelAll()
                    return
                case .start(let batch):
                    group.addTask { await self.look(batch) }
                case .wait:
                    await withTaskCancellationHandler {
                        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                            let now = state.withLock { s -> Bool in
                                if s.wakePending || s.finished { s.wakePending = false; return true }
                                s.driver = continuation
                                return false
                            }
                            if now { continuation.resume() }
                        }
                    } onCancel: {
                        self.finish()
                    }
                }
            }
        }
    }

    /// Ends the lookups: those not made are not, and every transfer still waiting goes to the archive.
    func finish() {
        let (waiters, driver) = state.withLock { s -> ([CheckedContinuation<Void, Never>], CheckedContinuation<Void, Never>?) in
            s.finished = true
            defer { s.waiting = [:]; s.driver = nil }
            return (s.waiting.values.flatMap { $0 }, s.driver)
        }
        for waiter in waiters { waiter.resume() }
        driver?.resume()
    }

    /// The batch to ask for next: one a transfer waits for, else the next unasked within the read-ahead
    /// past the highest asked for.
    private static func next(_ s: inout State, count: Int, readAhead: Int) -> Int? {
        if let waited = s.waiting.keys.filter({ !s.started[$0] }).min() { return waited }
        guard s.highest >= 0 else { return nil }
        let last = min(count - 1, s.highest + readAhead)
        guard s.highest + 1 <= last else { return nil }
        return (s.highest + 1...last).first { !s.started[$0] }
    }

    private func wake() {
        let driver = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let d = s.driver { s.driver = nil; return d }
            s.wakePending = true
            return nil
        }
        driver?.resume()
    }

    /// One call: its URIs' answers, then the transfers waiting for them go on.
    private func look(_ batch: Int) async {
        let uris = batches[batch]
        let url = Self.url(endpoint, uris: uris)
        let sink = MemorySink(limit: 4 << 20)
        let result = await engine.fetch(url: url, expectedSize: nil, headers: headers, into: sink)
        var answers: [String: Answer] = [:]
        switch result.status {
        case .ok:
            do {
                answers = try Self.parse(sink.bytes, uris: uris)
            } catch {
                for uri in uris { answers[uri] = .failed("path lookup: \(error)") }
            }
        case .failed(let reason):
            for uri in uris { answers[uri] = .failed("path lookup failed: \(reason)") }
        case .cancelled, .notModified:
            for uri in uris { answers[uri] = .failed("path lookup cancelled") }
        }
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.calls += 1
            s.running -= 1
            for (uri, answer) in answers { s.answers[uri] = answer }
            return s.waiting.removeValue(forKey: batch) ?? []
        }
        for waiter in waiters { waiter.resume() }
        wake()
    }

    /// The call for a batch: `uri=` once per URI, each percent-escaped but for `:` and `/`.
    static func url(_ endpoint: String, uris: [String]) -> String {
        endpoint + "?" + uris.map { "uri=" + URLResolver.escape($0, keeping: ":/") }.joined(separator: "&")
    }

    /// The answers in a lookup's JSON, for the URIs asked. A URI the answer leaves out is `missing`.
    ///
    /// - Throws: ``HaulError`` (`invalidCatalog`) when the answer is not a JSON object of the expected shape.
    static func parse(_ body: [UInt8], uris: [String]) throws -> [String: Answer] {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            throw HaulError(.invalidCatalog, "the answer is not a JSON object (\(body.count) bytes: \"\(String(decoding: body.prefix(80), as: UTF8.self))\")")
        }
        var answers: [String: Answer] = [:]
        for uri in uris {
            guard let item = object[uri] else {
                answers[uri] = .missing("not in the path lookup's answer")
                continue
            }
            guard let fields = item as? [String: Any] else {
                throw HaulError(.invalidCatalog, "\(uri): expected an object with status_code and path")
            }
            let status = (fields["status_code"] as? NSNumber)?.intValue ?? 0
            if status == 200, let path = fields["path"] as? String, !path.isEmpty {
                let key = path.hasPrefix("/") ? String(path.dropFirst()) : path
                answers[uri] = key.isEmpty ? .missing("path lookup gave an empty path") : .found(key)
            } else {
                answers[uri] = .missing("path lookup: \(status)")
            }
        }
        return answers
    }
}
