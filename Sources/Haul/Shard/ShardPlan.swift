import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A download split into shards that a cluster's engine (a Slurm job array, a Kubernetes Indexed Job,
/// an AWS Batch array job) runs as independent tasks, one `haul download --shard DIR` each.
///
/// The plan folder holds, relative to it:
/// - `plan.json`: the ``ShardPlan/Record`` (selection, fingerprint of the inputs, shards);
/// - `shards/NNNNN.csv`: each shard's files, as the overlay's CSV export with Haul's `URI,Size,Access`
///   (a catalog `haul download` and `haul select` read), every URI of the whole selection in exactly one;
/// - `rows.csv`: every selected row of the whole plan in catalog order, for the merged manifest: a
///   fetched row names its shard, a duplicate, excluded or unsafe row carries its final status;
/// - the job files (``JobFiles``).
/// Shards write beside their catalogs: `shards/NNNNN.zip` (or into the shared tree), `NNNNN.manifest.csv`,
/// and `status/NNNNN.json` as they go (``ShardStatus``).
package enum ShardPlan {
    /// `plan.json`.
    package struct Record: Codable, Sendable, Hashable {
        package struct Shard: Codable, Sendable, Hashable {
            /// The shard's catalog, relative to the plan folder.
            package var path: String
            package var files: Int
            package var bytes: Int64
        }

        package struct SelectionRecord: Codable, Sendable, Hashable {
            /// The catalogs as named to `haul plan`.
            package var catalogs: [String]
            /// The selector options as given, in order (`--quick recommended`, `--level 2b`…).
            package var arguments: [String]
            /// Selected rows, unique files among them and their stated bytes, duplicates, excluded and unsafe rows.
            package var rows: Int
            package var files: Int
            package var bytes: Int64
            package var duplicates: Int
            package var excluded: Int
            package var unsafe: Int
        }

        /// `haul-plan 1`.
        package var format: String
        /// The top folder every path is under (the ZIP's `ROOT/`, or a folder of the tree).
        package var root: String
        package var layout: String
        /// `zip` (one ZIP per shard under `shards/`, merged by `haul merge`) or `dir` (one shared tree).
        package var output: String
        /// The shared tree's folder (`output` `dir`): absolute, or relative to the plan folder.
        package var tree: String?
        /// The archive `mast:` URIs resolve against, and the mission of missions-search URIs.
        package var archive: String
        package var mission: String
        package var compression: String
        package var compressionLevel: Int
        package var selection: SelectionRecord
        /// FNV-1a (64 bits) over every catalog's name, length and CRC-32, the selector arguments, the
        /// layout, the root and the shard count: a plan made from other inputs has another.
        package var fingerprint: String
        /// The whole job's concurrent transfers, the shards that run at once, and each shard's share.
        package var parallel: Int
        package var concurrent: Int
        package var parallelPerShard: Int
        package var shards: [Shard]

        /// The shard file names' digits: 5, or more for a bigger plan.
        package var width: Int { max(5, String(max(0, shards.count - 1)).count) }
    }

    package static let format = "haul-plan 1"

    /// What ``write(_:to:options:)`` needs besides the plan.
    package struct Options: Sendable {
        package var shards: Int
        /// The whole job's concurrent transfers (`--parallel`).
        package var parallel: Int = 64
        /// Shards running at once (`--concurrent`); `nil`: all of them, up to `parallel`.
        package var concurrent: Int?
        /// A shared tree instead of a ZIP per shard.
        package var tree: String?
        package var archive: URLResolver
        package var compression = DownloadTarget.Compression()
        package var catalogs: [String] = []
        package var arguments: [String] = []
        /// The fingerprint of the inputs (``fingerprint(catalogs:extra:)``).
        package var fingerprint: String = ""

        package init(shards: Int, archive: URLResolver) {
            self.shards = shards
            self.archive = archive
        }
    }

    /// The file names of shard `index` under `shards/`.
    package static func name(_ index: Int, width: Int) -> String {
        let digits = String(index)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    // MARK: Balance

    /// Assigns each fetched entry (by its index in `sizes`) to a shard: largest first (ties in catalog
    /// order) to the shard holding the fewest bytes, then the fewest files, then the lowest index. The
    /// result depends on the sizes and their order only, so the same inputs give the same shards on any
    /// machine; the biggest shard holds at most the mean plus the largest file.
    package static func balance(sizes: [Int64], shards: Int) -> [Int32] {
        precondition(shards >= 1 && sizes.count < Int(Int32.max))
        let (order, keys) = largestFirst(sizes)
        var assignment = [Int32](repeating: 0, count: sizes.count)
        // A binary min-heap of shards by (bytes, files, index), each shard one number that orders as that
        // triple: its bytes (never negative) in the high 64 bits, its files and index (each below 2^31)
        // below. One comparison of numbers, not of three arrays' elements, at each step of a sift.
        var heap = (0..<shards).map { UInt128($0) }
        heap.withUnsafeMutableBufferPointer { heap in
            for (k, item) in order.enumerated() {
                let top = heap[0]
                let shard = Int(truncatingIfNeeded: top & 0xFFFF_FFFF)
                assignment[Int(item)] = Int32(shard)
                let bytes = Int64(truncatingIfNeeded: UInt64(truncatingIfNeeded: top >> 64)).addingSize(max(0, size(ofKey: keys[k])))
                let files = (top >> 32) & 0xFFFF_FFFF + 1
                let moved = UInt128(UInt64(bytes)) << 64 | files << 32 | UInt128(shard)
                // Sift the root down.
                var i = 0
                while true {
                    let l = 2 * i + 1
                    guard l < shards else { break }
                    var child = l
                    if l + 1 < shards, heap[l + 1] < heap[l] { child = l + 1 }
                    guard heap[child] < moved else { break }
                    heap[i] = heap[child]
                    i = child
                }
                heap[i] = moved
            }
        }
        return assignment
    }

    /// The indices of `sizes`, largest size first, equal sizes in index order: one order for any input.
    ///
    /// A stable radix sort, a byte of the size at a time from the lowest, on a key that orders sizes
    /// from the largest down: equal keys keep the index order they start in. Sorting indices with a
    /// comparison sent each comparison to two random places among ten million sizes; sorting (size,
    /// index) pairs with one took a second at seven million. Here each pass reads and writes in order,
    /// and a byte that every size shares (the high ones, for sizes under a terabyte) is skipped.
    ///
    /// - Returns: The indices, and the sort keys in the same order (``size(ofKey:)`` gives the sizes back).
    static func largestFirst(_ sizes: [Int64]) -> (order: [Int32], keys: [UInt64]) {
        let n = sizes.count
        // Descending signed order as ascending unsigned order: flip the sign bit, then every bit.
        var keys = sizes.map { ~(UInt64(bitPattern: $0) ^ 0x8000_0000_0000_0000) }
        var order = (0..<n).map { Int32($0) }
        var keysOut = [UInt64](repeating: 0, count: n)
        var orderOut = [Int32](repeating: 0, count: n)
        var counts = [Int](repeating: 0, count: 256)
        for shift in stride(from: UInt64(0), to: 64, by: 8) {
            for b in counts.indices { counts[b] = 0 }
            for key in keys { counts[Int((key >> shift) & 0xFF)] += 1 }
            if counts.contains(n) { continue }
            var start = 0
            for b in counts.indices {
                let c = counts[b]
                counts[b] = start
                start += c
            }
            for i in 0..<n {
                let b = Int((keys[i] >> shift) & 0xFF)
                keysOut[counts[b]] = keys[i]
                orderOut[counts[b]] = order[i]
                counts[b] += 1
            }
            swap(&keys, &keysOut)
            swap(&order, &orderOut)
        }
        return (order, keys)
    }

    /// The size a ``largestFirst(_:)`` key was made from.
    static func size(ofKey key: UInt64) -> Int64 { Int64(bitPattern: ~key ^ 0x8000_0000_0000_0000) }

    // MARK: Fingerprint

    /// FNV-1a 64 over each catalog's name, byte length and CRC-32 (``fileCRC(_:)``), and `extra`.
    package static func fingerprint(files: [(name: String, length: Int64, crc: UInt32)], extra: [String]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ bytes: some Sequence<UInt8>) {
            for b in bytes { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
            hash = (hash ^ 0xFF) &* 0x0000_0100_0000_01B3
        }
        for file in files {
            mix(file.name.utf8)
            mix(String(file.length).utf8)
            mix(String(file.crc, radix: 16).utf8)
        }
        for word in extra { mix(word.utf8) }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// A file's length and CRC-32, read a megabyte at a time (the file is not held).
    package static func fileCRC(_ path: String) throws -> (length: Int64, crc: UInt32) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HaulError(.invalidCatalog, "\(path): cannot read: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let size = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        var crc: UInt32 = 0
        var length: Int64 = 0
        while true {
            let (n, e) = FileIO.readAll(fd, into: buffer, at: length)
            if e != 0 { throw HaulError(.invalidCatalog, "\(path): cannot read: \(String(cString: strerror(e)))") }
            if n == 0 { break }
            crc = CRC32.of(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), continuing: crc)
            length += Int64(n)
        }
        return (length, crc)
    }

    /// Creates the shared tree's folder (`haul plan --dir`), so that its absolute path can be recorded.
    package static func makeFolderForTree(_ path: String) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue {
            throw HaulError(.outputPath, "--dir \(path): a file is there; name a folder")
        }
        try makeFolder(path)
    }

    // MARK: Writing

    /// The plan record before its shards, and the folder made ready for them: both writers' first steps.
    /// A plan written again over one from other inputs loses the old shards' outputs, which belong to
    /// other shards now; the same inputs give the same shards, so their outputs stay.
    static func startRecord(
        root: String, layout: Plan.Layout, rows: Int, summary: Plan.Summary, folder: String, options: Options
    ) throws -> Record {
        let n = options.shards
        let concurrent = min(n, max(1, options.concurrent ?? min(n, options.parallel)))
        let perShard = max(1, options.parallel / concurrent)
        let record = Record(
            format: format, root: root, layout: layout.rawValue, output: options.tree == nil ? "zip" : "dir",
            tree: options.tree, archive: options.archive.archive, mission: options.archive.mission.rawValue,
            compression: options.compression.mode.rawValue, compressionLevel: options.compression.level,
            selection: .init(
                catalogs: options.catalogs, arguments: options.arguments, rows: rows,
                files: summary.selectedFiles, bytes: summary.selectedBytes, duplicates: summary.duplicates,
                excluded: summary.excludedExclusive, unsafe: summary.unsafe
            ),
            fingerprint: options.fingerprint, parallel: options.parallel, concurrent: concurrent, parallelPerShard: perShard,
            shards: []
        )
        for path in [folder, folder + "/shards", folder + "/status", folder + "/logs"] { try makeFolder(path) }
        if (try? read(folder))?.fingerprint != options.fingerprint || options.fingerprint.isEmpty {
            try removeStale(folder: folder, keeping: n, width: record.width)
        }
        return record
    }

    /// Writes the plan folder: `plan.json`, `shards/*.csv`, `rows.csv` (job files are ``JobFiles``').
    ///
    /// From a ``Plan``, which holds the catalog's products: for a program that has one. `haul plan` keeps
    /// only what shards need (``plan(catalogs:selection:layout:root:authorized:)``, then
    /// ``write(_:to:options:)`` of a ``RowPlan``), which writes the same bytes; the tests hold the two to that.
    ///
    /// - Throws: ``HaulError`` `invalidArgument` when nothing is fetched; `output` when a file cannot be written.
    @discardableResult
    package static func write(_ plan: Plan, to folder: String, options: Options) throws -> Record {
        let downloads = plan.downloads
        guard !downloads.isEmpty else { throw HaulError(.invalidArgument, "nothing is selected to fetch: no shard to plan") }
        let n = options.shards
        // The catalog's products, read in place: an entry's `product` is a copy of the whole struct
        // (a retain of each of its strings), which at ten million rows costs more than the rest.
        let products = plan.entries[0].source.products
        let sizes = downloads.map { i -> Int64 in
            let entry = plan.entries[i]
            return max(0, (entry.edits?.product != nil ? entry.product.size : products[entry.row].size) ?? 0)
        }
        let assignment = balance(sizes: sizes, shards: n)
        // Fetched entries grouped by shard, catalog order inside each (a counting sort).
        var start = [Int](repeating: 0, count: n + 1)
        for s in assignment { start[Int(s) + 1] += 1 }
        for s in 0..<n { start[s + 1] += start[s] }
        var fill = start
        var grouped = [Int32](repeating: 0, count: downloads.count)
        for (k, s) in assignment.enumerated() {
            grouped[fill[Int(s)]] = Int32(k)
            fill[Int(s)] += 1
        }
        var record = try startRecord(
            root: plan.root, layout: plan.layout, rows: plan.entries.count, summary: plan.summary, folder: folder, options: options
        )
        let width = record.width
        var shardOf = [Int32](repeating: -1, count: plan.entries.count)
        for s in 0..<n {
            var out = CSVBytes()
            out.header(Catalog.overlayColumns + Catalog.exportColumns)
            var bytes: Int64 = 0
            for g in start[s]..<start[s + 1] {
                let index = downloads[Int(grouped[g])]
                shardOf[index] = Int32(s)
                let entry = plan.entries[index]
                let edited = entry.edits != nil
                let p = edited ? entry.product : products[entry.row]
                bytes = bytes.addingSize(p.size)
                // The entry's final path (a renamed one too), so the shard's own plan, which does not see
                // the other shards' names, gives it again.
                if edited {
                    let (folderPart, name) = Plan.split(entry.path)
                    out.field(plan.layout == .nested ? String(folderPart.dropLast()) : p.dataset)
                    out.field(plan.layout == .nested ? name : entry.path)
                } else {
                    out.field(p.dataset)
                    out.field(p.filename)
                }
                out.field(p.level ?? "")
                out.field(p.suffix.map { "_" + $0.lowercased() } ?? "")
                out.field(p.instrument ?? "")
                out.field(p.filters ?? "")
                out.field(p.uri)
                out.number(p.size)
                out.field(p.access.rawValue, last: true)
            }
            let path = "shards/\(name(s, width: width)).csv"
            try out.write(to: folder + "/" + path)
            record.shards.append(.init(path: path, files: start[s + 1] - start[s], bytes: bytes))
        }
        try writeRows(plan, shardOf: shardOf, to: folder + "/rows.csv")
        try writeJSON(record, to: folder + "/plan.json")
        return record
    }

    /// The columns of `rows.csv`.
    static let rowColumns = ["Shard", "URI", "File", "Access", "Status", "Size", "Note", "Dataset", "Kept File", "Kept Dataset"]

    /// `rows.csv`: a fetched row is its shard and its note (its other fields come from the shard's
    /// manifest, whose rows are in the same order); any other row is whole.
    static func writeRows(_ plan: Plan, shardOf: [Int32], to path: String) throws {
        var out = CSVBytes()
        out.header(rowColumns)
        let file = try OutputFile(path)
        for (index, entry) in plan.entries.enumerated() {
            let note = entry.edits == nil ? "" : entry.renamedFrom.map { "renamed from \($0): another product has that name" } ?? ""
            if shardOf[index] >= 0 {
                out.number(Int64(shardOf[index]))
                out.bytes.append(contentsOf: [44, 44, 44, 44, 44])  // URI to Size empty, then the note
                out.field(note)
                out.bytes.append(contentsOf: [44, 44, 13, 10])  // the note's comma, then empty Dataset, Kept File, Kept Dataset
            } else {
                let p = entry.product
                var status = "", keptFile = "", keptDataset = "", file = entry.path
                switch entry.disposition {
                case .duplicate(let first):
                    let kept = plan.entries[first]
                    file = kept.path
                    keptFile = kept.product.filename
                    keptDataset = kept.product.dataset
                    status = "DUPLICATE"
                case .excluded(let reason): status = Manifest.Status.excluded(reason).text
                case .unsafe(let problem): status = Manifest.Status.failed(FileFailure(.unsafePath, "unsafe path: \(problem)")).text
                case .download: status = "CANCELLED"
                }
                out.row(["", p.uri, file, p.access.rawValue, status, p.size.map(String.init) ?? "", note, p.dataset, keptFile, keptDataset])
            }
            if out.bytes.count >= 1 << 20 { try file.write(out.bytes); out.bytes.removeAll(keepingCapacity: true) }
        }
        try file.write(out.bytes)
    }

    /// Reads `plan.json` of a plan folder.
    ///
    /// - Throws: ``HaulError`` `invalidArgument` naming the file and what is wrong.
    package static func read(_ folder: String) throws -> Record {
        let path = folder + "/plan.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HaulError(.invalidArgument, "\(path): no plan there (haul plan CATALOG… --shards N --out \(folder) writes one)")
        }
        let record: Record
        do {
            record = try JSONDecoder().decode(Record.self, from: data)
        } catch {
            throw HaulError(.invalidArgument, "\(path): not a plan haul plan wrote: \(error)")
        }
        guard record.format == format else {
            throw HaulError(.invalidArgument, "\(path): format \"\(record.format)\", expected \"\(format)\" (plan it again with this haul)")
        }
        guard !record.shards.isEmpty else { throw HaulError(.invalidArgument, "\(path): the plan lists no shards") }
        return record
    }

    static func writeJSON(_ value: some Encodable, to path: String, synchronize: Bool = true) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(value)
        data.append(0x0A)
        try FileReplacement.write(path, Array(data), synchronize: synchronize)
    }

    static func makeFolder(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw HaulError(.output, "cannot create the folder \(path): \(error.localizedDescription)")
        }
    }

    /// Removes what shards of an earlier plan in this folder left: their catalogs, outputs and status.
    static func removeStale(folder: String, keeping n: Int, width: Int) throws {
        for sub in ["shards", "status"] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/" + sub)) ?? []
            for name in names {
                let stem = name.prefix { $0 != "." }
                if let index = Int(stem), stem.count == width, index < n, name.hasSuffix(".csv"), sub == "shards" { continue }
                unlink(folder + "/" + sub + "/" + name)
            }
        }
        unlink(folder + "/manifest.csv")
        unlink(folder + "/manifest.html")
    }
}

