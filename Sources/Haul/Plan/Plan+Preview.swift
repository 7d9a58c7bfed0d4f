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
        package var rangeText: String {
            rows == 0 ? "0 of 0" : "\((range.lowerBound + 1).grouped)–\(range.upperBound.grouped) of \(rows.grouped)"
        }
    }

    /// The selection's datasets in order of first appearance: each one's entry indices (catalog order)
    /// and the stated bytes of its downloads. One pass; the preview order and the page headers both come from it.
    func datasetGroups() -> [(dataset: String, entries: [Int], bytes: Int64)] {
        var slot: [String: Int] = [:]
        var groups: [(dataset: String, entries: [Int], bytes: Int64)] = []
        // Rows of one dataset come together in a catalog: the lookup is made once a run.
        var last: (dataset: String, group: Int)?
        for (index, entry) in entries.enumerated() {
            let (dataset, size) = entry.edits == nil
                ? (entry.source.products[entry.row].dataset, entry.source.products[entry.row].size)
                : (entry.product.dataset, entry.product.size)
            let g: Int
            if let last, last.dataset == dataset { g = last.group } else if let known = slot[dataset] { g = known } else {
                g = groups.count
                slot[dataset] = g
                groups.append((dataset, [], 0))
            }
            last = (dataset, g)
            groups[g].entries.append(index)
            if entry.disposition == .download { groups[g].bytes = groups[g].bytes.addingSize(size) }
        }
        return groups
    }

    /// Entry indices in preview order: grouped by dataset, datasets in order of first appearance.
    package var previewOrder: [Int] { datasetGroups().flatMap(\.entries) }

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
        // Overflow-safe: number ≤ count, so (number - 1) * size < rows.
        let start = (number - 1) * size
        let range = start..<min(rows, start + size)
        var groups: [Page.Group] = []
        guard !range.isEmpty else { return Page(number: number, size: size, count: count, rows: rows, range: range, groups: groups) }
        // The page lies in the preview's first `range.upperBound` positions, so in as many datasets at most.
        let datasets = PreviewGroups(entries, limit: range.upperBound)
        // The dataset at the page's first position, and that position's place among its rows.
        var g = 0
        var before = 0
        while before + Int(datasets.rows[g]) <= start {
            before += Int(datasets.rows[g])
            g += 1
        }
        var offset = start - before
        var index = Int(datasets.first[g])
        for _ in 0..<offset { index = Int(datasets.next[index]) }
        for position in range {
            if index < 0 {
                // The dataset's rows are all placed: the next dataset's first.
                g += 1
                offset = 0
                index = Int(datasets.first[g])
            }
            if position > range.lowerBound, offset > 0 {
                groups[groups.count - 1].entries.append(index)
            } else {
                groups.append(Page.Group(
                    dataset: PreviewGroups.dataset(of: entries[Int(datasets.first[g])]), entries: [index], continued: offset > 0,
                    totalRows: Int(datasets.rows[g]), totalBytes: datasets.bytes[g]
                ))
            }
            index = Int(datasets.next[index])
            offset += 1
        }
        return Page(number: number, size: size, count: count, rows: rows, range: range, groups: groups)
    }

    /// The whole selection as the overlay's CSV export: `Dataset,Filename,Product Level,Suffix,
    /// Instrument,Filter / Grating`, then Haul's `URI,Size,Access`; one row per selected product (a
    /// duplicate or an excluded row too) in catalog order; RFC 4180, CRLF line ends. Read back as a
    /// catalog, it gives the same selection.
    package func exportCSV() -> String {
        var out = (Catalog.overlayColumns + Catalog.exportColumns).map(Manifest.csvField).joined(separator: ",") + "\r\n"
        for entry in entries {
            out += Self.exportFields(entry.product).map(Manifest.csvField).joined(separator: ",") + "\r\n"
        }
        return out
    }

    /// A product's fields in the export's column order.
    package static func exportFields(_ p: Product) -> [String] {
        [
            p.dataset, p.filename, p.level ?? "", p.displaySuffix ?? "",
            p.instrument ?? "", p.filters ?? "", p.uri, p.size.map(String.init) ?? "", p.access.rawValue,
        ]
    }
}

extension Product {
    /// The suffix as the overlay shows and exports it: `_cal`.
    package var displaySuffix: String? { suffix.map { "_" + $0.lowercased() } }
}

extension BinaryInteger {
    /// The number with thousands separated by commas: `1234` → `1,234`.
    package var grouped: String {
        let digits = String(magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return self < 0 ? "-" + out : out
    }
}
