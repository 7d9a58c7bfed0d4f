/// The record of a download, one row per selected product, written as `ROOT/manifest.html` and
/// `ROOT/manifest.csv` (written by `Manifest+HTML.swift` and `Manifest+CSV.swift`).
public struct Manifest: Sendable {
    /// A row's status, as the overlay words it.
    public enum Status: Sendable, Hashable {
        case ok
        /// The same URI is downloaded by another row (the first in catalog order).
        case duplicate(file: String, dataset: String)
        case failed(FileFailure)
        case excluded(String)
        case cancelled

        /// The manifest's text for this status.
        public var text: String {
            switch self {
            case .ok: return "OK"
            case .duplicate(let file, let dataset): return "Duplicate of file \(file) in folder \(dataset)"
            case .failed(let failure): return "FAILED: \(failure.message)"
            case .excluded(let reason): return "EXCLUDED: \(reason)"
            case .cancelled: return "CANCELLED"
            }
        }
    }

    public struct Row: Sendable, Hashable {
        public var uri: String
        /// The file's path under the root (`DATASET/FILE` or `FILE`).
        public var file: String
        public var access: Product.Access
        public var status: Status
        public var user: String
        /// Bytes of the file when known (received, or stated by the catalog).
        public var size: Int64?
        /// The file's CRC-32, when it is complete.
        public var crc32: UInt32?
        /// The archive's `Last-Modified` for the file (Unix seconds) and its `ETag` (as sent), when the
        /// server stated them: what a later `--refresh` asks the server about.
        public var lastModified: Int64?
        public var etag: String?
        public var attempts: Int
        public var seconds: Double
        /// Why the file is named as it is, or that it was already complete.
        public var note: String
        /// Where the file's bytes came from (the bucket or the archive); `nil` when none came.
        package var source: FileSource? = nil
        /// The product's dataset, which the authenticated wording names.
        public var dataset: String = ""
        /// Whether the download ran with a token: statuses then take the overlay's authenticated form.
        public var authenticated = false

        /// Why the file failed, when its status is `FAILED`.
        public var failure: FileFailure? {
            if case .failed(let failure) = status { return failure }
            return nil
        }

        /// The Status column: ``Status/text``, or with a token the overlay's authenticated form,
        /// `FILE associated with DATASET ... SUCCESS` (or `... Duplicate of file F associated with D`).
        public var statusText: String {
            guard authenticated else { return status.text }
            switch status {
            case .ok: return "\(file) associated with \(dataset) ... SUCCESS"
            case .duplicate(let keptFile, let keptDataset):
                return "\(file) associated with \(dataset) ... Duplicate of file \(keptFile) associated with \(keptDataset)"
            default: return status.text
            }
        }
    }

    /// Whether a Status column's text (of either form) says the file was downloaded.
    package static func isSuccess(_ statusText: String) -> Bool {
        statusText == "OK" || statusText.hasSuffix(" ... SUCCESS")
    }

    /// The columns, in order: the overlay's five, then Haul's.
    package static let columns = [
        "URI", "File", "Access", "Status", "Logged In User", "Size", "CRC-32", "Last-Modified", "ETag", "Attempts", "Seconds", "Note", "Source",
    ]

    /// The columns shown right-aligned, as numbers.
    static let numericColumns: Set<Int> = [5, 9, 10]

    public var rows: [Row]
    /// Leave the columns that depend on how the transfers went (Last-Modified, ETag, Attempts,
    /// Seconds, Source) empty: a stored bundle whose length is stated before it is fetched (``StoredBundle``)
    /// holds only what the plan and the files' bytes decide.
    package var omitsTransferDetails = false
    /// What the download received over time, plotted in `manifest.html` (as `haul bench` plots it);
    /// empty for a manifest made without a run (a stored bundle's, a merge's), which then has no plot.
    package var throughput: [ThroughputSample] = []

    package init(rows: [Row], omitsTransferDetails: Bool = false) {
        self.rows = rows
        self.omitsTransferDetails = omitsTransferDetails
    }

    func fields(_ row: Row) -> [String] {
        if omitsTransferDetails {
            return [
                row.uri, row.file, row.access.rawValue, row.statusText, row.user,
                row.size.map(String.init) ?? "", row.crc32.map(Self.hex) ?? "", "", "", "", "", row.note, "",
            ].map(Self.visible)
        }
        return [
            row.uri, row.file, row.access.rawValue, row.statusText, row.user,
            row.size.map(String.init) ?? "", row.crc32.map(Self.hex) ?? "", row.lastModified.map(HTTPDate.format) ?? "",
            row.etag ?? "", String(row.attempts),
            row.seconds == 0 ? "0" : String(format3(row.seconds)), row.note, row.source?.rawValue ?? "",
        ].map(Self.visible)
    }

    /// A CRC-32 as eight lowercase hexadecimal digits, as `unzip -v` and `crc32` show it.
    static func hex(_ crc: UInt32) -> String {
        let digits = String(crc, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// Text with control characters shown as their Unicode pictures (U+2400…) and bidirectional
    /// controls as `<U+202E>`, so a hostile name can neither break a line of the manifest, nor hide in
    /// it, nor reorder what a reader sees.
    static func visible(_ text: String) -> String {
        // Printable ASCII has nothing to show otherwise: a byte scan settles most values.
        guard text.utf8.contains(where: { $0 < 0x20 || $0 >= 0x7F }),
              text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || SafePath.isBidiControl($0) }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 { out.append(Unicode.Scalar(0x2400 + scalar.value)!) }
            else if scalar.value == 0x7F { out.append("\u{2421}") }
            else if SafePath.isBidiControl(scalar) { out.append(contentsOf: "<U+\(String(scalar.value, radix: 16, uppercase: true))>".unicodeScalars) }
            else { out.append(scalar) }
        }
        return String(out)
    }

    private func format3(_ value: Double) -> String {
        let scaled = (value * 1000).rounded()
        let whole = Int64(scaled) / 1000
        let frac = Int64(scaled) % 1000
        let f = String(frac)
        return "\(whole).\(String(repeating: "0", count: 3 - f.count))\(f)"
    }
}
