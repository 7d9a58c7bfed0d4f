import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a plan into a folder tree: a pool of workers, each fetching one file at a time through the
/// engine into a ``FileSink``, then the manifests.
struct DirectoryRun: Sendable {
    let engine: Engine
    let plan: Plan
    let root: String
    let user: String
    let headers: [String]
    let events: AsyncStream<DownloadEvent>.Continuation
    let budget: MemoryBudget
    let ioQueue = DispatchQueue(label: "haul.io", qos: .utility, attributes: .concurrent)

    init(engine: Engine, plan: Plan, target: DownloadTarget, user: String, headers: [String], events: AsyncStream<DownloadEvent>.Continuation) {
        self.engine = engine
        self.plan = plan
        switch target {
        case .directory(let path): root = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        }
        self.user = user
        self.headers = headers
        self.events = events
        self.budget = MemoryBudget(limit: engine.configuration.memoryLimit)
    }

    /// Counts shared by the workers and the progress ticker.
    final class Counters: Sendable {
        let received = ByteCounter()
        let skippedBytes = Atomic<Int64>(0)
        let done = Atomic<Int>(0)
        let failed = Atomic<Int>(0)
        let next = Atomic<Int>(0)
        let finished = Atomic<Bool>(false)
    }

    func run() async throws -> DownloadReport {
        let started = ContinuousClock.now
        try Self.makeRoot(root)
        let previous = previousRows()
        let downloads = plan.downloads
        let counters = Counters()
        let bytesTotal: Int64? = downloads.contains { plan.entries[$0].product.size != nil }
            ? downloads.reduce(0) { $0 + (plan.entries[$1].product.size ?? 0) } : nil

        let ticker = Task {
            var rate = RateMeter()
            while !counters.finished.load(ordering: .acquiring) && !Task.isCancelled {
                let snapshot = progress(counters, total: downloads.count, bytesTotal: bytesTotal, started: started, rate: &rate)
                events.yield(.progress(snapshot))
                try? await Task.sleep(for: engine.configuration.progressInterval)
            }
        }

        let workers = min(max(1, engine.configuration.parallel), downloads.count)
        var rows = [Int: Manifest.Row]()
        await withTaskGroup(of: [(Int, Manifest.Row)].self) { group in
            for _ in 0..<workers {
                group.addTask {
                    var mine: [(Int, Manifest.Row)] = []
                    while true {
                        let k = counters.next.wrappingAdd(1, ordering: .relaxed).oldValue
                        guard k < downloads.count else { break }
                        let index = downloads[k]
                        let row = await fetchOne(index, previous: previous, counters: counters)
                        counters.done.wrappingAdd(1, ordering: .relaxed)
                        if case .failed = row.status { counters.failed.wrappingAdd(1, ordering: .relaxed) }
                        events.yield(.file(row))
                        mine.append((index, row))
                    }
                    return mine
                }
            }
            for await finished in group {
                for (index, row) in finished { rows[index] = row }
            }
        }
        counters.finished.store(true, ordering: .releasing)
        ticker.cancel()
        _ = await ticker.value
        var finalRate = RateMeter()
        var last = progress(counters, total: downloads.count, bytesTotal: bytesTotal, started: started, rate: &finalRate)
        // At the end, the rate is the whole run's.
        last.bytesPerSecond = last.elapsed.seconds > 0 ? Double(counters.received.total) / last.elapsed.seconds : 0
        events.yield(.progress(last))

        var report = DownloadReport(manifest: Manifest(rows: []), root: root)
        var manifestRows: [Manifest.Row] = []
        manifestRows.reserveCapacity(plan.entries.count)
        for (index, entry) in plan.entries.enumerated() {
            let row: Manifest.Row
            switch entry.disposition {
            case .download:
                row = rows[index]!
                switch row.status {
                case .ok:
                    report.ok += 1
                    if row.attempts == 0 { report.skipped += 1 }
                case .failed: report.failed += 1
                case .cancelled: report.cancelled += 1
                default: break
                }
            case .duplicate, .unsafe, .excluded:
                row = Self.row(for: entry, plan: plan, user: user)
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
        report.bytesReceived = counters.received.total
        report.seconds = started.duration(to: .now).seconds
        report.peakBufferedBytes = budget.peak
        try writeManifests(report.manifest)
        return report
    }

    // MARK: One file

    private func fetchOne(_ index: Int, previous: [String: PreviousRow], counters: Counters) async -> Manifest.Row {
        let entry = plan.entries[index]
        var row = Manifest.Row(
            uri: entry.product.uri, file: entry.path, access: entry.product.access, status: .cancelled, user: user,
            size: entry.product.size, attempts: 0, seconds: 0,
            note: entry.renamedFrom.map { "renamed from \($0): another product has that name" } ?? ""
        )
        if Task.isCancelled { return row }
        let path = root + "/" + entry.path
        if let problem = Self.makeFolders(root: root, relative: entry.path) {
            row.status = .failed(problem)
            return row
        }
        if let size = alreadyComplete(entry, path: path, previous: previous) {
            counters.skippedBytes.wrappingAdd(size, ordering: .relaxed)
            row.status = .ok
            row.size = size
            row.note = row.note.isEmpty ? "already complete" : row.note + "; already complete"
            return row
        }
        let sink: FileSink
        do {
            // A small file needs no more than its own size in memory.
            let block = entry.product.size.map { min(blockSize, max(4096, Int(clamping: ($0 + 4095) / 4096 * 4096))) } ?? blockSize
            sink = try FileSink(path: path, budget: budget, blockSize: block, ioQueue: ioQueue)
        } catch {
            row.status = .failed("write error: \(error)")
            return row
        }
        let result = await engine.fetch(
            url: entry.url, expectedSize: entry.product.size, headers: headers, into: sink, counter: counters.received
        )
        row.attempts = result.attempts
        row.seconds = result.seconds
        switch result.status {
        case .ok:
            do {
                try await sink.commit(size: result.bytes)
                if let modified = result.lastModified { sink.setModificationTime(modified) }
                row.status = .ok
                row.size = result.bytes
            } catch {
                row.status = .failed("write error: \(error)")
            }
        case .failed(let reason):
            await sink.discard()
            row.status = .failed(reason)
        case .cancelled:
            await sink.discard()
            row.status = .cancelled
        }
        return row
    }

    /// The size of the file at `path` when it is complete from an earlier run: a regular file with the
    /// catalog's size, or, for a product without a stated size, the size the earlier manifest recorded
    /// for it as `OK`.
    private func alreadyComplete(_ entry: Plan.Entry, path: String, previous: [String: PreviousRow]) -> Int64? {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        let size = Int64(st.st_size)
        if let stated = entry.product.size { return stated == size ? size : nil }
        if let earlier = previous[entry.product.uri], earlier.status == "OK", earlier.file == entry.path, earlier.size == size {
            return size
        }
        return nil
    }

    /// Bytes a file collects before a write: large enough for few system calls, small enough that every
    /// transfer can hold one within a quarter of the memory limit.
    var blockSize: Int {
        let c = engine.configuration
        return min(1 << 20, max(64 << 10, c.memoryLimit / max(1, 4 * c.parallel)))
    }

    // MARK: Rows that fetch nothing

    static func row(for entry: Plan.Entry, plan: Plan, user: String) -> Manifest.Row {
        var row = Manifest.Row(
            uri: entry.product.uri, file: entry.path, access: entry.product.access, status: .cancelled, user: user,
            size: entry.product.size, attempts: 0, seconds: 0, note: ""
        )
        switch entry.disposition {
        case .duplicate(let first):
            let kept = plan.entries[first]
            row.file = kept.path
            row.status = .duplicate(file: kept.product.filename, dataset: kept.product.dataset)
        case .unsafe(let problem):
            row.status = .failed("unsafe path: \(problem)")
        case .excluded(let reason):
            row.status = .excluded(reason)
        case .download:
            break
        }
        return row
    }

    // MARK: Progress

    private func progress(_ c: Counters, total: Int, bytesTotal: Int64?, started: ContinuousClock.Instant, rate: inout RateMeter) -> DownloadProgress {
        let received = c.received.total
        let now = ContinuousClock.now
        return DownloadProgress(
            filesTotal: total, filesDone: c.done.load(ordering: .relaxed), filesFailed: c.failed.load(ordering: .relaxed),
            bytesDone: received + c.skippedBytes.load(ordering: .relaxed), bytesTotal: bytesTotal,
            activeTransfers: engine.activeTransfers, elapsed: started.duration(to: now),
            bytesPerSecond: rate.update(bytes: received, at: now)
        )
    }

    // MARK: Files and folders

    struct PreviousRow {
        var file: String
        var status: String
        var size: Int64?
    }

    /// The rows of the manifest an earlier run left in the root, by URI.
    private func previousRows() -> [String: PreviousRow] {
        guard let text = try? Self.readSmallFile(root + "/manifest.csv") else { return [:] }
        var rows: [String: PreviousRow] = [:]
        for r in Manifest.parseCSV(text) { rows[r.uri] = PreviousRow(file: r.file, status: r.status, size: r.size) }
        return rows
    }

    private func writeManifests(_ manifest: Manifest) throws {
        let name = root.split(separator: "/").last.map(String.init) ?? root
        try Self.writeAtomically(root + "/manifest.csv", manifest.csv())
        try Self.writeAtomically(root + "/manifest.html", manifest.html(title: name))
    }

    static func makeRoot(_ root: String) throws {
        var path = root.hasPrefix("/") ? "" : "."
        for component in root.split(separator: "/") {
            path += "/" + component
            if mkdir(path, 0o755) != 0 && errno != EEXIST {
                let e = errno
                throw HaulError(.output, "cannot create \(root): \(String(cString: strerror(e)))", underlyingError: POSIXErrorNumber(e))
            }
        }
        var st = stat()
        guard stat(root, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw HaulError(.output, "cannot use \(root): not a directory")
        }
    }

    /// Creates the folders of `relative` under `root`, refusing any that exists as something other
    /// than a real folder (a symbolic link there could lead outside the root).
    /// - Returns: The problem, or `nil` when the folders are ready.
    static func makeFolders(root: String, relative: String) -> String? {
        let components = relative.split(separator: "/", omittingEmptySubsequences: true).dropLast()
        var path = root
        for component in components {
            path += "/" + component
            if mkdir(path, 0o755) == 0 { continue }
            let e = errno
            var st = stat()
            if e == EEXIST, lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { continue }
            if e == EEXIST { return "unsafe path: \(path.dropFirst(root.count + 1)) exists and is not a folder" }
            return "write error: cannot create folder \(path): \(String(cString: strerror(e)))"
        }
        return nil
    }

    static func readSmallFile(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw POSIXErrorNumber(errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw POSIXErrorNumber(errno) }
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes `text` to a temporary file beside `path` and renames it into place.
    static func writeAtomically(_ path: String, _ text: String) throws {
        let temporary = path + ".haul-part"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        func fail(_ e: Int32) -> HaulError {
            HaulError(.output, "cannot write \(path): \(String(cString: strerror(e)))", underlyingError: POSIXErrorNumber(e))
        }
        guard fd >= 0 else { throw fail(errno) }
        var utf8 = Array(text.utf8)
        var done = 0
        while done < utf8.count {
            let n = utf8.withUnsafeMutableBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                close(fd)
                unlink(temporary)
                throw fail(e)
            }
            done += n
        }
        utf8 = []
        if close(fd) != 0 { let e = errno; unlink(temporary); throw fail(e) }
        guard rename(temporary, path) == 0 else { let e = errno; unlink(temporary); throw fail(e) }
    }
}

/// A receive rate smoothed over a few seconds.
struct RateMeter {
    private var last: (bytes: Int64, at: ContinuousClock.Instant)?
    private var rate = 0.0
    private var started = false

    mutating func update(bytes: Int64, at now: ContinuousClock.Instant) -> Double {
        defer { if last == nil || last!.at.duration(to: now).seconds >= 0.05 { last = (bytes, now) } }
        guard let last else { return 0 }
        let dt = last.at.duration(to: now).seconds
        guard dt >= 0.05 else { return rate }
        let instant = Double(bytes - last.bytes) / dt
        if !started {
            // The first measurement stands alone: no zero from before the start to drag it down.
            started = true
            rate = instant
            return rate
        }
        let weight = 1 - exp(-dt / 3)
        rate += (instant - rate) * weight
        return rate
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    public var seconds: Double {
        let (s, a) = components
        return Double(s) + Double(a) / 1e18
    }
}
