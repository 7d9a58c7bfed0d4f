#if canImport(Glibc)
import Glibc
#endif

/// A stored ZIP of a plan whose length, and every byte, follow from the plan and the files' bytes:
/// what a server needs to state `Content-Length` before the first transfer starts, and to answer a
/// `Range` request for the rest of a bundle whose connection broke.
///
/// # Why the layout is fixed
/// - Entries go out in a fixed order, not as they complete: the smallest files first (in plan order
///   among equals), so the first bytes leave as soon as a small file is in, not after a big one, and the
///   big files, last, arrive side by side. Transfers start in that order (``RunOutput/order``);
///   ``ZipWriter`` holds the early finishers (staged like any entry: in memory within the budget,
///   spilled beyond it) and lets at most a window of files past the first unwritten one start.
/// - Every entry is stored and its size is the catalog's (checked on arrival), so the length of its
///   local header follows from its name and size: the CRC-32 and the DOS time are fixed-width fields,
///   and the time is always one that keeps the extended-timestamp field (``entryTime(lastModified:)``).
/// - Every file is `OK`: a file that fails breaks the bundle, and the response is cut short rather
///   than lie about its length. The manifests leave empty the columns that depend on how transfers went
///   (``Manifest/omitsTransferDetails``) and a CRC-32 is eight hex digits, so their text's length
///   follows from the plan. They are stored, not deflated.
/// - The offsets follow, so the central directory's ZIP64 fields and the end records do too.
///
/// The length is computed by encoding the same headers and manifests the writer writes (with CRC-32s
/// of zero), so it cannot drift from them; the writer checks it reached exactly this length.
///
/// # Resuming
/// A download may start at an offset (the bytes before it are the client's already). Entries that end
/// before it are not fetched again: the CRC-32 and time recorded as each entry went out (before its
/// first byte did) fill the central directory and the manifest. The entry that straddles the offset is
/// fetched again and must match its record, else the archive changed the file and the bundle cannot
/// be resumed. Records live as long as this object: a server keeps the bundles it may be asked to resume.
package final class StoredBundle: Sendable {
    /// The archive's length in bytes.
    package let length: UInt64
    /// The files it holds (besides the manifests).
    package var files: Int { order.count }
    /// The time of the manifests, and of every entry whose server sent no usable `Last-Modified`.
    package let time: Int64
    /// The time a bundle is made with unless told otherwise: one fixed time (2000-01-01 00:00 UTC),
    /// never the clock's, so that a bundle is a function of its selection and the files' bytes: the
    /// same bytes, and the same ``tag``, for every request and after a restart.
    package static let fixedTime: Int64 = 946_684_800
    /// A digest of everything that decides the bytes besides the files' contents (entry names and
    /// sizes, the manifests' rows, the user): equal for two requests that ask for the same bundle.
    package let fingerprint: UInt64
    /// The plan it bundles.
    package let plan: Plan
    let user: String
    let authenticated: Bool
    /// The downloads in the order they are fetched and written, and where each one's local header starts.
    let order: [Int]
    let offsets: [UInt64]
    /// Each download's position in ``order``, by its index in the plan.
    let positions: [Int: Int]
    /// Where the manifests start (where the last download ends).
    let manifestOffset: UInt64

    struct Record: Sendable, Equatable {
        var crc32: UInt32
        var modified: Int64
    }
    private let records = Locked<[Int: Record]>([:])
    /// Whole files shared by the requests of this bundle that run at the same time.
    package let cache = BundleFileCache()
    /// Where the records are kept on disk as well (``keepRecords(in:)``), or `nil`.
    private let log = Locked<BundleRecordLog?>(nil)

    /// - Parameters:
    ///   - credentials: The token the bundle is fetched with: its user and the authenticated statuses
    ///     are in the manifests.
    ///   - time: The manifests' time, and the entries' when the archive states none (Unix seconds).
    /// - Returns: `nil` when the catalog does not state the size of every file fetched.
    package init?(plan: Plan, credentials: Credentials?, time: Int64 = StoredBundle.fixedTime) {
        self.plan = plan
        user = credentials?.user ?? "anonymous"
        authenticated = credentials != nil
        // A time the extended-timestamp field holds (until 2038), so headers keep their length.
        self.time = Int64(Int32(clamping: time))
        // Each entry read once: a Product copied in a sort's comparisons costs a retain per string.
        let downloads = plan.downloads
        var sizes: [Int64] = []
        var names: [String] = []
        sizes.reserveCapacity(downloads.count)
        names.reserveCapacity(downloads.count)
        for index in downloads {
            let entry = plan.entries[index]
            guard let size = entry.product.size, size >= 0 else { return nil }
            sizes.append(size)
            names.append(plan.root + "/" + entry.path)
        }
        let sorted = sizes.indices.sorted { sizes[$0] != sizes[$1] ? sizes[$0] < sizes[$1] : $0 < $1 }
        order = sorted.map { downloads[$0] }
        var positions: [Int: Int] = [:]
        positions.reserveCapacity(order.count)
        for (position, index) in order.enumerated() { positions[index] = position }
        self.positions = positions
        var offsets: [UInt64] = []
        offsets.reserveCapacity(order.count)
        var offset: UInt64 = 0
        var directory: UInt64 = 0
        var digest = FNV1a()
        for i in sorted {
            let size = UInt64(sizes[i])
            let entry = ZipEntry(
                name: names[i], method: .stored, crc32: 0, compressedSize: size, uncompressedSize: size, modified: self.time, offset: offset
            )
            offsets.append(offset)
            offset += UInt64(entry.localHeader().count) + size
            directory += UInt64(entry.centralHeader().count)
            digest.add(names[i])
            digest.add(String(size))
        }
        self.offsets = offsets
        manifestOffset = offset
        // The manifests' lengths, a row at a time (a million rows are never held as one text); the
        // CSV's rows, which hold every column the HTML shows, go into the digest.
        let manifest = Self.manifest(plan: plan, user: user, authenticated: authenticated) { _ in 0 }
        var htmlLength = 0, csvLength = 0
        manifest.html(title: plan.root) { htmlLength += $0.utf8.count }
        manifest.csv { line in
            csvLength += line.utf8.count
            digest.add(line)
        }
        for (name, count) in zip(Self.manifestNames(plan), [htmlLength, csvLength]) {
            let entry = ZipEntry(
                name: name, method: .stored, crc32: 0, compressedSize: UInt64(count), uncompressedSize: UInt64(count),
                modified: self.time, offset: offset
            )
            offset += UInt64(entry.localHeader().count) + UInt64(count)
            directory += UInt64(entry.centralHeader().count)
        }
        digest.add(plan.root)
        fingerprint = digest.value
        length = offset + directory + UInt64(ZipEntry.endRecords(
            count: UInt64(order.count + 2), directoryOffset: offset, directorySize: directory
        ).count)
    }

    /// An HTTP entity tag for these bytes: from the ``fingerprint``, the length and the time, so it is
    /// the same for the same selection on every request and after a restart.
    package var tag: String {
        var digest = FNV1a()
        digest.add(String(fingerprint, radix: 16))
        digest.add(String(time))
        // Entry times go into the headers as MS-DOS local time: another zone, other bytes.
        var t = time_t(time)
        var parts = tm()
        localtime_r(&t, &parts)
        digest.add(String(parts.tm_gmtoff))
        return "\"haul-\(String(digest.value, radix: 16))-\(String(length, radix: 16))\""
    }

    /// Where the manifests start: the bundle's bytes before it are the files' entries, those from it on
    /// (``trailer()``) follow from the records alone.
    package var trailerOffset: UInt64 { manifestOffset }

    /// The positions in ``order`` of the entries that overlap bytes `first...last`.
    package func positions(overlapping first: UInt64, _ last: UInt64) -> Range<Int> {
        let start = firstPosition(endingAfter: first)
        var end = start
        while end < order.count, offsets[end] <= last { end += 1 }
        return start..<end
    }

    /// Where the entry at a position in ``order`` starts, and where it ends.
    package func span(of position: Int) -> (start: UInt64, end: UInt64) { (offsets[position], end(of: position)) }

    /// The positions in ``order`` whose entries have not gone out yet (no CRC-32 recorded).
    package func unrecordedPositions() -> [Int] {
        let known = records.withLock { $0 }
        return order.indices.filter { known[order[$0]] == nil }
    }

    /// The bundle's bytes from ``trailerOffset`` to its end: the manifests' entries, the central
    /// directory and the end records, exactly as the writer writes them; `nil` while an entry has no
    /// record. What a range that reaches the end of a bundle needs, without fetching a file again.
    package func trailer() -> [UInt8]? {
        let known = records.withLock { $0 }
        var files: [(index: Int, entry: ZipEntry)] = []
        files.reserveCapacity(order.count)
        for (position, index) in order.enumerated() {
            guard let record = known[index], let size = plan.entries[index].product.size else { return nil }
            files.append((index, ZipEntry(
                name: plan.root + "/" + plan.entries[index].path, method: .stored, crc32: record.crc32,
                compressedSize: UInt64(size), uncompressedSize: UInt64(size), modified: record.modified, offset: offsets[position]
            )))
        }
        var bytes: [UInt8] = []
        var central: [UInt8] = []
        // The directory lists the files in plan order (the writer's keys), then the manifests.
        for (_, entry) in files.sorted(by: { $0.index < $1.index }) { central += entry.centralHeader() }
        var offset = manifestOffset
        let manifest = Self.manifest(plan: plan, user: user, authenticated: authenticated) { known[$0]?.crc32 }
        let texts = [Array(manifest.html(title: plan.root).utf8), Array(manifest.csv().utf8)]
        for (name, data) in zip(Self.manifestNames(plan), texts) {
            let crc = data.withUnsafeBytes { CRC32.of($0) }
            let entry = ZipEntry(
                name: name, method: .stored, crc32: crc, compressedSize: UInt64(data.count), uncompressedSize: UInt64(data.count),
                modified: time, offset: offset
            )
            let header = entry.localHeader()
            bytes += header
            bytes += data
            central += entry.centralHeader()
            offset += UInt64(header.count + data.count)
        }
        bytes += central
        bytes += ZipEntry.endRecords(count: UInt64(order.count + 2), directoryOffset: offset, directorySize: UInt64(central.count))
        return bytes
    }

    /// Whether every entry has a record (the ``trailer()`` can be made).
    package var recordsComplete: Bool { unrecordedPositions().isEmpty }

    /// Whether the bytes from `offset` on can be sent now: every entry that starts before it has gone
    /// out before (so its CRC-32 and time are known) and `offset` is within the archive.
    package func canResume(from offset: UInt64) -> Bool {
        guard offset < length else { return false }
        let known = records.withLock { $0 }
        for (position, start) in offsets.enumerated() where start < offset {
            if known[order[position]] == nil { return false }
        }
        return true
    }

    /// The first position in ``order`` whose entry ends after `offset` (``order``'s count when the
    /// offset is in the manifests or the directory).
    func firstPosition(endingAfter offset: UInt64) -> Int {
        var position = 0
        while position < order.count, end(of: position) <= offset { position += 1 }
        return position
    }

    /// Where the entry at `position` ends.
    func end(of position: Int) -> UInt64 {
        position + 1 < offsets.count ? offsets[position + 1] : manifestOffset
    }

    /// The time an entry is written with: the archive's `Last-Modified` when it fits the
    /// extended-timestamp field, else the bundle's (so every header has the length computed).
    func entryTime(lastModified: Int64?) -> Int64 {
        guard let lastModified, Int32(exactly: lastModified) != nil else { return time }
        return lastModified
    }

    func record(_ key: Int) -> Record? { records.withLock { $0[key] } }

    /// Records entries as they go out (before the first one's first byte does; the others follow it
    /// without waiting for anything else): in the records file when there is one, flushed to the disk
    /// with the records other requests write meanwhile (``BundleRecordLog/write(_:)``), then in
    /// memory. So whatever a request sends that follows from the records in memory (an entry, a
    /// resumed range, the bundle's end) follows from records on the disk. Blocks on the disk: called on
    /// a writer's queue (``ZipWriter/Order/onWrite``), a thread of its own.
    func record(_ entries: [(key: Int, record: Record)]) {
        // Outside the lock: readers of the records never wait on the disk.
        if let log = log.withLock({ $0 }) {
            log.write(entries.compactMap { key, record in
                positions[key].map { (position: $0, crc32: record.crc32, modified: record.modified) }
            })
        }
        records.withLock { known in
            for (key, record) in entries { known[key] = record }
        }
    }

    /// Keeps the records in a file of `folder` too (``BundleRecordLog``), and takes those an earlier
    /// process left there for this bundle: what a client may hold of it from before a restart.
    ///
    /// - Throws: ``HaulError`` when the file cannot be opened.
    package func keepRecords(in folder: String) throws {
        let file = try BundleRecordLog(folder: folder, tag: tag, files: order.count, length: length)
        let earlier = file.load()
        file.adopt(earlier)
        records.withLock { known in
            for (position, record) in earlier where position < order.count && known[order[position]] == nil {
                known[order[position]] = Record(crc32: record.crc32, modified: record.modified)
            }
        }
        log.withLock { $0 = file }
    }

    /// Drops the records file (the bundle could not be finished, so no one resumes it).
    package func forgetRecords() {
        log.withLock { file in
            file?.remove()
            file = nil
        }
    }

    /// The manifest as the bundle holds it: every download `OK` with its CRC-32 (`crc` of its index),
    /// the transfer columns empty.
    static func manifest(plan: Plan, user: String, authenticated: Bool, crc: (Int) -> UInt32?) -> Manifest {
        var rows: [Manifest.Row] = []
        rows.reserveCapacity(plan.entries.count)
        for (index, entry) in plan.entries.enumerated() {
            var row = plan.row(for: entry, user: user, authenticated: authenticated)
            if entry.disposition == .download {
                row.status = .ok
                row.crc32 = crc(index) ?? 0
            }
            rows.append(row)
        }
        return Manifest(rows: rows, omitsTransferDetails: true)
    }

    /// The manifests' entry names, in the order written: HTML, then CSV.
    static func manifestNames(_ plan: Plan) -> [String] {
        [plan.root + "/manifest.html", plan.root + "/manifest.csv"]
    }

    /// The manifests with the CRC-32s recorded, in the order written.
    func manifests() -> [(String, [UInt8])] {
        let known = records.withLock { $0 }
        let manifest = Self.manifest(plan: plan, user: user, authenticated: authenticated) { known[$0]?.crc32 }
        return Array(zip(Self.manifestNames(plan), [Array(manifest.html(title: plan.root).utf8), Array(manifest.csv().utf8)]))
    }
}

/// FNV-1a, 64 bits: a digest to tell two requests' bundles apart, not a defence against forgery.
struct FNV1a {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func add(_ text: String) {
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value = value &* 0x0000_0100_0000_01B3
        }
        // A separator, so that ("ab", "c") and ("a", "bc") differ.
        value ^= 0xFF
        value = value &* 0x0000_0100_0000_01B3
    }
}
