import Synchronization

/// Where a download puts its files.
public enum DownloadTarget: Sendable {
    /// A folder tree under this root directory, created when missing. A re-run into the same root skips
    /// files already complete there.
    case directory(String)
    /// A ZIP file at this path, entries under `ROOT/`. It is written as `PATH.haul-part` and renamed when
    /// finished; a re-run (after a crash too) keeps the complete entries and fetches the rest.
    case zip(String, Compression = Compression())
    /// A ZIP streamed to a non-seekable destination (standard output, a socket, a program's buffer).
    case zipStream(any ByteStream, Compression = Compression())
    /// A ``StoredBundle``'s bytes, from byte `from` on (0: the whole bundle), streamed: exactly
    /// ``StoredBundle/length`` minus `from` bytes when every file arrives. A file that fails or
    /// changed ends the download with an error, the stream short of that length.
    case storedBundle(any ByteStream, StoredBundle, from: UInt64 = 0)
}

/// What a running download reports, in order, as it goes.
public enum DownloadEvent: Sendable {
    /// Counts and rate, at most every ``Configuration/progressInterval`` and once at the end.
    case progress(DownloadProgress)
    /// A product's manifest row, as soon as it is final.
    case file(Manifest.Row)
    /// Something a person should know that is not a product's status (the watchdog's report).
    case warning(String)
    /// A product's transfer ended, after its retries (what `haul -v` shows a line of); before its
    /// ``file(_:)`` row.
    case transfer(TransferRecord)
}

/// How one product's transfer went.
public struct TransferRecord: Sendable, Hashable {
    /// The URL asked (before redirects).
    public var url: String
    /// The last response's HTTP status, 0 when none arrived.
    public var httpStatus: Int
    /// Bytes held at the end (the whole product when it is `OK`).
    public var bytes: Int64
    public var seconds: Double
    /// Attempts made: 1 plus the retries.
    public var attempts: Int
    /// The manifest status it ended with.
    public var status: Manifest.Status

    public init(url: String, httpStatus: Int, bytes: Int64, seconds: Double, attempts: Int, status: Manifest.Status) {
        self.url = url
        self.httpStatus = httpStatus
        self.bytes = bytes
        self.seconds = seconds
        self.attempts = attempts
        self.status = status
    }
}

/// A snapshot of a download's progress.
public struct DownloadProgress: Sendable, Hashable {
    /// Unique files the download fetches, and how many of them have ended (in any way).
    public var filesTotal: Int
    public var filesDone: Int
    /// Files that ended `FAILED` (a subset of ``filesDone``).
    public var filesFailed: Int
    /// Bytes of the files held so far (received, or already complete from an earlier run).
    public var bytesDone: Int64
    /// The catalog's stated bytes of the files fetched; `nil` when it states none.
    public var bytesTotal: Int64?
    /// Transfers on the wire now.
    public var activeTransfers: Int
    /// Time since the download started.
    public var elapsed: Duration
    /// Receive rate over the last few seconds, in bytes per second.
    public var bytesPerSecond: Double
}

/// The result of a download: its manifest and counts.
public struct DownloadReport: Sendable {
    /// One row per selected product, in catalog order; also written to the root.
    public var manifest: Manifest
    /// Where the files and manifests are.
    public var root: String
    public var ok = 0
    /// `OK` rows whose files were already complete, so were not fetched again (part of ``ok``).
    public var skipped = 0
    /// With `refresh`: complete files the archive said are unchanged (304), and those it changed,
    /// fetched again and replaced.
    public var unchanged = 0
    public var replaced = 0
    public var failed = 0
    public var cancelled = 0
    public var duplicates = 0
    public var excluded = 0
    /// `OK` files by where their bytes came from (kept ones as their earlier run recorded).
    public var fromCloud = 0
    public var fromArchive = 0
    /// Path lookups made at the archive (one per batch of up to 40 URIs).
    public var lookupCalls = 0
    /// Body bytes received in this run, and the time it took.
    public var bytesReceived: Int64 = 0
    public var seconds: Double = 0
    /// The most memory held in flight between the network and the disk.
    public var peakBufferedBytes = 0
    /// How many times a transfer was paused because the memory budget was spent (it went on once
    /// memory was freed): a measure of memory pressure, not a failure.
    public var memoryPauses = 0

    /// The command's exit status for this result: 130 when interrupted, 1 when any file failed, else 0.
    public var exitStatus: Int32 { cancelled > 0 ? 130 : failed > 0 ? 1 : 0 }
}

/// A download in progress: a task that ends with a ``DownloadReport``, and its events.
///
/// Cancel the download (``cancel()``, or the task awaiting ``report``) and transfers stop at once;
/// files already complete stay, the rest are listed `CANCELLED`, and the manifest is still written.
public final class Download: Sendable {
    /// Progress snapshots and finished rows. The stream ends when the download does. It holds the
    /// newest 65,536 events for a consumer that falls behind, so one that never reads costs bounded memory.
    public let events: AsyncStream<DownloadEvent>
    /// The running download.
    public let task: Task<DownloadReport, any Error>

    init(events: AsyncStream<DownloadEvent>, task: Task<DownloadReport, any Error>) {
        self.events = events
        self.task = task
    }

    /// Stops the download.
    public func cancel() { task.cancel() }

    /// Waits for the end. Cancelling the waiting task cancels the download.
    ///
    /// - Throws: ``HaulError``: `outputPath` before any request when the target cannot be used
    ///   (``DownloadTarget/check(for:overwrite:)``); `diskFull` when the disk filled (the run stopped at
    ///   once; complete files stay, a ZIP is finished or left resumable, the message says which);
    ///   `output` when the root, the archive or the manifest cannot be written otherwise.
    public var report: DownloadReport {
        get async throws {
            try await withTaskCancellationHandler {
                try await task.value
            } onCancel: {
                task.cancel()
            }
        }
    }
}

extension Engine {
    /// Starts downloading a plan's files.
    ///
    /// - Parameters:
    ///   - plan: What to fetch and where under the root.
    ///   - target: Where the root is.
    ///   - credentials: A token the archive accepted (``signIn(_:archive:)``): sent with every request to
    ///     the archive (and nowhere else), its user is the manifest's `Logged In User`, and statuses take
    ///     the authenticated form. Without it the user is `anonymous`.
    ///   - headers: Extra request headers for every transfer (`Name: value`).
    ///   - overwrite: Replace a file at a ZIP path that is not an archive this plan can resume; without it,
    ///     such a file ends the download before any request, untouched.
    ///   - refresh: Ask the archive about every file complete from an earlier run, with one conditional
    ///     request (`If-None-Match` with the ETag the earlier manifest recorded, `If-Modified-Since` with
    ///     its `Last-Modified` or the file's time), and fetch again those that changed (answered 200); the
    ///     new version replaces the old one. Without it a complete file costs no request.
    /// - Returns: The running download. It must end before the engine's scope does.
    public func download(
        _ plan: Plan, to target: DownloadTarget, credentials: Credentials? = nil, headers: [String] = [],
        overwrite: Bool = false, refresh: Bool = false
    ) -> Download {
        let (events, continuation) = AsyncStream.makeStream(of: DownloadEvent.self, bufferingPolicy: .bufferingNewest(65_536))
        let configuration = configuration
        // The download's own threads: its checksums, compression and writes, and its tasks, run there and
        // nowhere else, so nothing else in the process can hold them back (``WorkerPool``).
        let workers = WorkerPool(name: "haul-work")
        let task: Task<DownloadReport, any Error>
        switch target {
        case .directory(let path):
            // Half the limit for blocks on their way to the disk, as for a ZIP: libcurl's receive buffers,
            // the page pool and the rest of the process live in the other half.
            let budget = MemoryBudget(limit: max(configuration.memoryLimit, Configuration.minimumMemoryLimit) / 2)
            let output = DirectoryOutput(root: path, plan: plan, budget: budget, configuration: configuration, workers: workers)
            let run = PlanRun(engine: self, plan: plan, output: output, credentials: credentials, headers: headers, events: continuation, budget: budget, workers: workers, refresh: refresh)
            task = Task(executorPreference: workers) {
                defer { continuation.finish() }
                return try await run.run()
            }
        case .zip, .zipStream, .storedBundle:
            // Half the limit for staged entries and blocks; libcurl's buffers and zlib take a share of the rest.
            let budget = MemoryBudget(limit: max(configuration.memoryLimit, Configuration.minimumMemoryLimit) / 2)
            let output: ZipOutput
            switch target {
            case .zip(let path, let compression):
                output = ZipOutput(.file(path), plan: plan, budget: budget, configuration: configuration, compression: compression, overwrite: overwrite, workers: workers)
            case .zipStream(let stream, let compression):
                output = ZipOutput(.stream(stream), plan: plan, budget: budget, configuration: configuration, compression: compression, workers: workers)
            case .storedBundle(let stream, let bundle, let from):
                output = ZipOutput(.stored(stream, bundle, from: from), plan: plan, budget: budget, configuration: configuration, compression: Compression(.store), workers: workers)
            case .directory:
                preconditionFailure()
            }
            let run = PlanRun(engine: self, plan: plan, output: output, credentials: credentials, headers: headers, events: continuation, budget: budget, workers: workers, refresh: refresh)
            task = Task(executorPreference: workers) {
                defer { continuation.finish() }
                return try await run.run()
            }
        }
        return Download(events: events, task: task)
    }
}
