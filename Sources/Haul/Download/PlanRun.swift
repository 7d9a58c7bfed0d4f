import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Plan {
    /// An entry's manifest row before any transfer: `CANCELLED` for a download (until it ends
    /// otherwise), the final status for the others.
    func row(for entry: Entry, user: String, authenticated: Bool) -> Manifest.Row {
        var row = Manifest.Row(
            uri: entry.product.uri, file: entry.path, access: entry.product.access, status: .cancelled, user: user,
            size: entry.product.size, attempts: 0, seconds: 0,
            note: entry.renamedFrom.map { "renamed from \($0): another product has that name" } ?? "",
            dataset: entry.product.dataset, authenticated: authenticated
        )
        switch entry.disposition {
        case .duplicate(let first):
            let kept = entries[first]
            row.file = kept.path
            row.status = .duplicate(file: kept.product.filename, dataset: kept.product.dataset)
        case .unsafe(let problem):
            row.status = .failed(FileFailure(.unsafePath, "unsafe path: \(problem)"))
        case .excluded(let reason):
            row.status = .excluded(reason)
        case .download:
            break
        }
        return row
    }
}

/// Runs a plan into an output: a pool of workers, each fetching one product at a time through the
/// engine, then the manifest rows in catalog order.
struct PlanRun<Output: RunOutput>: Sendable {
    let engine: Engine
    let plan: Plan
    let output: Output
    let credentials: Credentials?
    let headers: [String]
    let events: EventChannel
    let budget: MemoryBudget
    /// The download's threads, where its tasks run (``WorkerPool``).
    let workers: WorkerPool
    /// Ask the archive whether each complete file changed (a conditional request) and fetch again those
    /// that did; without it, a complete file costs no request.
    var refresh = false

    /// Counts shared by the workers and the progress ticker.
    final class Counters: Sendable {
        let received = ByteCounter()
        let skippedBytes = Atomic<Int64>(0)
        let done = Atomic<Int>(0)
        let failed = Atomic<Int>(0)
        let next = Atomic<Int>(0)
        let finished = Atomic<Bool>(false)
        let unchanged = Atomic<Int>(0)
        let replaced = Atomic<Int>(0)
    }

    var user: String { credentials?.user ?? "anonymous" }

    func run() async throws -> DownloadReport {
        let started = ContinuousClock.now
        try await output.open()
        let downloads = output.order ?? plan.downloads
        let counters = Counters()
        let bytesTotal: Int64? = downloads.contains { plan.entries[$0].product.size != nil }
            ? downloads.reduce(0) { $0.addingSize(plan.entries[$1].product.size) } : nil

        // An unstructured task does not inherit the run's executor: it is given it.
        let ticker = Task(executorPreference: workers) {
            var rate = RateMeter()
            while !counters.finished.load(ordering: .acquiring) && !Task.isCancelled {
                let snapshot = progress(counters, total: downloads.count, bytesTotal: bytesTotal, started: started, rate: &rate)
                events.yield(.progress(snapshot))
                try? await Wakeups.sleep(for: engine.configuration.progressInterval)
            }
        }

        // Throughput over time for the manifest's plot: a sample each half second (a ten-hour run keeps
        // 72,000 of them, about 3 MB), on the run's own threads like the ticker.
        let throughput = ThroughputRecorder(bytes: counters.received, started: started)
        let sampler = Task(executorPreference: workers) { await throughput.run(every: .milliseconds(500)) }

        let workers = min(max(1, engine.configuration.parallel), downloads.count)
        // Lookups run beside the transfers, each batch when a transfer first needs it.
        let lookup = makeLookup(downloads)
        async let looking: Void = { if let lookup { await lookup.run() } }()
        var rows = [Int: Manifest.Row]()
        let stall = Locked<String?>(nil)
        await withTaskGroup(of: [(Int, Manifest.Row)]?.self) { group in
            group.addTask {
                await watch(counters, stall: stall)
                return nil
            }
            for _ in 0..<workers {
                group.addTask {
                    var mine: [(Int, Manifest.Row)] = []
                    while true {
                        let k = counters.next.wrappingAdd(1, ordering: .relaxed).oldValue
                        guard k < downloads.count else { break }
                        let index = downloads[k]
                        let row = await fetchOne(index, counters: counters, lookup: lookup)
                        counters.done.wrappingAdd(1, ordering: .relaxed)
                        throughput.completed.add(1, ordering: .relaxed)
                        if case .failed = row.status { counters.failed.wrappingAdd(1, ordering: .relaxed) }
                        events.yield(.file(row))
                        mine.append((index, row))
                        if output.failure != nil { break }
                    }
                    return mine
                }
            }
            var running = workers
            if running == 0 { group.cancelAll() }
            for await finished in group {
                guard let finished else {
                    // The watchdog stopped the run: stop every transfer now.
                    group.cancelAll()
                    continue
                }
                for (index, row) in finished { rows[index] = row }
                running -= 1
                // Every worker is done (the watchdog is all that is left), or the output is broken (a full
                // disk, a closed pipe): stop every transfer now, unless their files are of use to others
                // (then the workers start no more, and end with the transfers in flight).
                if running == 0 || (output.failure != nil && !output.finishesTransfersInFlight) { group.cancelAll() }
            }
        }
        sampler.cancel()
        await sampler.value
        lookup?.finish()
        await looking
        if let report = stall.withLock({ $0 }) {
            counters.finished.store(true, ordering: .releasing)
            ticker.cancel()
            throw HaulError(.engine, report)
        }
        counters.finished.store(true, ordering: .releasing)
        ticker.cancel()
        _ = await ticker.value
        var finalRate = RateMeter()
        var last = progress(counters, total: downloads.count, bytesTotal: bytesTotal, started: started, rate: &finalRate)
        // At the end, the rate is the whole run's.
        last.bytesPerSecond = last.elapsed.seconds > 0 ? Double(counters.received.total) / last.elapsed.seconds : 0
        events.yield(.progress(last))

        var report = DownloadReport(manifest: Manifest(rows: []), root: output.location)
        var manifestRows: [Manifest.Row] = []
        manifestRows.reserveCapacity(plan.entries.count)
        for (index, entry) in plan.entries.enumerated() {
            let row: Manifest.Row
            switch entry.disposition {
            case .download:
                row = rows[index] ?? self.row(for: entry)
                switch row.status {
                case .ok:
                    report.ok += 1
                    if row.attempts == 0 { report.skipped += 1 }
                    switch row.source {
                    case .cloud?: report.fromCloud += 1
                    case .archive?: report.fromArchive += 1
                    case nil: break
                    }
                case .failed: report.failed += 1
                case .cancelled: report.cancelled += 1
                default: break
                }
            case .duplicate, .unsafe, .excluded:
                row = self.row(for: entry)
                switch entry.disposition {
                case .duplicate: report.duplicates += 1
                case .unsafe: report.failed += 1
                case .excluded: report.excluded += 1
                case .download: break
                }
                events.yield(.file(row))
            }
            manifestRows.append(row)
        }
        report.manifest = Manifest(rows: manifestRows)
        report.manifest.throughput = throughput.samples
        report.bytesReceived = counters.received.total
        report.unchanged = counters.unchanged.load(ordering: .relaxed)
        report.replaced = counters.replaced.load(ordering: .relaxed)
        report.lookupCalls = lookup?.calls ?? 0
        try await output.close(report.manifest)
        report.seconds = started.duration(to: .now).seconds
        let memory = budget.snapshot
        report.peakBufferedBytes = memory.peak
        report.memoryPauses = memory.refusals
        return report
    }

    // MARK: The watchdog

    /// Watches for transfers paused with nothing moving (``StallDetector``) until the run ends; reports,
    /// then recovers or, as configured, stops the run (returning with `stall` set).
    private func watch(_ counters: Counters, stall: Locked<String?>) async {
        let policy = engine.configuration.watchdog
        var detector = StallDetector(window: policy.after)
        // Often enough to act within a tenth of the window; no more than four times a second.
        let tick = max(policy.after / 10, .milliseconds(250))
        while !Task.isCancelled {
            do { try await Wakeups.sleep(for: tick) } catch { return }
            let paused = engine.pausedTransfers
            guard detector.observe(received: counters.received.total, done: counters.done.load(ordering: .relaxed),
                                   paused: paused, at: .now) else { continue }
            let report = "no byte received and no file finished for \(policy.after.seconds) s with \(paused) of \(engine.activeTransfers) transfers paused; \(budget.snapshot)"
            switch policy.action {
            case .fail:
                events.yield(.warning("stalled: " + report))
                stall.withLock { $0 = "download stalled: " + report }
                return
            case .recover:
                events.yield(.warning("stalled: \(report); spilling staged entries to disk and waking every transfer"))
                output.relieve()
                budget.wakeAll()
            }
        }
    }

    // MARK: One file

    private func fetchOne(_ index: Int, counters: Counters, lookup: PathLookup?) async -> Manifest.Row {
        let entry = plan.entries[index]
        var row = self.row(for: entry)
        if Task.isCancelled || output.failure != nil { return row }
        let sink: Output.Sink
        switch await output.prepare(index) {
        case .complete(let done):
            if refresh { return await refreshOne(index, done, row: row, counters: counters) }
            counters.skippedBytes.wrappingAdd(done.size, ordering: .relaxed)
            return Self.row(row, keeping: done, note: done.note)
        case .failed(let reason):
            row.status = .failed(reason)
            return row
        case .fetch(let s):
            sink = s
        }
        let started = ContinuousClock.now
        var fetched: (result: FetchResult, sink: Output.Sink, url: String, source: FileSource, attempts: Int)
        switch await route(entry, lookup: lookup) {
        case .failed(let reason):
            // Cloud only, and the bucket cannot give it: never the archive.
            _ = await output.complete(index, sink: sink, result: FetchResult(status: .failed(reason), attempts: 0, bytes: 0, seconds: 0))
            row.status = .failed(reason)
            return row
        case .archive(let why):
            if let why { row.note = Self.joined(row.note, "from the archive: \(why)") }
            fetched = (await fetchFromArchive(entry, into: sink, counters: counters), sink, entry.url, .archive, 0)
        case .cloud(let url, let fallback):
            // Anonymous: no token and no archive-bound header goes to the bucket, whatever its address.
            let cloudHeaders = RequestHeaders(url: url, configuration: engine.configuration)
            let cloud = await engine.fetchSegmented(
                url: url, expectedSize: entry.product.size, headers: cloudHeaders.everywhere,
                originHeaders: cloudHeaders.originBound, into: sink, counter: counters.received,
                segmentation: engine.configuration.cloudSegmentation
            )
            fetched = (cloud, sink, url, .cloud, 0)
            if fallback, case .failed(let reason) = cloud.status, reason.code != .writeFailed, reason.code != .diskFull, output.failure == nil, !Task.isCancelled {
                // The bucket could not give it: the archive does, into a fresh sink (the failed one may
                // hold segments' regions).
                _ = await output.complete(index, sink: sink, result: cloud)
                events.yield(.transfer(DownloadEvent.TransferRecord(
                    url: url, httpStatus: cloud.httpStatus, bytes: cloud.bytes, seconds: cloud.seconds, attempts: cloud.attempts, status: .failed(reason)
                )))
                row.note = Self.joined(row.note, "from the archive: the cloud failed (\(reason.message))")
                switch await output.prepare(index) {
                case .fetch(let again):
                    fetched = (await fetchFromArchive(entry, into: again, counters: counters), again, entry.url, .archive, cloud.attempts)
                case .failed(let why):
                    row.status = .failed(why)
                    return row
                case .complete(let done):
                    return Self.row(row, keeping: done, note: done.note)
                }
            }
        }
        let result = fetched.result
        row.attempts = result.attempts + fetched.attempts
        row.seconds = started.duration(to: .now).seconds
        let completion = await output.complete(index, sink: fetched.sink, result: result)
        row.status = completion.status
        if row.status == .ok {
            Self.fill(&row, result, completion)
            row.source = fetched.source
        }
        events.yield(.transfer(DownloadEvent.TransferRecord(
            url: fetched.url, httpStatus: result.httpStatus, bytes: result.bytes, seconds: result.seconds,
            attempts: result.attempts, status: row.status
        )))
        return row
    }

    /// One product from the archive: its URL, with the `-H` headers and the token where they go.
    private func fetchFromArchive(_ entry: Plan.Entry, into sink: Output.Sink, counters: Counters) async -> FetchResult {
        let request = requestHeaders(for: entry.url)
        return await engine.fetchSegmented(
            url: entry.url, expectedSize: entry.product.size, headers: request.everywhere,
            originHeaders: request.originBound, into: sink, counter: counters.received
        )
    }

    /// Where one product is fetched from.
    private enum Route {
        /// The archive; the reason when the bucket was asked about it and cannot give it.
        case archive(String?)
        /// The bucket, at this URL; `fallback`: from the archive when the bucket fails.
        case cloud(String, fallback: Bool)
        /// Cloud only, and the bucket cannot give it.
        case failed(FileFailure)
    }

    /// Decides a product's source: an `s3://` URL from its bucket; with the cloud on, a public `mast:`
    /// product from the bucket when the lookup finds it; everything else (exclusive-access products
    /// above all: they and the token never go to the bucket) from the archive.
    private func route(_ entry: Plan.Entry, lookup: PathLookup?) async -> Route {
        let uri = entry.product.uri
        if URLResolver.isS3(uri) { return .cloud(entry.url, fallback: false) }
        guard let lookup, entry.product.access != .exclusive, lookup.covers(uri) else { return .archive(nil) }
        let auto = engine.configuration.source == .auto
        switch await lookup.answer(for: uri) {
        case .found(let key):
            return .cloud(plan.resolver.bucket.url(key: key), fallback: auto)
        case .missing(let why):
            return auto ? .archive("not in the cloud (\(why))") : .failed(FileFailure(.notInCloud, "not in the cloud (\(why))"))
        case .failed(let why):
            return auto ? .archive(why) : .failed(FileFailure(.other, why))
        }
    }

    /// The lookup of the products a run may fetch from the bucket: the public `mast:` ones, in the
    /// order the transfers take them; `nil` when the run uses the archive alone.
    func makeLookup(_ downloads: [Int]) -> PathLookup? {
        guard engine.configuration.source != .archive else { return nil }
        var uris: [String] = []
        for index in downloads {
            let product = plan.entries[index].product
            if product.access != .exclusive, product.uri.utf8.count > 5, product.uri.prefix(5).lowercased() == "mast:" {
                uris.append(product.uri)
            }
        }
        guard !uris.isEmpty else { return nil }
        // The archive's -H headers; never the token: a lookup is about public products.
        let url = plan.resolver.archive + "/api/v0.1/path_lookup/"
        let headers = RequestHeaders(url: url, configuration: engine.configuration)
        return PathLookup(engine: engine, uris: uris, archive: plan.resolver.archive, headers: headers.everywhere + headers.originBound)
    }

    /// The headers of a request for `url`: the run's own, the `-H` ones, the token where it goes, then `adding`.
    private func requestHeaders(for url: String, adding: [String] = []) -> RequestHeaders {
        RequestHeaders(url: url, configuration: engine.configuration, adding: headers + (credentials?.headers(for: url) ?? []) + adding)
    }

    /// `--refresh` for a file complete from an earlier run: one conditional request; a 304 keeps the
    /// file, a 200 streams the new version into a sink that replaces it, and a failure keeps the old
    /// file (the row says both).
    private func refreshOne(_ index: Int, _ done: CompleteFile, row: Manifest.Row, counters: Counters) async -> Manifest.Row {
        let entry = plan.entries[index]
        var row = row
        let sink: Output.Sink
        switch await output.refetch(index) {
        case .fetch(let s): sink = s
        case .failed(let reason):
            row.status = .failed(reason)
            return row
        case .complete(let again):
            return Self.row(row, keeping: again, note: again.note)
        }
        // The same headers as the first fetch (`-H` ones included), and the conditions.
        let request = requestHeaders(for: entry.url, adding: done.conditions)
        let result = await engine.fetch(
            url: entry.url, expectedSize: entry.product.size, headers: request.everywhere,
            originHeaders: request.originBound, into: sink, counter: counters.received
        )
        let completion = await output.complete(index, sink: sink, result: result)
        row.attempts = result.attempts
        row.seconds = result.seconds
        events.yield(.transfer(DownloadEvent.TransferRecord(
            url: entry.url, httpStatus: result.httpStatus, bytes: result.bytes, seconds: result.seconds,
            attempts: result.attempts, status: result.status == .notModified ? .ok : completion.status
        )))
        switch result.status {
        case .notModified:
            counters.skippedBytes.wrappingAdd(done.size, ordering: .relaxed)
            counters.unchanged.wrappingAdd(1, ordering: .relaxed)
            var kept = Self.row(row, keeping: done, note: "unchanged on the archive (HTTP 304)")
            kept.attempts = result.attempts
            kept.seconds = result.seconds
            return kept
        case .ok where completion.status == .ok:
            counters.replaced.wrappingAdd(1, ordering: .relaxed)
            row.status = .ok
            Self.fill(&row, result, completion)
            row.note = Self.joined(row.note, "changed on the archive: fetched again, the earlier copy replaced")
            return row
        default:
            var kept = Self.row(row, keeping: done, note: "the copy from the earlier run is kept")
            kept.status = completion.status
            return kept
        }
    }

    /// A row for a file kept from an earlier run: `OK`, with what that run recorded.
    private static func row(_ row: Manifest.Row, keeping done: CompleteFile, note: String) -> Manifest.Row {
        var row = row
        row.status = .ok
        row.size = done.size
        row.crc32 = done.crc32
        row.lastModified = done.lastModified
        row.etag = done.etag
        row.source = done.source
        row.note = joined(row.note, note)
        return row
    }

    /// Fills a fetched file's size, CRC-32 and validators in its row.
    private static func fill(_ row: inout Manifest.Row, _ result: FetchResult, _ completion: Completion) {
        row.size = result.bytes
        row.crc32 = completion.crc32
        row.lastModified = result.lastModified
        row.etag = result.etag
    }

    private static func joined(_ a: String, _ b: String) -> String { a.isEmpty ? b : b.isEmpty ? a : a + "; " + b }

    // MARK: Rows

    /// An entry's row before any transfer: `CANCELLED` for a download (until it ends otherwise), the
    /// final status for the others.
    func row(for entry: Plan.Entry) -> Manifest.Row {
        plan.row(for: entry, user: user, authenticated: credentials != nil)
    }

    // MARK: Progress

    private func progress(_ c: Counters, total: Int, bytesTotal: Int64?, started: ContinuousClock.Instant, rate: inout RateMeter) -> DownloadEvent.Progress {
        let received = c.received.total
        let now = ContinuousClock.now
        return DownloadEvent.Progress(
            filesTotal: total, filesDone: c.done.load(ordering: .relaxed), filesFailed: c.failed.load(ordering: .relaxed),
            bytesDone: received + c.skippedBytes.load(ordering: .relaxed), bytesTotal: bytesTotal,
            activeTransfers: engine.activeTransfers, elapsed: started.duration(to: now),
            bytesPerSecond: rate.update(bytes: received, at: now)
        )
    }
}
