/// The summary and one page of the preview as JSON: what `haul select --json` prints and what the
/// overlay server answers at `/summary.json` and `/preview.json`, from this one implementation.
extension Plan {
    /// What happens to a row when it is not simply fetched ("duplicate of …", "excluded: …"); empty otherwise.
    package func note(_ entry: Entry) -> String {
        switch entry.disposition {
        case .download: return entry.renamedFrom.map { _ in "saved as \(entry.path)" } ?? ""
        case .duplicate(let first): return "duplicate of \(entries[first].path)"
        case .excluded(let reason): return "excluded: \(reason)"
        case .unsafe(let problem): return "unsafe: \(problem)"
        }
    }

    /// The summary (`selected_files`, `selected_bytes`, `total_files`, `total_bytes`,
    /// `excluded_exclusive`, `duplicates`, `unsafe`), the page's place (`rows_total`, `page`,
    /// `page_size`, `pages`, `first`, `last`) and its rows, as one JSON object.
    ///
    /// - Parameters:
    ///   - page: A page of this plan (``page(_:size:)``).
    ///   - cloud: Where MAST's public bucket has the page's products (``Engine/cloudLocations(_:entries:)``):
    ///     each row then gains `cloud_url` (the object's URL, or `null`) and `cloud_note` (why not).
    /// - Returns: JSON text without a trailing newline.
    package func summaryJSON(page: Page, cloud: [Int: CloudLocation]? = nil) -> String {
        let s = summary
        var rows: [String] = []
        for group in page.groups {
            for index in group.entries {
                let entry = entries[index]
                let f = Plan.exportFields(entry.product)
                let status: String
                switch entry.disposition {
                case .download: status = "download"
                case .duplicate: status = "duplicate"
                case .excluded: status = "excluded"
                case .unsafe: status = "unsafe"
                }
                func optional(_ text: String?) -> String { text.map(JSONText.quoted) ?? "null" }
                var located: [(String, String)] = []
                if let cloud {
                    let location = cloud[index]
                    var note: String?
                    if case .absent(let why)? = location { note = why }
                    located = [("cloud_url", optional(location?.url)), ("cloud_note", optional(note))]
                }
                rows.append(JSONText.object([
                    ("dataset", JSONText.quoted(f[0])), ("filename", JSONText.quoted(f[1])),
                    ("product_level", optional(entry.product.level)), ("suffix", optional(entry.product.displaySuffix)),
                    ("instrument", optional(entry.product.instrument)), ("filters", optional(entry.product.filters)),
                    ("uri", JSONText.quoted(entry.product.uri)), ("size", entry.product.size.map(String.init) ?? "null"),
                    ("access", JSONText.quoted(entry.product.access.rawValue)), ("status", JSONText.quoted(status)),
                    ("path", JSONText.quoted(entry.path)), ("note", JSONText.quoted(note(entry))),
                ] + located))
            }
        }
        return JSONText.object([
            ("selected_files", String(s.selectedFiles)), ("selected_bytes", String(s.selectedBytes)),
            ("total_files", String(s.totalFiles)), ("total_bytes", String(s.totalBytes)),
            ("excluded_exclusive", String(s.excludedExclusive)), ("duplicates", String(s.duplicates)), ("unsafe", String(s.unsafe)),
            ("rows_total", String(page.rows)), ("page", String(page.number)), ("page_size", String(page.size)),
            ("pages", String(page.count)), ("first", String(page.rows == 0 ? 0 : page.range.lowerBound + 1)),
            ("last", String(page.range.upperBound)), ("rows", "[" + rows.joined(separator: ",") + "]"),
        ])
    }
}
