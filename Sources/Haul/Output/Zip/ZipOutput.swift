import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plan's files as one ZIP, written to a file or streamed.
///
/// Each product is staged by a ``ZipEntrySink`` (checksummed and compressed on workers, in memory up
/// to a share of the budget, spilled to a spool file beyond it) and appended whole by the ``ZipWriter``
/// only once every byte arrived and checked. A file is written as `NAME.haul-part` and renamed when
/// the central directory is in place; a run that finds `NAME.haul-part` (after a crash) or a finished
/// `NAME` keeps the complete entries in it and fetches only the rest.
///
/// A full disk (the archive's or a spool file's) stops the run: the archive is finished with the
/// entries already in it when the space left allows, else `NAME.haul-part` stays for the next run.
final class ZipOutput: RunOutput, @unchecked Sendable {
    enum Destination {
        case file(String)
        case stream(any DownloadTarget.ByteStream)
        /// A ``StoredBundle``'s bytes from an offset on.
        case stored(any DownloadTarget.ByteStream, StoredBundle, from: UInt64)
    }

    let destination: Destination
    let plan: Plan
    let staging: ZipStaging
    private let started: Int64
    /// The stored bundle whose bytes this writes, if it is one.
    private let bundle: StoredBundle?
    /// Why a stored bundle cannot be finished (a file failed or changed): the run stops, and the
    /// stream ends short of the length it stated.
    private let broken = Locked<HaulError?>(nil)
    // Set by open(), read-only afterwards.
    private var writer: ZipWriter!
    private var fd: Int32 = -1
    private var kept: [Int: ZipEntry] = [:]
    /// The earlier run's manifest rows, by URI (set by open(), read-only afterwards).
    private var earlier: [String: Manifest.Earlier] = [:]
    /// Entries being fetched, for the watchdog's ``relieve()``.
    private let live = Locked<[Int: ZipEntrySink]>([:])
    /// Replace a file at the path that is not an archive of this plan.
    private let overwrite: Bool
    private let synchronizes: Bool
    /// Transfers in flight at once (the configuration's `parallel`).
    private let parallelism: Int
    /// Entries of a stored bundle outside the part written (before its start with no record, or after
    /// its end): not fetched, and the bundle's end cannot be written.
    private var unrecordedPrefix: Set<Int> = []
    /// A stored bundle's files this run fetches for the other requests of the bundle too
    /// (``BundleFileCache``): each is published when its transfer ends.
    private let claims = Locked<Set<Int>>([])
    /// A full disk met by an entry's spool file (the writer keeps its own failure).
    private let diskFull = Locked<HaulError?>(nil)

    init(
        _ destination: Destination, plan: Plan, budget: MemoryBudget, configuration c: Configuration, compression: DownloadTarget.Compression,
        overwrite: Bool = false, workers: WorkerPool
    ) {
        self.destination = destination
        self.plan = plan
        self.overwrite = overwrite
        if case .stored(_, let bundle, _) = destination {
            self.bundle = bundle
            started = bundle.time
        } else {
            bundle = nil
            started = Int64(time(nil))
        }
        synchronizes = c.synchronizesOutput
        let parallel = max(1, c.parallel)
        parallelism = parallel
        let spoolFolder: String
        switch destination {
        case .file(let path):
            spoolFolder = path.lastIndex(of: "/").map { String(path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
        case .stream, .stored:
            spoolFolder = (getenv("TMPDIR").map { String(cString: $0) }).flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        }
        staging = ZipStaging(compression: compression, budget: budget, parallel: parallel, spoolFolder: spoolFolder, workers: workers)
    }

    deinit {
        if fd >= 0 { System.close(fd) }
    }

    var location: String {
        switch destination {
        case .file(let path): path
        case .stream(let stream), .stored(let stream, _, _): (stream as? FileDescriptorStream)?.name ?? "the output stream"
        }
    }

    var partPath: String? {
        if case .file(let path) = destination { return path + ".haul-part" }
        return nil
    }

    var failure: HaulError? { writer?.failure ?? diskFull.withLock { $0 } ?? broken.withLock { $0 } }

    /// A stored bundle's products are fetched in the order they are written: workers take them in turn,
    /// so the first unwritten one always has a worker (none waits in ``ZipWriter/admit(_:)`` for it).
    var order: [Int]? { bundle?.order }

    /// A stored bundle's request whose client went (its stream failed) while other requests of the
    /// bundle run: the files being fetched are kept for them (``BundleFileCache``), so the transfers in
    /// flight finish, and no other starts. A download manager ends a range's connection as soon as it
    /// has the range, while the files past it that the request fetches ahead are those its next ranges need.
    var finishesTransfersInFlight: Bool { bundle?.cache.isShared ?? false }

    /// Breaks a stored bundle: the run stops, and the transfers waiting to start give up.
    private func breakBundle(_ error: HaulError) {
        broken.withLock { if $0 == nil { $0 = error } }
        writer?.stopAdmitting()
    }

    /// Stops the run when `error` says the disk is full.
    private func note(_ error: (any Error)?) {
        guard let error = error as? HaulError, error.code == .diskFull else { return }
        diskFull.withLock { if $0 == nil { $0 = error } }
    }

    func entryName(_ index: Int) -> String { plan.root + "/" + plan.entries[index].path }

    // MARK: RunOutput

    func open() async throws {
        if case .stored(let stream, let bundle, let from) = destination {
            try openStored(stream, bundle, from: from)
            return
        }
        guard case .file(let path) = destination, let partPath else {
            if case .stream(let stream) = destination { writer = ZipWriter(output: ArchiveOutput(.stream(stream))) }
            return
        }
        // Before anything is written: a folder, a user's file or a missing folder ends the run here.
        if try OutputCheck.zip(path, plan: plan, overwrite: overwrite) == .resumeFinished {
            // A finished archive from an earlier run becomes the one being written, to be completed.
            guard rename(path, partPath) == 0 else { throw HaulError.writing(path, errno: errno, action: "rename") }
        }
        fd = System.open(partPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw HaulError.writing(partPath, errno: errno, action: "create") }
        var st = stat()
        fstat(fd, &st)
        var resume = ZipResume.Result()
        if st.st_size > 0 {
            var byName: [String: Int] = [:]
            for index in plan.downloads { byName[entryName(index)] = index }
            resume = ZipResume.scan(fd: fd, length: UInt64(st.st_size)) { entry in
                guard let index = byName.removeValue(forKey: entry.name) else { return nil }
                if let size = plan.entries[index].product.size, UInt64(size) != entry.uncompressedSize { return nil }
                return index
            }
        }
        // A finished archive ends with its manifests: what the earlier run recorded of each kept entry
        // (ETag, Last-Modified), for --refresh and for this run's manifest.
        if !resume.kept.isEmpty,
           let csv = ZipResume.entryData(named: plan.root + "/manifest.csv", fd: fd, from: resume.stop, length: UInt64(st.st_size)) {
            for row in Manifest.parseCSV(String(decoding: csv, as: UTF8.self)) { earlier[row.uri] = row }
        }
        // Only when there is something to cut: on ext4, truncating a file to 0 bytes (even one already
        // empty) marks it to be written out when it is closed ("auto_da_alloc"), which made every run's
        // last close start the writeback of the whole archive itself, --no-fsync or not.
        if UInt64(st.st_size) != resume.end, ftruncate(fd, off_t(resume.end)) != 0 {
            throw HaulError.writing(partPath, errno: errno, action: "truncate")
        }
        for (index, entry) in resume.kept { kept[index] = entry }
        writer = ZipWriter(
            output: ArchiveOutput(
                .file(fd: fd, path: partPath), position: resume.end, holes: resume.holes,
                // Its own thread: a request can wait on the disk's queue, and the writes must not.
                writeback: synchronizes ? Writeback(fd: fd, pool: WorkerPool(name: "haul-writeback", threads: 1)) : nil
            ), kept: resume.kept,
            keptSpans: resume.spans
        )
    }

    /// A stored bundle from `from` on: the entries that end before it are kept (their records fill the
    /// directory and the manifests); the stream takes the bytes from `from` on.
    ///
    /// An entry before `from` that has not gone out yet has no record: the files' part of the bundle
    /// can still be written (a range that ends before the manifests), but not its end, which fails.
    private func openStored(_ stream: any DownloadTarget.ByteStream, _ bundle: StoredBundle, from: UInt64) throws {
        guard from < bundle.length || from == 0 else {
            throw HaulError(.output, "cannot start the bundle at byte \(from) of \(bundle.length)")
        }
        let first = bundle.firstPosition(endingAfter: from)
        var prefix: [(key: Int, entry: ZipEntry)] = []
        for position in 0..<first {
            let index = bundle.order[position]
            guard let record = bundle.record(index) else {
                unrecordedPrefix.insert(index)
                continue
            }
            let size = UInt64(plan.entries[index].product.size!)
            let entry = ZipEntry(
                name: entryName(index), method: .stored, crc32: record.crc32, compressedSize: size, uncompressedSize: size,
                modified: record.modified, offset: bundle.offsets[position]
            )
            prefix.append((index, entry))
            kept[index] = entry
        }
        // A part that ends before the bundle does: the files whose entries start after it are not fetched.
        if let last = (stream as? any StoredBundlePart)?.lastByte, last + 1 < bundle.length {
            for position in first..<bundle.order.count where bundle.offsets[position] > last {
                unrecordedPrefix.insert(bundle.order[position])
            }
        }
        let start = first < bundle.order.count ? bundle.offsets[first] : bundle.manifestOffset
        let output = from > start ? SkippingStream(stream, skip: from - start) as any DownloadTarget.ByteStream : stream
        // Twice the transfers in flight: those past a slow first one keep the connections busy, and
        // what waits is staged within the budget like any entry.
        let window = max(8, 2 * parallelism)
        writer = ZipWriter(
            output: ArchiveOutput(.stream(output), position: start), kept: prefix,
            order: ZipWriter.Order(keys: bundle.order, positions: bundle.positions, next: first, window: window) { entries in
                bundle.record(entries.map { key, entry in (key, StoredBundle.Record(crc32: entry.crc32, modified: entry.modified)) })
            }
        )
    }

    func prepare(_ index: Int) async -> Preparation<ZipEntrySink> {
        if bundle != nil, unrecordedPrefix.contains(index) {
            // Outside this part of the bundle: not fetched (the part ends before the manifests that
            // would list it).
            return .complete(CompleteFile(size: plan.entries[index].product.size ?? 0, note: "", crc32: 0, fileTime: nil))
        }
        if bundle != nil, let entry = kept[index] {
            // Sent before the resumed stream's start: what went out is what the manifest records.
            return .complete(CompleteFile(size: Int64(entry.uncompressedSize), note: "", crc32: entry.crc32, fileTime: entry.modified))
        }
        if let bundle {
            guard await writer.admit(index) else { return .failed(FileFailure(.other, "not started: the bundle stopped")) }
            switch await bundle.cache.take(index) {
            case .ready(let file): return await fromCache(index, file, bundle: bundle)
            case .claimed: claims.withLock { _ = $0.insert(index) }
            case .unclaimed: break
            }
        }
        if let entry = kept[index] {
            let product = plan.entries[index].product
            let row = earlier[product.uri].flatMap { $0.file == plan.entries[index].path && $0.crc32 == entry.crc32 ? $0 : nil }
            return .complete(CompleteFile(
                size: Int64(entry.uncompressedSize), note: "already complete", crc32: entry.crc32,
                lastModified: row?.lastModified, etag: row?.etag, source: row?.source, fileTime: entry.modified
            ))
        }
        return refetchSink(index)
    }

    func refetch(_ index: Int) async -> Preparation<ZipEntrySink> {
        // Appended as a new entry; the writer then drops the kept one (see ZipWriter.replaceKept).
        refetchSink(index)
    }

    private func refetchSink(_ index: Int) -> Preparation<ZipEntrySink> {
        let placement = writer.placesRegions
            ? ZipEntrySink.Placement(writer: writer, name: entryName(index), modified: started) : nil
        let sink = ZipEntrySink(staging: staging, filename: plan.entries[index].product.filename, placement: placement)
        live.withLock { $0[index] = sink }
        return .fetch(sink)
    }

    func relieve() {
        for sink in live.withLock({ Array($0.values) }) { sink.spillNow() }
    }

    func complete(_ index: Int, sink: ZipEntrySink, result: FetchResult) async -> Completion {
        live.withLock { $0[index] = nil }
        // A claim on a stored bundle's file ends with the transfer, whatever its outcome: others wait on it.
        let claimed = claims.withLock { $0.remove(index) != nil }
        var shared = false
        defer { if claimed && !shared { bundle?.cache.publish(index, nil) } }
        switch result.status {
        case .ok:
            do {
                let staged = try await sink.finish(size: result.bytes)
                if let bundle {
                    return try await completeStored(index, staged, bundle: bundle, lastModified: result.lastModified) { entry in
                        guard claimed else { return }
                        shared = true
                        // Its spool file as it is; a copy of its bytes in memory only for another
                        // request of the bundle running now (BundleFileCache: what a request alone keeps).
                        bundle.cache.publish(index, Self.cacheFile(staged, entry, folder: staging.spoolFolder, copy: bundle.cache.isShared))
                    }
                }
                if let region = staged.region {
                    try await writer.complete(region, crc32: staged.crc32, modified: result.lastModified ?? started, key: index)
                    return Completion(status: .ok, crc32: staged.crc32)
                }
                let entry = ZipEntry(staged, name: entryName(index), modified: result.lastModified ?? started, level: staging.compression.level)
                try await writer.append(entry, staged, key: index)
                return Completion(status: .ok, crc32: staged.crc32)
            } catch {
                note(error)
                sink.discard()
                return Completion(status: .failed(.writing(error)))
            }
        case .notModified:
            sink.discard()
            return Completion(status: .ok)
        case .failed(let reason):
            note(sink.writeError)
            sink.discard()
            if bundle != nil {
                breakBundle(HaulError(.output, "\(plan.entries[index].path) failed (\(reason)): the bundle's stated length needs every file, so it ends short"))
            }
            return Completion(status: .failed(reason))
        case .cancelled:
            sink.discard()
            writer.stopAdmitting()
            return Completion(status: .cancelled)
        }
    }

    /// A file of a stored bundle, whole: it goes out in its turn. One whose header went out before
    /// (a resumed stream's first entry) must be the same file.
    ///
    /// - Parameter share: Called with the entry once the file is known good, before it waits its turn.
    private func completeStored(
        _ index: Int, _ staged: ZipStaged, bundle: StoredBundle, lastModified: Int64?, share: (ZipEntry) -> Void = { _ in }
    ) async throws -> Completion {
        let path = plan.entries[index].path
        guard staged.method == .stored, staged.uncompressedSize == UInt64(plan.entries[index].product.size ?? -1) else {
            let error = HaulError(.output, "\(path): \(staged.uncompressedSize) bytes arrived where the catalog states \(plan.entries[index].product.size ?? -1)")
            breakBundle(error)
            throw error
        }
        let entry = ZipEntry(staged, name: entryName(index), modified: bundle.entryTime(lastModified: lastModified), level: 0)
        try checkUnchanged(index, entry, bundle: bundle)
        share(entry)
        try await writer.append(entry, staged, key: index)
        return Completion(status: .ok, crc32: staged.crc32)
    }

    /// An entry whose header went out before (a resumed stream's first entry) must be the same file.
    private func checkUnchanged(_ index: Int, _ entry: ZipEntry, bundle: StoredBundle) throws {
        if case .stored(_, _, let from) = destination, let position = bundle.positions[index], bundle.offsets[position] < from,
           let record = bundle.record(index), record != StoredBundle.Record(crc32: entry.crc32, modified: entry.modified) {
            let error = HaulError(.changedOnArchive, "\(plan.entries[index].path) changed on the archive since the bundle began: it cannot be resumed")
            breakBundle(error)
            throw error
        }
    }

    /// A stored bundle's file another request of the bundle fetched: written from its copy, no transfer.
    private func fromCache(_ index: Int, _ file: BundleFileCache.File, bundle: StoredBundle) async -> Preparation<ZipEntrySink> {
        let staged = ZipStaged(
            method: .stored, crc32: file.crc32, uncompressedSize: file.size, compressedSize: file.size,
            memory: [], staged: 0, spool: file.spool, budget: staging.budget
        )
        let entry = ZipEntry(staged, name: entryName(index), modified: file.modified, level: 0)
        do {
            try checkUnchanged(index, entry, bundle: bundle)
            try await writer.append(entry, staged, key: index)
        } catch {
            return .failed(FileFailure(.writeFailed, "write error: \(error)"))
        }
        return .complete(CompleteFile(size: Int64(file.size), note: "", crc32: file.crc32, fileTime: file.modified))
    }

    /// A file's bytes for the other requests of a bundle: its spool file as it is, or its buffers
    /// copied to one when `copy` says so. `nil` when they cannot be (the others then fetch it themselves).
    private static func cacheFile(_ staged: ZipStaged, _ entry: ZipEntry, folder: String, copy: Bool) -> BundleFileCache.File? {
        let spool: SpoolFile
        if let kept = staged.spool, staged.memory.isEmpty {
            spool = kept
        } else if copy, staged.spool == nil, let copy = try? SpoolFile(folder: folder), (try? copy.write(staged.memory, at: 0)) != nil {
            spool = copy
        } else {
            return nil
        }
        return BundleFileCache.File(spool: spool, size: staged.compressedSize, crc32: staged.crc32, modified: entry.modified)
    }

    func close(_ manifest: Manifest) async throws {
        if let bundle {
            if !unrecordedPrefix.isEmpty {
                writer.stopAdmitting()
                throw HaulError(.output, "the bundle cannot be ended here: entries before this part have not gone out")
            }
            try await closeStored(manifest, bundle: bundle)
            return
        }
        let now = Int64(time(nil))
        let trailing = [
            manifestEntry(name: plan.root + "/manifest.html", modified: now) { manifest.html(title: plan.root, $0) },
            manifestEntry(name: plan.root + "/manifest.csv", modified: now) { manifest.csv($0) },
        ]
        let complete = manifest.rows.filter { $0.status == .ok }.count
        let files = "\(complete) complete file\(complete == 1 ? "" : "s")"
        guard case .file(let path) = destination, let partPath else {
            _ = try await writer.finish(trailing: trailing)
            if let full = diskFull.withLock({ $0 }) {
                throw HaulError(.diskFull, "\(full.message). The streamed ZIP was finished with the \(files) (its manifest lists the rest): free some space and run again", underlyingError: full.underlyingError)
            }
            return
        }
        guard let full = failure.flatMap({ $0.code == .diskFull ? $0 : nil }) else {
            _ = try await writer.finish(trailing: trailing)
            try await seal(path: path, partPath: partPath)
            return
        }
        // The disk filled: the part file holds whole entries only (a failed append is cut off). Finish
        // it as a valid archive when the space freed by dropped entries allows; else keep it to resume.
        do {
            _ = try await writer.finish(trailing: trailing, afterFailure: true)
            try await seal(path: path, partPath: partPath)
        } catch {
            throw HaulError(.diskFull, "\(full.message). \(partPath) keeps the \(files) written so far: free some space and run the same command again to finish it", underlyingError: full.underlyingError)
        }
        throw HaulError(.diskFull, "\(full.message). \(path) is a valid ZIP of the \(files) (its manifest lists the rest): free some space and run the same command again to add them", underlyingError: full.underlyingError)
    }

    /// A stored bundle's end: its manifests (stored, from the records) and directory, exactly at the
    /// length it stated; or, when a file is missing, an error (the stream ends short).
    private func closeStored(_ manifest: Manifest, bundle: StoredBundle) async throws {
        writer.stopAdmitting()
        if let error = broken.withLock({ $0 }) ?? writer.failure { throw error }
        if let index = bundle.order.first(where: { manifest.rows[$0].status != .ok }) {
            throw HaulError(.output, "\(plan.entries[index].path) is \(manifest.rows[index].status.text): the bundle ends short")
        }
        let trailing = bundle.manifests().map { name, data in storedManifestEntry(data, name: name, modified: bundle.time) }
        let length = try await writer.finish(trailing: trailing)
        guard length == bundle.length else {
            throw HaulError(.output, "the bundle came to \(length) bytes where \(bundle.length) were stated")
        }
    }

    /// Flushes the finished archive, renames it into place, and flushes the folder that names it.
    private func seal(path: String, partPath: String) async throws {
        if synchronizes {
            // Off the caller's thread: flushing gigabytes of written pages takes seconds.
            let fd = self.fd
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                staging.workers.async { c.resume(with: Result { try FileSync.file(fd, path: partPath) }) }
            }
        }
        let status = System.close(fd)
        fd = -1
        guard status == 0, rename(partPath, path) == 0 else { throw HaulError.writing(path, errno: errno, action: "finish") }
        if synchronizes { try FileSync.folder(OutputCheck.parentFolder(of: path)) }
    }

    /// A manifest as a deflated entry, made from its text a piece at a time: the text is never whole in
    /// memory (for a million rows, hundreds of MB), only its compressed bytes, in right-sized buffers.
    private func manifestEntry(name: String, modified: Int64, pieces produce: ((String) -> Void) -> Void) -> (ZipEntry, ZipStaged) {
        let budget = staging.budget
        var buffers: [Buffer] = []
        let (crc, size) = staging.deflater.deflateText(produce) { buffer, length in
            // The deflater's buffer has zlib's worst-case capacity: kept, it is copied to its bytes' size.
            budget.forceReserve(buffer.count)
            buffers.append(Buffer(pointer: buffer, length: length).compacted(budget: budget))
        }
        let staged = ZipStaged(
            method: .deflated, crc32: crc, uncompressedSize: size, compressedSize: UInt64(buffers.reduce(0) { $0 + $1.length }),
            memory: buffers, staged: 0, spool: nil, budget: budget
        )
        return (ZipEntry(staged, name: name, modified: modified, level: staging.compression.level), staged)
    }

    /// A stored bundle's manifest as a stored entry (its length is part of the bundle's, fixed ahead).
    private func storedManifestEntry(_ data: [UInt8], name: String, modified: Int64) -> (ZipEntry, ZipStaged) {
        let crc = data.withUnsafeBytes { CRC32.of($0) }
        let buffer = PageMemory.allocate(max(1, data.count))
        if !data.isEmpty { data.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[0..<data.count]).copyMemory(from: $0) } }
        staging.budget.forceReserve(buffer.count)
        let staged = ZipStaged(
            method: .stored, crc32: crc, uncompressedSize: UInt64(data.count), compressedSize: UInt64(data.count),
            memory: [Buffer(pointer: buffer, length: data.count)], staged: 0, spool: nil, budget: staging.budget
        )
        return (ZipEntry(staged, name: name, modified: modified, level: 0), staged)
    }
}
