// What the overlay shows before the download starts: the preview of the selected files, grouped by
// dataset and paged, and the "Export Selected File List" CSV.

extension Plan {
    /// One page of the preview: the selected rows grouped by dataset, datasets in the order they first
    /// appear, rows in catalog order within each.
    public struct Page: Sendable {
        /// The page number, from 1, and rows per page.
        public var number: Int
        public var size: Int
        /// Pages in all (1 for an empty selection).
        public var count: Int
        /// Selected rows in all, and this page's slice of them (0-based positions in preview order).
        public var rows: Int
        public var range: Range<Int>
        /// The page's rows by dataset.
        public var groups: [Group]

        /// One dataset's rows on the page.
        public struct Group: Sendable {
            public var dataset: String
            /// Indices into ``Plan/entries``.
            public var entries: [Int]
            /// Whether the dataset's rows began on an earlier page.
            public var continued: Bool
            /// The dataset's rows in the whole selection, and their stated bytes.
            public var totalRows: Int
            public var totalBytes: Int64
        }

        /// The range as the overlay shows it: `101–200 of 1,234` (`0 of 0` when empty).
        public var rangeText: String {
            rows == 0 ? "0 of 0" : "\((range.lowerBound + 1).grouped)–\(range.upperBound.grouped) of \(rows.grouped)"
        }
    }

    /// Entry indices in preview order: grouped by dataset, datasets in order of first appearance.
    public var previewOrder: [Int] {
        var slot: [String: Int] = [:]
        var groups: [[Int]] = []
        for (index, entry) in entries.enumerated() {
            if let g = slot[entry.product.dataset] { groups[g].append(index) } else {
                slot[entry.product.dataset] = groups.count
                groups.append([index])
            }
        }
        return groups.flatMap { $0 }
    }

    /// A page of the preview.
    ///
    /// - Parameters:
    ///   - number: From 1.
    ///   - size: Rows per page, at least 1.
    /// - Throws: ``HaulError`` (`invalidArgument`) for a page number or size out of range, saying how
    ///   many pages there are.
    public func page(_ number: Int, size: Int) throws -> Page {
        guard size >= 1 else { throw HaulError(.invalidArgument, "--page-size must be at least 1, found \(size)") }
        guard number >= 1 else { throw HaulError(.invalidArgument, "--page must be at least 1, found \(number)") }
        let rows = entries.count
        let count = max(1, (rows + size - 1) / size)
        guard number <= count else {
            throw HaulError(.invalidArgument, "--page \(number): the selection has \(rows.grouped) row\(rows == 1 ? "" : "s"), \(count.grouped) page\(count == 1 ? "" : "s") of \(size.grouped)")
        }
        let order = previewOrder
        // Overflow-safe: number ≤ count, so (number - 1) * size < rows.
        let start = (number - 1) * size
        let range = start..<min(rows, start + size)
        var totals: [String: (rows: Int, bytes: Int64)] = [:]
        for entry in entries {
            var t = totals[entry.product.dataset] ?? (0, 0)
            t.rows += 1
            if entry.disposition == .download { t.bytes += entry.product.size ?? 0 }
            totals[entry.product.dataset] = t
        }
        var groups: [Page.Group] = []
        for position in range {
            let index = order[position]
            let dataset = entries[index].product.dataset
            if groups.last?.dataset == dataset {
                groups[groups.count - 1].entries.append(index)
            } else {
                let continued = position > 0 && entries[order[position - 1]].product.dataset == dataset
                let t = totals[dataset] ?? (0, 0)
                groups.append(Page.Group(dataset: dataset, entries: [index], continued: continued, totalRows: t.rows, totalBytes: t.bytes))
            }
        }
        return Page(number: number, size: size, count: count, rows: rows, range: range, groups: groups)
    }

    /// The whole selection as the overlay's CSV export: `Dataset,Filename,Product Level,Suffix,
    /// Instrument,Filter / Grating`, then Haul's `URI,Size,Access`; one row per selected product (a
    /// duplicate or an excluded row too) in catalog order; RFC 4180, CRLF line ends. Read back as a
    /// catalog, it gives the same selection.
    public func exportCSV() -> String {
        var out = (Catalog.overlayColumns + Catalog.exportColumns).map(Manifest.csvField).joined(separator: ",") + "\r\n"
        for entry in entries {
            out += Self.exportFields(entry.product).map(Manifest.csvField).joined(separator: ",") + "\r\n"
        }
        return out
    }

    /// A product's fields in the export's column order.
    public static func exportFields(_ p: Product) -> [String] {
        [
            p.dataset, p.filename, p.level ?? "", p.suffix.map { "_" + $0.lowercased() } ?? "",
            p.instrument ?? "", p.filters ?? "", p.uri, p.size.map(String.init) ?? "", p.access.rawValue,
        ]
    }
}

extension BinaryInteger {
    /// The number with thousands separated by commas: `1234` → `1,234`.
    public var grouped: String {
        let digits = String(magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return self < 0 ? "-" + out : out
    }
}
