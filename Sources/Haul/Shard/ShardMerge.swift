import CHaulSystem
import CZlib
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `haul merge`: one manifest over every shard of a plan, in the whole selection's catalog order (as
/// one machine's run writes it), and for ZIP shards one ZIP made of their entries' bytes as they are.
package enum ShardMerge {
    package struct Result: Sendable {
        package var manifest: Manifest
        /// Fetched files that are not complete (failed, or their shard never finished): `PATH: reason`.
        package var missing: [String]
        /// The merged ZIP (nil for a tree) and what its entries' bytes took to copy.
        package var zip: String?
        package var entries = 0
        package var bytesCopied: Int64 = 0
        package var seconds: Double = 0
        /// Copied in the kernel (`copy_file_range`), rather than read and written.
        package var inKernel = true
    }

    /// Merges the shards of the plan in `folder`.
    ///
    /// - Parameters:
    ///   - zip: The merged ZIP's path (ZIP shards only); `nil`: `FOLDER/ROOT.zip`.
    ///   - synchronize: fsync the outputs.
    /// - Throws: ``HaulError`` `invalidArgument` for a plan folder that cannot be read; `output` when
    ///   an output cannot be written or a shard's ZIP is not one Haul finished.
    package static func merge(_ folder: String, zip: String? = nil, synchronize: Bool = true) throws -> Result {
        let record = try ShardPlan.read(folder)
        let width = record.width
        let layout = Plan.Layout(rawValue: record.layout) ?? .nested
        // Each shard's rows: its manifest when it finished, else its catalog (nothing fetched).
        var shardRows: [[Manifest.Row]] = []
        var finished: [Bool] = []
        for (index, shard) in record.shards.enumerated() {
            let stem = folder + "/shards/" + ShardPlan.name(index, width: width)
            if let data = FileManager.default.contents(atPath: stem + ".manifest.csv") {
                shardRows.append(try readManifest(String(decoding: data, as: UTF8.self), name: stem + ".manifest.csv"))
                finished.append(true)
            } else {
                guard let data = FileManager.default.contents(atPath: folder + "/" + shard.path) else {
                    throw HaulError(.invalidArgument, "\(folder)/\(shard.path): the shard's catalog is missing")
                }
                let products = try Catalog.parse(data, name: shard.path)
                let why = "not fetched: shard \(index) has not finished (run it again: haul download --shard \(folder) --shard-index \(index))"
                shardRows.append(products.map { p in
                    Manifest.Row(
                        uri: p.uri, file: layout == .nested ? "\(p.dataset)/\(p.filename)" : p.filename, access: p.access,
                        status: .failed(FileFailure(.other, why)), user: "anonymous", size: p.size, attempts: 0, seconds: 0, note: "", dataset: p.dataset
                    )
                })
                finished.append(false)
            }
            guard shardRows[index].count == shard.files else {
                throw HaulError(.invalidArgument, "\(stem).manifest.csv: \(shardRows[index].count) rows, but the plan gives the shard \(shard.files) files")
            }
        }
        // For ZIP shards, what each shard's ZIP holds: a row its manifest says OK whose entry is not
        // there (the ZIP removed or replaced since) is missing, not merged.
        var held: [Set<String>?] = Array(repeating: nil, count: record.shards.count)
        if record.output == "zip" {
            for index in record.shards.indices where finished[index] {
                let path = folder + "/shards/" + ShardPlan.name(index, width: width) + ".zip"
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { held[index] = []; continue }
                defer { close(fd) }
                held[index] = Set(try ZipConcatenation.list(fd, name: path).map(\.entry.name))
            }
        }
        let authenticated = shardRows.contains { $0.contains { $0.authenticated } }
        let user = shardRows.lazy.compactMap { $0.first { $0.user != "anonymous" }?.user }.first ?? "anonymous"
        // The whole selection's rows in catalog order.
        guard let rowsData = FileManager.default.contents(atPath: folder + "/rows.csv") else {
            throw HaulError(.invalidArgument, "\(folder)/rows.csv: missing (plan again with haul plan)")
        }
        let records = try CSVReader.records(String(decoding: rowsData, as: UTF8.self), name: "rows.csv")
        guard records.first?.fields == ShardPlan.rowColumns else {
            throw HaulError(.invalidArgument, "\(folder)/rows.csv:1: expected the header \(ShardPlan.rowColumns.joined(separator: ","))")
        }
        var next = [Int](repeating: 0, count: record.shards.count)
        var rows: [Manifest.Row] = []
        rows.reserveCapacity(records.count - 1)
        var missing: [String] = []
        for (line, raw) in records.dropFirst() {
            let f = raw.map(CSVReader.unguard)
            guard f.count == ShardPlan.rowColumns.count else {
                throw HaulError(.invalidArgument, "\(folder)/rows.csv:\(line): expected \(ShardPlan.rowColumns.count) fields, found \(f.count)")
            }
            if let shard = Int(f[0]) {
                guard shard < record.shards.count, next[shard] < shardRows[shard].count else {
                    throw HaulError(.invalidArgument, "\(folder)/rows.csv:\(line): shard \(f[0]) has no such row")
                }
                var row = shardRows[shard][next[shard]]
                next[shard] += 1
                if row.status == .ok, let names = held[shard], !names.contains(record.root + "/" + row.file) {
                    row.status = .failed(FileFailure(.other, "not in shard \(shard)'s ZIP (\(ShardPlan.name(shard, width: width)).zip): run the shard again"))
                    row.crc32 = nil
                }
                if !f[6].isEmpty, row.note.isEmpty { row.note = f[6] }
                switch row.status {
                case .ok: break
                case .failed(let reason): missing.append("\(row.file): \(reason)")
                case .cancelled: missing.append("\(row.file): CANCELLED")
                default: missing.append("\(row.file): \(row.statusText)")
                }
                rows.append(row)
            } else {
                let status: Manifest.Status
                switch f[4] {
                case "DUPLICATE": status = .duplicate(file: f[8], dataset: f[9])
                case let text where text.hasPrefix("EXCLUDED: "): status = .excluded(String(text.dropFirst(10)))
                case let text where text.hasPrefix("FAILED: "): status = .failed(FileFailure.readBack(String(text.dropFirst(8))))
                default: status = .cancelled
                }
                rows.append(Manifest.Row(
                    uri: f[1], file: f[2], access: Product.Access(parsing: f[3]) ?? .public, status: status, user: user,
                    size: Int64(f[5]), attempts: 0, seconds: 0, note: f[6], dataset: f[7], authenticated: authenticated
                ))
            }
        }
        if record.output == "dir" {
            // A file kept from a run that ended before writing its manifest (kill -9) has no CRC-32 on
            // record: read it from the tree, as the manifest of one machine's run states every file's.
            let tree = record.tree.map { $0.hasPrefix("/") ? $0 : folder + "/" + $0 } ?? folder
            for i in rows.indices where rows[i].status == .ok && rows[i].crc32 == nil {
                if let (length, crc) = try? ShardPlan.fileCRC(tree + "/" + rows[i].file), length == rows[i].size ?? length {
                    rows[i].crc32 = crc
                }
            }
        }
        let manifest = Manifest(rows: rows)
        var result = Result(manifest: manifest, missing: missing)
        try FileReplacement.write(folder + "/manifest.csv", synchronize: true, pieces: manifest.csv)
        try FileReplacement.write(folder + "/manifest.html", synchronize: true) { manifest.html(title: record.root, $0) }
        if record.output == "dir" {
            // The tree's own manifest, as a one-machine run into it writes.
            let tree = record.tree.map { $0.hasPrefix("/") ? $0 : folder + "/" + $0 } ?? folder
            try FileReplacement.write(tree + "/manifest.csv", synchronize: true, pieces: manifest.csv)
            try FileReplacement.write(tree + "/manifest.html", synchronize: true) { manifest.html(title: record.root, $0) }
            return result
        }
        let path = zip ?? folder + "/" + record.root + ".zip"
        var sources: [String] = []
        for index in record.shards.indices where finished[index] {
            let shardZip = folder + "/shards/" + ShardPlan.name(index, width: width) + ".zip"
            if FileManager.default.fileExists(atPath: shardZip) { sources.append(shardZip) }
        }
        let start = ShardStatus.now()
        let copy = try ZipConcatenation.write(
            path, from: sources, skipping: [record.root + "/manifest.html", record.root + "/manifest.csv"],
            trailing: [
                (record.root + "/manifest.html", { manifest.html(title: record.root, $0) }),
                (record.root + "/manifest.csv", { manifest.csv($0) }),
            ],
            synchronize: synchronize
        )
        result.zip = path
        result.entries = copy.entries
        result.bytesCopied = copy.bytes
        result.inKernel = copy.inKernel
        result.seconds = ShardStatus.now() - start
        return result
    }

    /// A shard's manifest CSV, every column, back into rows.
    static func readManifest(_ text: String, name: String) throws -> [Manifest.Row] {
        let records = try CSVReader.records(text, name: name)
        guard let header = records.first?.fields, header == Manifest.columns else {
            throw HaulError(.invalidArgument, "\(name):1: expected a manifest's header \(Manifest.columns.joined(separator: ","))")
        }
        return try records.dropFirst().map { line, raw in
            let f = raw.map(CSVReader.unguard)
            guard f.count == header.count else { throw HaulError(.invalidArgument, "\(name):\(line): expected \(header.count) fields, found \(f.count)") }
            var authenticated = false
            let status: Manifest.Status
            let text = f[3]
            if text == "OK" { status = .ok }
            else if text.hasSuffix(" ... SUCCESS") { status = .ok; authenticated = true }
            else if text.hasPrefix("FAILED: ") { status = .failed(FileFailure.readBack(String(text.dropFirst(8)))) }
            else if text.hasPrefix("EXCLUDED: ") { status = .excluded(String(text.dropFirst(10))) }
            else if text == "CANCELLED" { status = .cancelled }
            else { status = .failed(FileFailure.readBack(text)) }
            var dataset = ""
            if authenticated, let range = text.range(of: " associated with ") {
                dataset = String(text[range.upperBound...].dropLast(" ... SUCCESS".count))
            }
            return Manifest.Row(
                uri: f[0], file: f[1], access: Product.Access(parsing: f[2]) ?? .public, status: status, user: f[4],
                size: Int64(f[5]), crc32: f[6].count == 8 ? UInt32(f[6], radix: 16) : nil,
                lastModified: f[7].isEmpty ? nil : HTTPDate.parse(f[7]), etag: f[8].isEmpty ? nil : f[8],
                attempts: Int(f[9]) ?? 0, seconds: Double(f[10]) ?? 0, note: f[11], dataset: dataset, authenticated: authenticated
            )
        }
    }
}
