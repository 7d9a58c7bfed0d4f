#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plan's files as a folder tree: each written by a ``FileSink`` under a temporary name and renamed
/// into place when complete; a re-run skips files already complete there.
///
/// With ``Configuration/synchronizesOutput``, each file is flushed before its rename and every folder
/// a name was added to is flushed at the end, before the manifests. A full disk stops the run; the
/// partial files are removed, the complete ones stay.
final class DirectoryOutput: RunOutput {
    let root: String
    let plan: Plan
    let budget: MemoryBudget
    let blockSize: Int
    /// The download's threads: files are written and flushed there (``WorkerPool``).
    let workers: WorkerPool
    private let previous = Locked<[String: Manifest.Earlier]>([:])
    private let synchronizes: Bool
    /// Folders a name was added to (a file renamed in, a folder made), to flush at the end.
    private let changedFolders = Locked<Set<String>>([])
    private let diskFull = Locked<HaulError?>(nil)
    /// Folders under the root (by path relative to it, `""` for the root) known to be real folders,
    /// and whether this run made them. A folder is made or checked once a run, not once a file; and
    /// in a folder this run made, every name is one of this run's (the plan's paths are unique), so
    /// no file there can be complete from before and none is looked for.
    private let folders = Locked<[String: Bool]>([:])
    /// Where each file's last steps run: its flush before its rename (``Configuration/synchronizesOutput``)
    /// and the rename. (An unnamed file not flushed finishes on the download's thread instead: its steps
    /// are a few short system calls, cheaper than the switch here and back; see ``FileSink``.) Threads
    /// apart from the download's, because an `fsync` sleeps for milliseconds,
    /// a rename waits its turn at the folder, and the download's threads must keep checksumming and
    /// writing. Many when flushing, because the file system commits the flushes that wait at the same
    /// time together: 2,000 small files flushed here took 2.7 s on 4 threads and 0.9 s on 16 (0.45 s
    /// without flushing).
    private let finishers: WorkerPool

    init(root path: String, plan: Plan, budget: MemoryBudget, configuration c: Configuration, workers: WorkerPool) {
        self.workers = workers
        root = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        self.plan = plan
        self.budget = budget
        blockSize = budget.blockSize(parallel: c.parallel)
        synchronizes = c.synchronizesOutput
        finishers = c.synchronizesOutput ? WorkerPool(name: "haul-flush", threads: 16) : WorkerPool(name: "haul-finish", threads: 4)
    }

    var location: String { root }
    var failure: HaulError? { diskFull.withLock { $0 } }
    /// Nothing to free: a file's blocks are only ever on their way to the disk, never held.
    func relieve() {}

    /// Stops the run when `error` says the disk is full.
    private func note(_ error: (any Error)?) {
        guard let error = error as? HaulError, error.code == .diskFull else { return }
        diskFull.withLock { if $0 == nil { $0 = error } }
    }

    func open() async throws {
        // Before anything is made: a file in the way or a folder that cannot be written ends the run here.
        try OutputCheck.directory(root)
        var st = stat()
        let existed = lstat(root, &st) == 0
        let made = try Self.makeRoot(root)
        if synchronizes { changedFolders.withLock { $0.formUnion(made) } }
        folders.withLock { $0[""] = !existed }
        let rows = previousRows()
        previous.withLock { $0 = rows }
    }

    func prepare(_ index: Int) async -> Preparation<FileSink> {
        let entry = plan.entries[index]
        let path = root + "/" + entry.path
        let made: Bool
        switch makeFolders(for: entry.path) {
        case .success(let m): made = m
        case .failure(let problem): return .failed(problem.failure)
        }
        if !made, let done = alreadyComplete(entry, path: path) { return .complete(done) }
        return fileSink(entry, path: path)
    }

    func refetch(_ index: Int) async -> Preparation<FileSink> {
        // The new version goes to the temporary name and is renamed over the old file: atomic.
        fileSink(plan.entries[index], path: root + "/" + plan.entries[index].path)
    }

    private func fileSink(_ entry: Plan.Entry, path: String) -> Preparation<FileSink> {
        do {
            // A small file needs no more than its own size in memory.
            let block = entry.product.size.map { min(blockSize, max(4096, Int(clamping: ($0 + 4095) / 4096 * 4096))) } ?? blockSize
            return .fetch(try FileSink(path: path, budget: budget, blockSize: block, workers: workers, finishers: finishers, flush: synchronizes))
        } catch {
            note(error)
            return .failed(.writing(error))
        }
    }

    func complete(_ index: Int, sink: FileSink, result: FetchResult) async -> Completion {
        switch result.status {
        case .ok:
            do {
                try await sink.commit(size: result.bytes, modified: result.lastModified)
                if synchronizes { changedFolders.withLock { _ = $0.insert(OutputCheck.parentFolder(of: sink.path)) } }
                return Completion(status: .ok, crc32: sink.crc32)
            } catch {
                note(error)
                return Completion(status: .failed(.writing(error)))
            }
        case .notModified:
            await sink.discard()
            return Completion(status: .ok)
        case .failed(let reason):
            note(sink.writeError)
            await sink.discard()
            return Completion(status: .failed(reason))
        case .cancelled:
            await sink.discard()
            return Completion(status: .cancelled)
        }
    }

    func close(_ manifest: Manifest) async throws {
        let name = root.split(separator: "/").last.map(String.init) ?? root
        if let full = failure {
            // The partial files are gone, which may leave room for the manifests; the next run needs
            // them only for products without a stated size.
            try? FileReplacement.write(root + "/manifest.csv", synchronize: synchronizes, pieces: manifest.csv)
            try? FileReplacement.write(root + "/manifest.html", synchronize: synchronizes) { manifest.html(title: name, $0) }
            try? flushFolders()
            let complete = manifest.rows.filter { $0.status == .ok }.count
            throw HaulError(
                .diskFull,
                "\(full.message). \(complete) complete file\(complete == 1 ? " is" : "s are") in \(root), no partial one: free some space and run the same command again to fetch the rest",
                underlyingError: full.underlyingError
            )
        }
        // The files' names first, so that a manifest on the disk never lists a file that is not.
        try flushFolders()
        try FileReplacement.write(root + "/manifest.csv", synchronize: synchronizes, pieces: manifest.csv)
        try FileReplacement.write(root + "/manifest.html", synchronize: synchronizes) { manifest.html(title: name, $0) }
        if synchronizes { try FileSync.folder(root) }
    }

    /// Flushes every folder a name was added to, deepest first.
    private func flushFolders() throws {
        let folders = changedFolders.withLock { f in defer { f = [] }; return f }
        for folder in folders.sorted(by: { $0.count > $1.count }) { try FileSync.folder(folder) }
    }

    /// The file at `path` when it is complete from an earlier run: a regular file with the catalog's
    /// size, or, for a product without a stated size, the size the earlier manifest recorded for it as
    /// `OK`; with what that manifest recorded of it (CRC-32, `Last-Modified`, `ETag`) when it names the
    /// same file with the same size.
    private func alreadyComplete(_ entry: Plan.Entry, path: String) -> CompleteFile? {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        let size = Int64(st.st_size)
        let earlier = previous.withLock { $0[entry.product.uri] }
            .flatMap { Manifest.isSuccess($0.status) && $0.file == entry.path && $0.size == size ? $0 : nil }
        if let stated = entry.product.size {
            guard stated == size else { return nil }
        } else if earlier == nil {
            return nil
        }
        #if os(Linux)
        let modified = Int64(st.st_mtim.tv_sec)
        #else
        let modified = Int64(st.st_mtimespec.tv_sec)  // Darwin's name for it
        #endif
        return CompleteFile(
            size: size, note: "already complete", crc32: earlier?.crc32, lastModified: earlier?.lastModified,
            etag: earlier?.etag, source: earlier?.source, fileTime: modified
        )
    }

    // MARK: Files and folders

    /// The rows of the manifest an earlier run left in the root, by URI.
    private func previousRows() -> [String: Manifest.Earlier] {
        guard let text = try? Self.readSmallFile(root + "/manifest.csv") else { return [:] }
        var rows: [String: Manifest.Earlier] = [:]
        for r in Manifest.parseCSV(text) { rows[r.uri] = r }
        return rows
    }

    /// Creates the root and the folders above it that are missing.
    /// - Returns: The folders that gained an entry (the parent of each folder made).
    @discardableResult
    static func makeRoot(_ root: String) throws -> Set<String> {
        var path = root.hasPrefix("/") ? "" : "."
        var made = Set<String>()
        for component in root.split(separator: "/") {
            let parent = path.isEmpty ? "/" : path
            path += "/" + component
            if mkdir(path, 0o755) == 0 {
                made.insert(parent)
            } else if errno != EEXIST {
                throw HaulError.writing(root, errno: errno, action: "create")
            }
        }
        var st = stat()
        guard stat(root, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw HaulError(.outputPath, "cannot write into \(root): it is not a folder")
        }
        return made
    }

    /// Why the folders of a file cannot be made.
    struct FolderProblem: Error {
        let failure: FileFailure
    }

    /// Creates the folders of the file at `relative` under the root, refusing any that exists as
    /// something other than a real folder (a symbolic link there could lead outside the root). Each
    /// folder is made or checked once a run (``folders``).
    /// - Returns: Whether this run made the file's folder (then nothing from before is in it).
    func makeFolders(for relative: String) -> Result<Bool, FolderProblem> {
        let components = relative.split(separator: "/", omittingEmptySubsequences: true).dropLast()
        var key = ""
        var madeHere = folders.withLock { $0[""] } ?? false
        for component in components {
            let parentKey = key
            key += key.isEmpty ? String(component) : "/" + component
            if let known = folders.withLock({ $0[key] }) {
                madeHere = known
                continue
            }
            let path = root + "/" + key
            if mkdir(path, 0o755) == 0 {
                if synchronizes { changedFolders.withLock { _ = $0.insert(parentKey.isEmpty ? root : root + "/" + parentKey) } }
                madeHere = true
            } else {
                let e = errno
                var st = stat()
                if e == EEXIST, lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
                    // Made before this run, or by another worker of it a moment ago: either way not
                    // known to be new, so files in it are looked for.
                    madeHere = false
                } else if e == EEXIST {
                    return .failure(FolderProblem(failure: FileFailure(.unsafePath, "unsafe path: \(key) exists and is not a folder")))
                } else {
                    return .failure(FolderProblem(failure: FileFailure(e == ENOSPC || e == EDQUOT ? .diskFull : .writeFailed, "write error: cannot create folder \(path): \(String(cString: strerror(e)))")))
                }
            }
            let made = madeHere
            // Made wins: a worker that lost the race to make it must not hide that it is new.
            folders.withLock { $0[key] = ($0[key] ?? false) || made }
        }
        return .success(madeHere)
    }

    static func readSmallFile(_ path: String) throws -> String {
        let fd = System.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw POSIXErrorNumber(errno) }
        defer { System.close(fd) }
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
}
