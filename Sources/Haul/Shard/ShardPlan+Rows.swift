import CHaulSystem
import Foundation

extension ShardPlan {
    /// Reads the catalogs and plans the selection as `haul download` would, keeping only what shards need
    /// (``PlanRows``, ``RowPlan``).
    ///
    /// - Throws: ``HaulError``: `invalidCatalog` for a catalog that cannot be read; `invalidArgument` for a
    ///   selector value the catalogs do not have (``Selection/checkValues(in:)``).
    package static func plan(
        catalogs: [String], selection: Selection, layout: Plan.Layout, root: String, authorized: Bool
    ) throws -> RowPlan {
        let rows = try Catalog.loadPlanRows(paths: catalogs, selection: selection)
        // A value the catalog does not have is a typo, not an empty selection (exit status 2).
        try rows.vocabulary.check()
        return RowPlan(rows: rows, layout: layout, root: root, authorized: authorized)
    }

    /// A selection planned over ``PlanRows`` as ``Plan`` plans it over products: the same entries (the
    /// selected rows in catalog order), the same fate for each (fetched, a duplicate of an earlier
    /// entry, excluded without a token, unsafe), the same renames of clashing paths, the same summary.
    ///
    /// Why not a ``Plan``: a plan's entries refer to the catalog's ``Product``s, which at ten million rows
    /// are the 4.7 GiB `haul plan` set out to leave behind. Here an entry is its row's index and its fate,
    /// 8 bytes; what the shard files need is read back from the rows when they are written. The
    /// decisions are the ones ``Plan`` makes, taken with the same pieces: ``Selection/Rules`` and the
    /// guide-star rule, ``FirstRows`` for duplicates, ``Plan/collisions(downloads:hash:key:path:)`` for names.
    package struct RowPlan: Sendable {
        let rows: PlanRows
        package let root: String
        package let layout: Plan.Layout
        package private(set) var summary = Plan.Summary()
        /// Each entry's row, in catalog order.
        private(set) var entryRows: [Int32] = []
        /// Each entry's fate: ``download``, ``excluded``, ``unsafe``, or (0 and up) a duplicate of that entry.
        private(set) var fates: [Int32] = []
        /// The entries fetched, in order.
        private(set) var downloads: [Int32] = []
        /// The fetched entries whose path another had first: their new path and the one they wanted.
        private(set) var renames: [Int: (path: String, from: String)] = [:]

        static let download: Int32 = -1
        static let excluded: Int32 = -2
        static let unsafe: Int32 = -3

        /// The rows the catalogs listed.
        package var rowCount: Int { rows.count }
        /// Selected rows (entries).
        package var entryCount: Int { entryRows.count }

        /// Plans `rows` as ``Plan/init(products:selection:layout:root:resolver:authorized:)`` plans products.
        ///
        /// - Parameter authorized: Whether a token is available, so exclusive-access products can be fetched.
        init(rows: PlanRows, layout: Plan.Layout, root: String, authorized: Bool) {
            precondition(rows.count < Int(Int32.max), "a plan of more than 2 billion rows")
            rows.seal()
            self.rows = rows
            self.layout = layout
            self.root = root
            // The guide-star rule: the highest level of each exposure (``Selection/highestGuideStars(_:)``).
            var highest = Set<Int>()
            if rows.guideStarRule {
                var best: [String: Int] = [:]
                for star in rows.guideStars { best[star.exposure] = max(best[star.exposure] ?? .min, star.rank) }
                for star in rows.guideStars where star.rank == best[star.exposure] { highest.insert(star.row) }
            }
            let nested = layout == .nested
            var summary = Plan.Summary()
            var entryRows: [Int32] = []
            var fates: [Int32] = []
            // Entries and the fates that need no other row; the rest may be fetched or duplicates. The
            // candidates' URI hashes are taken here, in one pass in row order (the cache's order).
            var candidates: [Int32] = []
            var candidateRows: [Int32] = []
            var hashes: [Int] = []
            rows.forEach { index, row in
                let flags = row.flags
                guard flags.contains(.taken) || highest.contains(index), flags.contains(.kept) else { return }
                let fate: Int32
                if flags.contains(.exclusive) && !authorized {
                    fate = Self.excluded
                    summary.excludedExclusive += 1
                } else if flags.contains(.unsafeName) || (nested && flags.contains(.unsafeDataset)) {
                    fate = Self.unsafe
                    summary.unsafe += 1
                } else {
                    fate = Self.download
                    candidates.append(Int32(entryRows.count))
                    candidateRows.append(Int32(index))
                    hashes.append(URIKey.hash(bytes: row.uri))
                }
                entryRows.append(Int32(index))
                fates.append(fate)
            }
            // The first candidate with each URI is fetched; later ones are its duplicates (as ``Plan``'s
            // first row of each URI, of which only the rows fetched can be a duplicate's).
            // An earlier candidate is anywhere in the rows: its row is looked up directly (each step of
            // such a lookup is a cache miss, and three million duplicates look back).
            let first = FirstRows.of(
                count: candidates.count, hash: { hashes[$0] },
                same: { a, b in URIKey.same(rows.uri(Int(candidateRows[a])), rows.uri(Int(candidateRows[b]))) }
            )
            hashes = []
            var downloads: [Int32] = []
            downloads.reserveCapacity(candidates.count)
            for (k, entry) in candidates.enumerated() {
                if first[k] == k {
                    downloads.append(entry)
                    summary.selectedFiles += 1
                    summary.selectedBytes = summary.selectedBytes.addingSize(rows.withRow(Int(candidateRows[k])) { $0.size })
                } else {
                    fates[Int(entry)] = candidates[first[k]]
                    summary.duplicates += 1
                }
            }
            // Paths that clash: the later download takes `name (2).ext` (``Plan/resolveCollisions(_:)``).
            func path(_ e: Int) -> String {
                rows.withRow(Int(entryRows[e])) { nested ? "\($0.dataset)/\($0.filename)" : $0.filename }
            }
            let renamed = Plan.collisions(
                downloads: downloads.map(Int.init),
                hash: { e in rows.withRow(Int(entryRows[e])) { PathKey.hash(folder: nested ? $0.fields.dataset : nil, name: $0.name) } },
                key: { e in rows.withRow(Int(entryRows[e])) { PathKey(folder: nested ? $0.dataset : nil, name: $0.filename) } },
                path: path
            )
            for (entry, new) in renamed { renames[entry] = (new, path(entry)) }
            candidateRows = []
            self.summary = summary
            self.entryRows = entryRows
            self.fates = fates
            self.downloads = downloads
        }
    }

    /// Writes the plan folder from a ``RowPlan``: `plan.json`, `shards/*.csv`, `rows.csv`, the same bytes
    /// ``write(_:to:options:)`` writes from the ``Plan`` of the same catalogs and selection.
    ///
    /// - Throws: ``HaulError`` `invalidArgument` when nothing is fetched; `output` when a file cannot be written.
    @discardableResult
    package static func write(_ plan: RowPlan, to folder: String, options: Options) throws -> Record {
        let rows = plan.rows
        let downloads = plan.downloads
        guard !downloads.isEmpty else { throw HaulError(.invalidArgument, "nothing is selected to fetch: no shard to plan") }
        let n = options.shards
        let entryRows = plan.entryRows
        let sizes = downloads.map { entry in max(0, rows.withRow(Int(entryRows[Int(entry)])) { $0.size } ?? 0) }
        let assignment = balance(sizes: sizes, shards: n)
        var record = try startRecord(
            root: plan.root, layout: plan.layout, rows: plan.entryCount, summary: plan.summary, folder: folder, options: options
        )
        let width = record.width
        var shardOf = [Int32](repeating: -1, count: plan.entryCount)
        for (k, s) in assignment.enumerated() { shardOf[Int(downloads[k])] = s }
        // The shards and `rows.csv` at once, on two threads: neither changes the rows, and on a machine of
        // two cores this halves the writing's wall time.
        let shardOfAll = shardOf
        let failure = Locked<(any Error)?>(nil)
        let written = Locked<[Record.Shard]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { part in
            do {
                if part == 0 {
                    let shards = try writeShards(plan, assignment: assignment, shards: n, width: width, folder: folder)
                    written.withLock { $0 = shards }
                } else {
                    try writeRows(plan, shardOf: shardOfAll, to: folder + "/rows.csv")
                }
            } catch {
                failure.withLock { if $0 == nil { $0 = error } }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        record.shards = written.withLock { $0 }
        try writeJSON(record, to: folder + "/plan.json")
        return record
    }

    /// Writes each shard's catalog, `shards/NNNNN.csv`: its fetched entries in catalog order.
    ///
    /// One pass over the downloads in catalog order, each row's line appended to its shard's buffer,
    /// a full buffer appended to the shard's file: the rows are read in the order they lie in memory.
    /// Going shard by shard instead read each row from anywhere in the rows (a gigabyte at ten million),
    /// a cache and TLB miss a row, and took several times as long. The buffers hold at most about 64 MB
    /// in all. Each file is written under a temporary name and renamed once whole.
    static func writeShards(_ plan: RowPlan, assignment: [Int32], shards n: Int, width: Int, folder: String) throws -> [Record.Shard] {
        let rows = plan.rows
        let limit = max(16 << 10, (64 << 20) / n)
        let sinks = UnsafeMutablePointer<CSVSink>.allocate(capacity: n)
        for s in 0..<n { (sinks + s).initialize(to: CSVSink(capacity: limit + 4096)) }
        defer {
            sinks.deinitialize(count: n)
            sinks.deallocate()
        }
        var started = [Bool](repeating: false, count: n)
        var files = [Int](repeating: 0, count: n)
        var bytes = [Int64](repeating: 0, count: n)
        let paths = (0..<n).map { "shards/\(name($0, width: width)).csv" }
        let temporary = paths.map { folder + "/" + $0 + ".tmp-\(getpid())" }
        func flush(_ s: Int) throws {
            let file = try OutputFile(temporary[s], truncate: !started[s])
            if started[s] { lseek(file.fd, 0, SEEK_END) }
            started[s] = true
            try file.write(sinks[s].bytes)
            sinks[s].removeAll()
        }
        var header = CSVBytes()
        header.header(Catalog.overlayColumns + Catalog.exportColumns)
        for s in 0..<n { header.bytes.withUnsafeBufferPointer { sinks[s].raw($0) } }
        let nested = plan.layout == .nested
        // The plan's tables as locals: closures that read them from `plan` copied the plan (each of its
        // tables retained and released) for every row.
        let entryRows = plan.entryRows
        let renameTable = plan.renames
        let renames = !renameTable.isEmpty
        for (k, entry32) in plan.downloads.enumerated() {
            let s = Int(assignment[k])
            let entry = Int(entry32)
            files[s] += 1
            rows.withRow(Int(entryRows[entry])) { p in
                bytes[s] = bytes[s].addingSize(p.size)
                let fields = p.fields
                // The entry's final path (a renamed one too), so the shard's own plan, which does not see
                // the other shards' names, gives it again.
                if renames, let renamed = renameTable[entry] {
                    let (folderPart, name) = Plan.split(renamed.path)
                    sinks[s].field(nested ? String(folderPart.dropLast()) : p.dataset)
                    sinks[s].field(nested ? name : renamed.path)
                } else {
                    sinks[s].raw(fields.datasetField)
                    sinks[s].byte(UInt8(ascii: ","))
                    sinks[s].field(bytes: p.name)
                }
                // Level, suffix, instrument and filters, with their commas.
                sinks[s].raw(fields.middle)
                sinks[s].field(bytes: p.uri)
                sinks[s].number(p.size)
                sinks[s].field(p.access.rawValue, last: true)
            }
            if sinks[s].count >= limit { try flush(s) }
        }
        var record: [Record.Shard] = []
        for s in 0..<n {
            try flush(s)
            guard rename(temporary[s], folder + "/" + paths[s]) == 0 else {
                let e = errno
                unlink(temporary[s])
                throw HaulError(.output, "cannot write \(folder)/\(paths[s]): \(String(cString: strerror(e)))")
            }
            record.append(.init(path: paths[s], files: files[s], bytes: bytes[s]))
        }
        return record
    }

    /// `rows.csv` from a ``RowPlan``, as ``writeRows(_:shardOf:to:)`` writes it from a ``Plan``.
    ///
    /// A fetched row is its shard and note only: its row is not read. The other rows' fields are written
    /// from their bytes (a path as `dataset/name` assembled in `scratch`), not through strings.
    static func writeRows(_ plan: RowPlan, shardOf: [Int32], to path: String) throws {
        let rows = plan.rows
        var out = CSVSink(capacity: 2 << 20)
        var header = CSVBytes()
        header.header(rowColumns)
        header.bytes.withUnsafeBufferPointer { out.raw($0) }
        let file = try OutputFile(path)
        let nested = plan.layout == .nested
        // The plan's tables as locals (see ``writeShards(_:assignment:shards:width:folder:)``).
        let entryRows = plan.entryRows
        let fates = plan.fates
        let renameTable = plan.renames
        var scratch = CSVSink(capacity: 1024)
        /// An entry's path under the root as a field: its new one when renamed, else `dataset/name` (nested)
        /// or `name` (flat).
        func pathField(_ entry: Int, _ row: PlanRows.Row) {
            if let renamed = renameTable[entry] {
                out.field(renamed.path)
            } else if nested {
                scratch.removeAll()
                scratch.raw(row.fields.dataset)
                scratch.byte(UInt8(ascii: "/"))
                scratch.raw(row.name)
                out.field(bytes: UnsafeBufferPointer(start: scratch.base, count: scratch.count))
            } else {
                out.field(bytes: row.name)
            }
        }
        // The statuses every row of a fate shares.
        let excluded = Manifest.Status.excluded("exclusive access needs a token").text
        let renames = !renameTable.isEmpty
        let count = entryRows.count
        // A duplicate's kept row is anywhere in the rows: it is asked of memory in three steps ahead of
        // its turn (where its row number is, where the row starts, the row), each step's answer there
        // by the next one.
        let ahead = 12
        func prefetch(_ entry: Int) {
            if entry + 3 * ahead < count, fates[entry + 3 * ahead] >= 0 {
                entryRows.withUnsafeBufferPointer { csystem_prefetch($0.baseAddress! + Int(fates[entry + 3 * ahead])) }
            }
            if entry + 2 * ahead < count, fates[entry + 2 * ahead] >= 0 {
                rows.prefetchOffset(Int(entryRows[Int(fates[entry + 2 * ahead])]))
            }
            if entry + ahead < count, fates[entry + ahead] >= 0 {
                rows.prefetchRow(Int(entryRows[Int(fates[entry + ahead])]))
            }
        }
        for entry in 0..<count {
            prefetch(entry)
            let shard = shardOf[entry]
            if shard >= 0 {
                out.number(Int64(shard))
                out.raw(",,,,,")  // URI to Size empty, then the note
                if renames, let renamed = renameTable[entry] {
                    out.field("renamed from \(renamed.from): another product has that name")
                } else {
                    out.byte(UInt8(ascii: ","))
                }
                out.raw(",,\r\n")  // empty Dataset, Kept File, Kept Dataset
            } else {
                rows.withRow(Int(entryRows[entry])) { p in
                    out.byte(UInt8(ascii: ","))
                    out.field(bytes: p.uri)
                    let status: String
                    var kept: Int32 = -1
                    switch fates[entry] {
                    case RowPlan.excluded: status = excluded
                    case RowPlan.unsafe:
                        let problem = SafePath.problem(in: p.filename, what: "file name")
                            ?? (nested ? SafePath.problem(in: p.dataset, what: "dataset") : nil) ?? ""
                        status = Manifest.Status.failed(FileFailure(.unsafePath, "unsafe path: \(problem)")).text
                    case RowPlan.download: status = "CANCELLED"
                    case let first:
                        kept = first
                        status = "DUPLICATE"
                    }
                    // A duplicate names the kept entry's path, file name and dataset: its row, looked up
                    // once (it may be anywhere in the rows).
                    let keptRow = kept >= 0 ? rows.withRow(Int(entryRows[Int(kept)])) { $0 } : nil
                    if let keptRow { pathField(Int(kept), keptRow) } else { pathField(entry, p) }
                    out.field(p.access.rawValue)
                    out.field(status)
                    if let size = p.size, size >= 0 { out.number(size) } else { out.field(p.size.map(String.init) ?? "") }
                    out.byte(UInt8(ascii: ","))
                    out.raw(p.fields.datasetField)
                    out.byte(UInt8(ascii: ","))
                    if let keptRow {
                        out.field(bytes: keptRow.name)
                        out.raw(keptRow.fields.datasetField)
                        out.end(last: true)
                    } else {
                        out.raw(",\r\n")
                    }
                }
            }
            if out.count >= 1 << 20 {
                try file.write(out.bytes)
                out.removeAll()
            }
        }
        try file.write(out.bytes)
    }
}
