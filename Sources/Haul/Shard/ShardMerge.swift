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

/// One ZIP from others: their entries (local header, name, extra fields and data) copied byte for byte,
/// in the kernel where the file system allows, then new entries, then one central directory.
enum ZipConcatenation {
    struct Copied {
        var entries: Int
        var bytes: Int64
        var inKernel: Bool
    }

    /// An entry of an archive's central directory, and how long its local header is.
    struct Listed {
        var entry: ZipEntry
        var localLength: UInt64
    }

    static func write(
        _ path: String, from sources: [String], skipping: Set<String>, trailing: [(String, ((String) -> Void) -> Void)], synchronize: Bool
    ) throws -> Copied {
        let part = path + ".haul-part"
        let out = open(part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard out >= 0 else { throw HaulError(.output, "cannot create \(part): \(String(cString: strerror(errno)))") }
        var closed = false
        defer { if !closed { close(out); unlink(part) } }
        var position: UInt64 = 0
        var directory: [ZipEntry] = []
        var names = Set<String>()
        var copied: Int64 = 0
        var inKernel = true
        for source in sources {
            let fd = open(source, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw HaulError(.output, "cannot open \(source): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            let listed = try list(fd, name: source)
            // Runs of entries next to each other are copied in one call.
            var run: (from: UInt64, length: UInt64)?
            func flush() throws {
                guard let r = run else { return }
                if !(try copyRange(fd, from: r.from, length: r.length, to: out, at: position, source: source, destination: part)) { inKernel = false }
                position += r.length
                copied += Int64(r.length)
                run = nil
            }
            for item in listed where !skipping.contains(item.entry.name) {
                guard names.insert(item.entry.name).inserted else {
                    throw HaulError(.output, "\(source): \(item.entry.name) is in another shard's ZIP too: the shards are not of one plan")
                }
                let length = item.localLength + item.entry.compressedSize
                var entry = item.entry
                if let r = run, r.from + r.length == item.entry.offset {
                    entry.offset = position + r.length
                    run = (r.from, r.length + length)
                } else {
                    try flush()
                    entry.offset = position
                    run = (item.entry.offset, length)
                }
                directory.append(entry)
            }
            try flush()
        }
        // The manifests, deflated, as the last entries.
        let now = Int64(time(nil))
        let deflater = ChunkDeflater(level: 6)
        for (name, produce) in trailing {
            // Made a piece at a time: only the compressed bytes are ever whole in memory.
            var compressed: [UInt8] = []
            let (crc, size) = deflater.deflateText(produce) { buffer, length in
                compressed.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
                PageMemory.free(buffer)
            }
            var entry = ZipEntry(name: name, method: .deflated, crc32: crc, compressedSize: UInt64(compressed.count), uncompressedSize: size, modified: now)
            entry.offset = position
            let bytes = entry.localHeader() + compressed
            try bytes.withUnsafeBytes { try FileIO.pwriteAll(out, $0, at: Int64(position), what: part) }
            position += UInt64(bytes.count)
            directory.append(entry)
        }
        var central: [UInt8] = []
        for entry in directory { central += entry.centralHeader() }
        central += ZipEntry.endRecords(count: UInt64(directory.count), directoryOffset: position, directorySize: UInt64(central.count))
        try central.withUnsafeBytes { try FileIO.pwriteAll(out, $0, at: Int64(position), what: part) }
        if synchronize, fsync(out) != 0 { throw HaulError(.output, "cannot write \(part): \(String(cString: strerror(errno)))") }
        close(out)
        closed = true
        guard rename(part, path) == 0 else {
            let e = errno
            unlink(part)
            throw HaulError(.output, "cannot rename \(part) to \(path): \(String(cString: strerror(e)))")
        }
        return Copied(entries: directory.count, bytes: copied, inKernel: inKernel)
    }

    /// Copies `length` bytes; true when the kernel did it (copy_file_range), false when read and written.
    static func copyRange(_ source: Int32, from: UInt64, length: UInt64, to out: Int32, at: UInt64, source name: String, destination: String) throws -> Bool {
        var inOffset = Int64(from), outOffset = Int64(at)
        var done: UInt64 = 0
        while done < length {
            let n = csystem_copy_file_range(source, &inOffset, out, &outOffset, Int(min(length - done, 1 << 30)))
            if n < 0 {
                if errno == EINTR { continue }
                if [EXDEV, ENOSYS, EINVAL, EOPNOTSUPP].contains(errno) { break }
                throw HaulError(.output, "cannot copy from \(name) to \(destination): \(String(cString: strerror(errno)))")
            }
            if n == 0 { throw HaulError(.output, "\(name) ended before its entries did") }
            done += UInt64(n)
        }
        guard done < length else { return true }
        let size = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        while done < length {
            let want = Int(min(UInt64(size), length - done))
            let (n, e) = FileIO.readAll(source, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: Int64(from + done))
            if e != 0 { throw HaulError(.output, "cannot read \(name): \(String(cString: strerror(e)))") }
            if n < want { throw HaulError(.output, "\(name) ended before its entries did") }
            try FileIO.pwriteAll(out, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), at: Int64(at + done), what: destination)
            done += UInt64(n)
        }
        return false
    }

    /// The central directory of an archive: every entry, its local header's length read from it.
    static func list(_ fd: Int32, name: String) throws -> [Listed] {
        func fail(_ why: String) -> HaulError { HaulError(.output, "\(name): \(why): not a ZIP haul finished") }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw fail("cannot stat") }
        let size = UInt64(st.st_size)
        func read(_ offset: UInt64, _ count: Int) throws -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: count)
            let (n, e) = bytes.withUnsafeMutableBytes { FileIO.readAll(fd, into: $0, at: Int64(offset)) }
            guard e == 0, n == count else { throw fail("cut short") }
            return bytes
        }
        let tailLength = Int(min(size, 22 + 65_535))
        guard tailLength >= 22 else { throw fail("too short") }
        let tail = try read(size - UInt64(tailLength), tailLength)
        var endAt = -1
        var i = tailLength - 22
        while i >= 0 {
            if tail[i] == 0x50, tail[i + 1] == 0x4B, tail[i + 2] == 0x05, tail[i + 3] == 0x06 { endAt = i; break }
            i -= 1
        }
        guard endAt >= 0 else { throw fail("no end of central directory") }
        var r = ByteReader(tail, at: endAt + 10)
        var count = UInt64(r.u16())
        var directorySize = UInt64(r.u32())
        var directoryOffset = UInt64(r.u32())
        let endOffset = size - UInt64(tailLength) + UInt64(endAt)
        if endOffset >= 20 {
            let locator = try read(endOffset - 20, 20)
            var l = ByteReader(locator)
            if l.u32() == ZipFormat.zip64LocatorSignature {
                _ = l.u32()
                let zip64End = l.u64()
                var z = ByteReader(try read(zip64End, 56))
                guard z.u32() == ZipFormat.zip64EndSignature else { throw fail("a bad ZIP64 end record") }
                z.position = 32
                count = z.u64()
                directorySize = z.u64()
                directoryOffset = z.u64()
            }
        }
        guard directoryOffset + directorySize <= size, directorySize < 1 << 34 else { throw fail("a central directory outside the file") }
        let directory = try read(directoryOffset, Int(directorySize))
        var d = ByteReader(directory)
        var listed: [Listed] = []
        listed.reserveCapacity(Int(min(count, 1 << 24)))
        for _ in 0..<count {
            guard d.u32() == ZipFormat.centralSignature else { throw fail("a bad central directory record") }
            _ = d.u16()  // made by
            _ = d.u16()  // needed
            let flags = d.u16()
            let method = d.u16()
            let dosTime = d.u16(), dosDate = d.u16()
            let crc = d.u32()
            var compressed = UInt64(d.u32())
            var uncompressed = UInt64(d.u32())
            let nameLength = Int(d.u16()), extraLength = Int(d.u16()), commentLength = Int(d.u16())
            _ = d.u16(); _ = d.u16(); _ = d.u32()
            var offset = UInt64(d.u32())
            let nameBytes = d.take(nameLength)
            let extra = d.take(extraLength)
            _ = d.take(commentLength)
            var modified = DOSTime.decode(time: dosTime, date: dosDate)
            var e = ByteReader(extra)
            while e.remaining >= 4 {
                let id = e.u16(), length = Int(e.u16())
                let body = e.position
                if id == ZipFormat.zip64ExtraID {
                    if uncompressed == ZipFormat.maxClassic { uncompressed = e.u64() }
                    if compressed == ZipFormat.maxClassic { compressed = e.u64() }
                    if offset == ZipFormat.maxClassic { offset = e.u64() }
                } else if id == ZipFormat.timestampExtraID, length >= 5 {
                    if e.u8() & 1 != 0 { modified = Int64(Int32(bitPattern: e.u32())) }
                }
                e.position = body + length
            }
            guard flags & ZipFormat.dataDescriptorFlag == 0, let kind = ZipEntry.Method(rawValue: method) else {
                throw fail("an entry with a data descriptor or an unknown method")
            }
            var header = ByteReader(try read(offset, 30))
            guard header.u32() == ZipFormat.localSignature else { throw fail("no local header at \(offset)") }
            header.position = 26
            let localLength = UInt64(30 + Int(header.u16()) + Int(header.u16()))
            guard offset + localLength + compressed <= directoryOffset else { throw fail("an entry past the central directory") }
            let entry = ZipEntry(
                name: String(decoding: nameBytes, as: UTF8.self), method: kind, crc32: crc, compressedSize: compressed,
                uncompressedSize: uncompressed, modified: modified, offset: offset, extraFlags: flags & ~ZipFormat.utf8Flag
            )
            listed.append(Listed(entry: entry, localLength: localLength))
        }
        return listed.sorted { $0.entry.offset < $1.entry.offset }
    }
}

