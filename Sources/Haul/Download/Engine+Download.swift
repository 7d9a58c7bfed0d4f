extension Engine {
    /// Downloads a plan's files into a target, handing its events to `consume` as they happen.
    ///
    /// The download runs while `consume` reads ``DownloadEvents``; the call returns when both have
    /// ended, so nothing of the download outlives it. Cancelling the calling task cancels the download:
    /// transfers stop at once, files already complete stay, the rest are listed `CANCELLED`, and the
    /// manifest is still written. When `consume` returns before the events end, the download goes on
    /// (its later events are dropped) and the call waits for it; when `consume` throws, the download is
    /// cancelled and the error thrown once it has stopped.
    ///
    /// ```swift
    /// let report = try await engine.download(plan, to: .directory("data")) { events in
    ///     for await case .file(let row) in events where row.failure != nil {
    ///         print(row.file, row.statusText)
    ///     }
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - plan: What to fetch and where under the root.
    ///   - target: Where the root is: a folder tree, a ZIP file or a streamed ZIP.
    ///   - credentials: A token the archive accepted (``signIn(_:archive:)``): sent with every request to
    ///     the archive (and nowhere else), its user is the manifest's `Logged In User`, and statuses take
    ///     the authenticated form. Without it the user is `anonymous`.
    ///   - headers: Extra request headers for every transfer to the archive (`Name: value`).
    ///   - overwrite: Replace a file at a ZIP path that is not an archive this plan can resume; without it,
    ///     such a file ends the download before any request, untouched.
    ///   - refresh: Ask the archive about every file complete from an earlier run, with one conditional
    ///     request (`If-None-Match` with the ETag the earlier manifest recorded, `If-Modified-Since` with
    ///     its `Last-Modified` or the file's time), and fetch again those that changed (answered 200); the
    ///     new version replaces the old one. Without it a complete file costs no request.
    ///   - consume: Reads the download's events (``DownloadEvents`` says what is kept for a slow reader).
    /// - Returns: The report: counts and the manifest, one row per selected product.
    /// - Throws: ``HaulError``: `outputPath` before any request when the target cannot be used
    ///   (``DownloadTarget/check(for:overwrite:)``); `diskFull` when the disk filled (the run stopped at
    ///   once; complete files stay, a ZIP is finished or left resumable, the message says which);
    ///   `output` when the root, the archive or the manifest cannot be written otherwise; `engine` when
    ///   the watchdog stopped a stalled run. Or what `consume` throws.
    public func download(
        _ plan: Plan, to target: DownloadTarget, credentials: Credentials? = nil, headers: [String] = [],
        overwrite: Bool = false, refresh: Bool = false,
        events consume: (DownloadEvents) async throws -> Void
    ) async throws -> DownloadReport {
        let channel = EventChannel()
        let (workers, run) = prepareRun(plan, to: target, credentials: credentials, headers: headers, overwrite: overwrite, refresh: refresh, events: channel)
        return try await withThrowingTaskGroup(of: DownloadReport.self) { group in
            group.addTask(executorPreference: workers) {
                defer { channel.finish() }
                return try await run()
            }
            do {
                try await consume(DownloadEvents(channel))
            } catch {
                channel.close()
                group.cancelAll()
                throw error
            }
            channel.close()
            // The group's one task: it returns the report or throws the download's error.
            return try await group.next()!
        }
    }

    /// Downloads a plan's files into a target, without events.
    ///
    /// The same as ``download(_:to:credentials:headers:overwrite:refresh:events:)`` with no one reading
    /// the events (none is kept).
    ///
    /// - Returns: The report: counts and the manifest, one row per selected product.
    /// - Throws: ``HaulError``, as ``download(_:to:credentials:headers:overwrite:refresh:events:)`` says.
    public func download(
        _ plan: Plan, to target: DownloadTarget, credentials: Credentials? = nil, headers: [String] = [],
        overwrite: Bool = false, refresh: Bool = false
    ) async throws -> DownloadReport {
        let (workers, run) = prepareRun(
            plan, to: target, credentials: credentials, headers: headers, overwrite: overwrite, refresh: refresh,
            events: EventChannel(discarding: true)
        )
        return try await withTaskExecutorPreference(workers) { try await run() }
    }

    /// The run of a plan into a target, and the threads it runs on.
    private func prepareRun(
        _ plan: Plan, to target: DownloadTarget, credentials: Credentials?, headers: [String],
        overwrite: Bool, refresh: Bool, events: EventChannel
    ) -> (WorkerPool, @Sendable () async throws -> DownloadReport) {
        let configuration = configuration
        // The download's own threads: its checksums, compression and writes, and its tasks, run there and
        // nowhere else, so nothing else in the process can hold them back (``WorkerPool``).
        let workers = WorkerPool(name: "haul-work")
        // Half the limit for blocks and staged entries on their way to the disk: libcurl's receive
        // buffers, zlib's streams, the page pool and the rest of the process live in the other half.
        let budget = MemoryBudget(limit: max(configuration.memoryLimit, Configuration.minimumMemoryLimit) / 2)
        func runner<Output: RunOutput>(_ output: Output) -> @Sendable () async throws -> DownloadReport {
            let run = PlanRun(engine: self, plan: plan, output: output, credentials: credentials, headers: headers, events: events, budget: budget, workers: workers, refresh: refresh)
            return { try await run.run() }
        }
        switch target.kind {
        case .directory(let path):
            return (workers, runner(DirectoryOutput(root: path, plan: plan, budget: budget, configuration: configuration, workers: workers)))
        case .zip(let path, let compression):
            return (workers, runner(ZipOutput(.file(path), plan: plan, budget: budget, configuration: configuration, compression: compression, overwrite: overwrite, workers: workers)))
        case .zipStream(let stream, let compression):
            return (workers, runner(ZipOutput(.stream(stream), plan: plan, budget: budget, configuration: configuration, compression: compression, workers: workers)))
        case .storedBundle(let stream, let bundle, let from):
            return (workers, runner(ZipOutput(.stored(stream, bundle, from: from), plan: plan, budget: budget, configuration: configuration, compression: DownloadTarget.Compression(.store), workers: workers)))
        }
    }
}
