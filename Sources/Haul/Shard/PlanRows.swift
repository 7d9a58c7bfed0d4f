import CHaulSystem
import Foundation

/// Every row of a plan's catalogs as `haul plan` keeps it: per product only what planning shards and
/// writing their files need, about 70 bytes a row where a ``Product`` costs about 400 with its strings.
///
/// Why this shape: `haul plan` on ten million rows held every ``Product`` as `haul download` does, 4.7 GiB.
/// Sharding needs much less, so a catalog reader hands each product here as soon as it has made it
/// (``Catalog/loadPlanRows(paths:selection:)``), and the product is dropped; a JSON list's CAOM rows
/// make no product at all, but come here straight from the bytes (``appendCAOM(_:parser:details:)``,
/// PlanRows+CAOM.swift) to the same effect:
/// - what needs the whole product is decided at once, on the reader's thread (so on both threads that
///   read a big JSON list): the selection's verdict (``Selection/Rules``), whether its name or dataset
///   is unsafe, the values `checkValues` needs (``Selection/Vocabulary``), a guide star's exposure;
/// - what is written later is kept as bytes: the URI, the file name (nothing when it is the URI's last
///   part, as MAST's names are), the size, and the fields every row of a dataset shares (dataset,
///   level, suffix, instrument, filters), each distinct combination once per chunk.
/// The rows live in chunks of a few megabytes, each written by one thread in catalog order; a row is
/// found by its index (``withRow(_:_:)``). Once read, each chunk's shared fields become the bytes the
/// shard files write (``seal()``). Decisions that depend on other rows (duplicates, name collisions,
/// the guide-star rule, the shards) are ``ShardPlan/RowPlan``'s, afterwards.
///
/// A `PlanRows` is filled by one thread; the rows a second thread read are handed over whole
/// (``append(contentsOf:)``) once it has finished, through ``RowsAhead``'s semaphore.
final class PlanRows: @unchecked Sendable {
    /// What a row says of its product, one bit each.
    struct Flags: OptionSet {
        let rawValue: UInt8
        static let exclusive = Flags(rawValue: 1 << 0)
        /// The quick set or a box takes it (``Selection/Rules/takes(_:)``).
        static let taken = Flags(rawValue: 1 << 1)
        /// The regex, `--where` and `--extension` keep it (``Selection/Rules/keeps(_:)``).
        static let kept = Flags(rawValue: 1 << 2)
        static let guideStar = Flags(rawValue: 1 << 3)
        /// The file name is the URI's last `/` part, and is not stored again.
        static let nameFromURI = Flags(rawValue: 1 << 4)
        static let hasSize = Flags(rawValue: 1 << 5)
        /// ``SafePath/problem(in:what:)`` finds a problem in the file name, in the dataset.
        static let unsafeName = Flags(rawValue: 1 << 6)
        static let unsafeDataset = Flags(rawValue: 1 << 7)
    }

    /// The fields the rows of one dataset share, as the shard files write them: `level`, `instrument`
    /// and `filters` empty when unknown, `suffix` as the export's `_cal` (empty when none).
    struct Shared: Hashable {
        let dataset: String
        let level: String
        let suffix: String
        let instrument: String
        let filters: String
        /// A quick hash of the five strings' bytes, made once: a chunk's table of these is looked up
        /// for most rows of a list whose observations have few rows each, and grows by rehashing.
        let quickHash: UInt64

        /// `p`'s, as the shard files write them.
        init(_ p: Product) {
            self.init(product: p.dataset, level: p.level, suffix: p.suffix, instrument: p.instrument, filters: p.filters)
        }

        /// A product's fields (``Product/dataset`` …), as the shard files write them.
        init(product dataset: String, level: String?, suffix: String?, instrument: String?, filters: String?) {
            self.dataset = dataset
            self.level = level ?? ""
            self.suffix = suffix.map { "_" + $0.lowercased() } ?? ""
            self.instrument = instrument ?? ""
            self.filters = filters ?? ""
            var h = Self.hash(self.dataset)
            h = (h ^ Self.hash(self.level)) &* 0xFF51_AFD7_ED55_8CCD
            h = (h ^ Self.hash(self.suffix)) &* 0xFF51_AFD7_ED55_8CCD
            h = (h ^ Self.hash(self.instrument)) &* 0xFF51_AFD7_ED55_8CCD
            h = (h ^ Self.hash(self.filters)) &* 0xFF51_AFD7_ED55_8CCD
            quickHash = h
        }

        static func == (a: Shared, b: Shared) -> Bool {
            a.quickHash == b.quickHash && a.dataset == b.dataset && a.level == b.level && a.suffix == b.suffix
                && a.instrument == b.instrument && a.filters == b.filters
        }

        func hash(into hasher: inout Hasher) { hasher.combine(quickHash) }

        /// A quick hash of a string's UTF-8.
        static func hash(_ text: String) -> UInt64 {
            var text = text
            return text.withUTF8 { bytes in
                let h = ByteHash.mix(ByteHash.seed ^ UInt64(bytes.count), bytes.baseAddress, bytes.count)
                return h ^ h >> 29
            }
        }
    }

    /// The shared fields of a ``Shared`` as the shard files write them, made once for all its rows
    /// (``seal()``): the dataset's UTF-8 and its CSV field, and the CSV fields of the level, suffix,
    /// instrument and filters, each with its comma. The bytes are their chunk's (``Chunk/sealed``).
    struct SharedBytes {
        var dataset: UnsafeBufferPointer<UInt8>
        var datasetField: UnsafeBufferPointer<UInt8>
        var middle: UnsafeBufferPointer<UInt8>
    }

    /// One row, valid while the ``PlanRows`` lives (its bytes are in a chunk that never moves).
    struct Row {
        let flags: Flags
        /// The chunk it is in (alive while the rows are), and the index of its shared fields there.
        unowned(unsafe) let chunk: Chunk
        let sharedIndex: Int
        let uri: UnsafeBufferPointer<UInt8>
        let name: UnsafeBufferPointer<UInt8>
        let size: Int64?

        /// Once sealed (``seal()``), as all that follows.
        var fields: SharedBytes { chunk.sealed![sharedIndex] }
        var dataset: String { String(decoding: fields.dataset, as: UTF8.self) }

        var access: Product.Access { flags.contains(.exclusive) ? .exclusive : .public }
        var uriString: String { String(decoding: uri, as: UTF8.self) }
        var filename: String { String(decoding: name, as: UTF8.self) }
    }

    /// A guide star's exposure and level rank, for the rule that takes the highest level of each
    /// (``Selection/highestGuideStars(_:)``); kept only when `--guidestar` is given.
    struct GuideStar {
        var row: Int
        var exposure: String
        var rank: Int
    }

    /// Rows in one block of memory that never moves, so a row's bytes can be pointed at.
    final class Chunk {
        static let capacity = 4 << 20
        let base: UnsafeMutablePointer<UInt8>
        let capacity: Int
        // Unchecked: a chunk is written by one thread, and read only once written (as every var here).
        @exclusivity(unchecked) var used = 0
        /// Where each row starts.
        @exclusivity(unchecked) var offsets: [UInt32] = []
        @exclusivity(unchecked) var shared: [Shared] = []
        /// While the chunk is written: each combination's index in ``shared``.
        @exclusivity(unchecked) var sharedIndex: [Shared: Int] = [:]
        /// Once sealed: each of ``shared`` as the shard files write it, its bytes in ``sealedBytes``.
        @exclusivity(unchecked) var sealed: UnsafeMutablePointer<SharedBytes>?
        @exclusivity(unchecked) var sealedBytes: UnsafeMutablePointer<UInt8>?

        init(capacity: Int) {
            self.capacity = capacity
            base = .allocate(capacity: capacity)
        }

        deinit {
            base.deallocate()
            sealed?.deallocate()
            sealedBytes?.deallocate()
        }

        /// Makes ``sealed``, and drops ``shared``: pointers, not arrays, so that reading a row's shared
        /// fields retains nothing; bytes, not strings, as the files write them (a dataset's CSV field
        /// is its bytes, not a copy, when it needs no quotes).
        func seal() {
            guard sealed == nil else { return }
            // Every combination's bytes into one array (offsets noted), then into the block once.
            var csv = CSVBytes()
            csv.bytes.reserveCapacity(shared.count * 64)
            var spans: [Int] = []
            spans.reserveCapacity(shared.count * 5)
            for s in shared {
                let d0 = csv.bytes.count
                csv.bytes.append(contentsOf: s.dataset.utf8)
                let d1 = csv.bytes.count
                csv.append(s.dataset)
                var (f0, f1) = (d1, csv.bytes.count)
                if csv.bytes[d0..<d1].elementsEqual(csv.bytes[f0..<f1]) {
                    // The field is the dataset's bytes: not kept twice.
                    csv.bytes.removeSubrange(f0..<f1)
                    (f0, f1) = (d0, d1)
                }
                let m0 = csv.bytes.count
                csv.field(s.level)
                csv.field(s.suffix)
                csv.field(s.instrument)
                csv.field(s.filters)
                spans += [d0, d1, f0, f1, m0]
            }
            let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, csv.bytes.count))
            csv.bytes.withUnsafeBufferPointer { if let b = $0.baseAddress { bytes.update(from: b, count: $0.count) } }
            let table = UnsafeMutablePointer<SharedBytes>.allocate(capacity: max(1, shared.count))
            for i in shared.indices {
                let end = i + 1 < shared.count ? spans[5 * (i + 1)] : csv.bytes.count
                func part(_ from: Int, _ to: Int) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: bytes + from, count: to - from) }
                (table + i).initialize(to: SharedBytes(
                    dataset: part(spans[5 * i], spans[5 * i + 1]), datasetField: part(spans[5 * i + 2], spans[5 * i + 3]),
                    middle: part(spans[5 * i + 4], end)
                ))
            }
            sealed = table
            sealedBytes = bytes
            shared = []
        }
    }

    let rules: Selection.Rules
    let guideStarRule: Bool
    // The vars are unchecked for exclusive access (a check costs more than the rest of a row's work): a
    // `PlanRows` is written by one thread, and read once written, and no access to one overlaps another.
    @exclusivity(unchecked) private(set) var chunks: [Chunk] = []
    /// The index of each chunk's first row.
    @exclusivity(unchecked) private(set) var firstRows: [Int] = []
    @exclusivity(unchecked) private(set) var count = 0
    /// How many of them were read straight from a JSON list's CAOM rows, without a product (for tests).
    @exclusivity(unchecked) var directRows = 0
    @exclusivity(unchecked) private(set) var guideStars: [GuideStar] = []
    /// Written by this type only (and its CAOM reader, PlanRows+CAOM.swift).
    @exclusivity(unchecked) var vocabulary: Selection.Vocabulary

    /// The last product's shared fields as the catalog gave them, and their index in the last chunk:
    /// rows of a dataset come together, so most rows find theirs here.
    @exclusivity(unchecked) private var lastRaw: (dataset: String, level: String?, suffix: String?, instrument: String?, filters: String?)?
    @exclusivity(unchecked) private var lastShared = 0
    /// The last dataset checked by ``SafePath``, and whether it is unsafe.
    @exclusivity(unchecked) private var lastDataset: (String, Bool)?

    /// Rows read straight from a JSON list's CAOM rows (``appendCAOM(_:parser:details:)``): this reader's state.
    @exclusivity(unchecked) var caom = CAOMReading()
    /// Its scratch values (``appendCAOM(_:parser:details:)``).
    @exclusivity(unchecked) var caomValues = [JSONValue?](repeating: nil, count: RowField.allCases.count)
    /// Whether the selection looks at each row's own URI, file name or size (a regex, `--extension`,
    /// `--pipeline-inputs`, `--where` on those columns): then its verdict on a row cannot be shared with
    /// rows whose other fields are the same.
    let readsEachName: Bool

    init(selection: Selection) {
        rules = Selection.Rules(selection)
        guideStarRule = selection.guideStars
        vocabulary = Selection.Vocabulary(selection)
        readsEachName = rules.reads.contains(.ownFields)
    }

    /// Keeps what the plan needs of `p`, the next row.
    func append(_ p: Product) {
        vocabulary.add(p)
        var flags = judge(p)
        if flags.contains(.guideStar) { noteGuideStar(p) }
        if SafePath.problem(in: p.filename, what: "file name") != nil { flags.insert(.unsafeName) }
        var uri = p.uri
        var filename = p.filename
        uri.withUTF8 { u in
            filename.withUTF8 { f in
                store(flags, uri: u, name: f, size: p.size) { sharedIndex(p, in: $0) }
            }
        }
    }

    /// What the selection makes of `p` (``Flags/taken``, ``Flags/kept``), and the flags its access, its
    /// guide-star mark and its dataset give: all but what its file name and size give.
    func judge(_ p: Product) -> Flags {
        var flags: Flags = []
        if p.access == .exclusive { flags.insert(.exclusive) }
        if rules.takes(p) { flags.insert(.taken) }
        if rules.keeps(p) { flags.insert(.kept) }
        if p.guideStar { flags.insert(.guideStar) }
        if let (dataset, unsafe) = lastDataset, dataset == p.dataset {
            if unsafe { flags.insert(.unsafeDataset) }
        } else {
            let unsafe = SafePath.problem(in: p.dataset, what: "dataset") != nil
            lastDataset = (p.dataset, unsafe)
            if unsafe { flags.insert(.unsafeDataset) }
        }
        return flags
    }

    /// Notes the guide-star product `p`, the next row, for the rule that takes the highest level of each exposure.
    func noteGuideStar(_ p: Product) {
        if guideStarRule {
            guideStars.append(GuideStar(row: count, exposure: Selection.guideStarExposure(p), rank: Product.levelRank(p.level)))
        }
    }

    /// Writes the next row: its flags (but ``Flags/hasSize`` and ``Flags/nameFromURI``, found here), URI,
    /// file name and size, and the index of its shared fields in the chunk it goes to, which `shared` gives.
    func store(
        _ flags: Flags, uri u: UnsafeBufferPointer<UInt8>, name f: UnsafeBufferPointer<UInt8>, size: Int64?, shared: (Chunk) -> Int
    ) {
        var flags = flags
        if size != nil { flags.insert(.hasSize) }
        let tail = Self.lastPart(u)
        let fromURI = tail.count == f.count && (f.count == 0 || memcmp(tail.baseAddress!, f.baseAddress!, f.count) == 0)
        if fromURI { flags.insert(.nameFromURI) }
        let most = 1 + 5 + 5 + u.count + (fromURI ? 0 : 5 + f.count) + 10
        var chunk = chunks.last
        if chunk == nil || chunk!.used + most > chunk!.capacity {
            chunk = Chunk(capacity: max(Chunk.capacity, most))
            chunks.append(chunk!)
            firstRows.append(count)
            lastRaw = nil
        }
        let c = chunk!
        let shared = shared(c)
        c.offsets.append(UInt32(c.used))
        var at = c.base + c.used
        at.pointee = flags.rawValue
        at += 1
        Self.putNumber(UInt64(shared), at: &at)
        Self.putNumber(UInt64(u.count), at: &at)
        at.update(from: u.baseAddress!, count: u.count)
        at += u.count
        if !fromURI {
            Self.putNumber(UInt64(f.count), at: &at)
            if f.count > 0 { at.update(from: f.baseAddress!, count: f.count) }
            at += f.count
        }
        if let size { Self.putNumber(UInt64(size), at: &at) }
        c.used = at - c.base
        count += 1
    }

    /// The index in `chunk` of `p`'s shared fields, added when new.
    private func sharedIndex(_ p: Product, in chunk: Chunk) -> Int {
        if let last = lastRaw, last.dataset == p.dataset, last.level == p.level, last.suffix == p.suffix,
           last.instrument == p.instrument, last.filters == p.filters {
            return lastShared
        }
        let index = Self.index(of: Shared(p), in: chunk)
        lastRaw = (p.dataset, p.level, p.suffix, p.instrument, p.filters)
        lastShared = index
        return index
    }

    /// The index of `shared` in `chunk`, added when new.
    static func index(of shared: Shared, in chunk: Chunk) -> Int {
        if let found = chunk.sharedIndex[shared] { return found }
        let index = chunk.shared.count
        chunk.shared.append(shared)
        chunk.sharedIndex[shared] = index
        return index
    }

    /// Adds the rows another `PlanRows` read after these (the second half of a list, read ahead).
    func append(contentsOf later: PlanRows) {
        for (i, chunk) in later.chunks.enumerated() {
            chunks.append(chunk)
            firstRows.append(count + later.firstRows[i])
        }
        for star in later.guideStars { guideStars.append(GuideStar(row: count + star.row, exposure: star.exposure, rank: star.rank)) }
        vocabulary.merge(later.vocabulary)
        count += later.count
        directRows += later.directRows
        lastRaw = nil
        lastDataset = nil
    }

    /// Forgets every row (a reader that refused one keeps none).
    func removeAll() {
        caom = CAOMReading()
        chunks = []
        firstRows = []
        guideStars = []
        vocabulary = Selection.Vocabulary(vocabulary.selection)
        count = 0
        directRows = 0
        lastRaw = nil
        lastDataset = nil
    }

    /// Drops what only writing needed (each chunk's table of shared fields), and makes each chunk's
    /// shared fields' bytes as the shard files write them.
    func seal() {
        for chunk in chunks {
            chunk.sharedIndex = [:]
            chunk.seal()
        }
    }

    /// Calls `body` with row `index`.
    @inline(__always)
    func withRow<R>(_ index: Int, _ body: (Row) throws -> R) rethrows -> R {
        let c = chunk(of: index)
        return try body(row(index - firstRows[c], in: chunks[c]))
    }

    /// The URI of row `index`, read without the rest of the row: for the duplicate check, which looks
    /// back at rows all over the list, each look a cache miss or two.
    @inline(__always)
    func uri(_ index: Int) -> UnsafeBufferPointer<UInt8> {
        let c = chunk(of: index)
        let chunk = chunks[c]
        var at = UnsafePointer(chunk.base + Int(chunk.offsets[index - firstRows[c]])) + 1
        _ = Self.number(at: &at)
        let count = Int(Self.number(at: &at))
        return UnsafeBufferPointer(start: at, count: count)
    }

    /// Asks memory for where row `index` starts (its chunk's offset of it), some steps before the row is
    /// read: ``prefetchRow(_:)`` then asks for the row itself. Rows read from anywhere in the list (a
    /// duplicate's kept row) no longer wait for memory one after another.
    @inline(__always)
    func prefetchOffset(_ index: Int) {
        let c = chunk(of: index)
        chunks[c].offsets.withUnsafeBufferPointer { csystem_prefetch($0.baseAddress! + (index - firstRows[c])) }
    }

    /// Asks memory for the start of row `index` (best after ``prefetchOffset(_:)``).
    @inline(__always)
    func prefetchRow(_ index: Int) {
        let c = chunk(of: index)
        let chunk = chunks[c]
        csystem_prefetch(chunk.base + Int(chunk.offsets[index - firstRows[c]]))
    }

    /// The chunk holding row `index`: the last whose first row is at most `index`.
    @inline(__always)
    private func chunk(of index: Int) -> Int {
        var low = 0
        var high = firstRows.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if firstRows[middle] <= index { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// Calls `body` with every row in order.
    func forEach(_ body: (Int, Row) throws -> Void) rethrows {
        for (c, chunk) in chunks.enumerated() {
            let first = firstRows[c]
            for local in chunk.offsets.indices { try body(first + local, row(local, in: chunk)) }
        }
    }

    @inline(__always)
    private func row(_ local: Int, in chunk: Chunk) -> Row {
        var at = UnsafePointer(chunk.base + Int(chunk.offsets[local]))
        let flags = Flags(rawValue: at.pointee)
        at += 1
        let shared = Int(Self.number(at: &at))
        let uriCount = Int(Self.number(at: &at))
        let uri = UnsafeBufferPointer(start: at, count: uriCount)
        at += uriCount
        let name: UnsafeBufferPointer<UInt8>
        if flags.contains(.nameFromURI) {
            name = Self.lastPart(uri)
        } else {
            let n = Int(Self.number(at: &at))
            name = UnsafeBufferPointer(start: at, count: n)
            at += n
        }
        let size = flags.contains(.hasSize) ? Int64(bitPattern: Self.number(at: &at)) : nil
        return Row(flags: flags, chunk: chunk, sharedIndex: shared, uri: uri, name: name, size: size)
    }

    /// The bytes after a URI's last `/` (all of it when it has none), as ``Catalog/lastPathComponent(_:)``
    /// splits it.
    static func lastPart(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return bytes }
        return UnsafeBufferPointer(rebasing: bytes[(slash + 1)...])
    }

    /// A whole number in 7-bit groups, low first (LEB128): most lengths and ids take one byte.
    @inline(__always)
    static func putNumber(_ value: UInt64, at: inout UnsafeMutablePointer<UInt8>) {
        var v = value
        while v >= 0x80 {
            at.pointee = UInt8(truncatingIfNeeded: v) | 0x80
            at += 1
            v >>= 7
        }
        at.pointee = UInt8(v)
        at += 1
    }

    @inline(__always)
    static func number(at: inout UnsafePointer<UInt8>) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = at.pointee
            at += 1
            value |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return value }
            shift += 7
        }
    }
}
