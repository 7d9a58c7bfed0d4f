/// What a download will do with every selected product: fetch it to a path under the root, point at the
/// product it duplicates, or leave it out with a reason. Built once, before any byte moves.
public struct Plan: Sendable {
    /// How files are arranged under the root.
    public enum Layout: String, Sendable, CaseIterable {
        /// `ROOT/DATASET/FILENAME`.
        case nested
        /// `ROOT/FILENAME`; different products with one name get distinct names.
        case flat
    }

    /// What happens to one selected product.
    public enum Disposition: Sendable, Hashable {
        /// Fetched to ``Entry/path``.
        case download
        /// The same URI as the entry at this index, which keeps the file.
        case duplicate(of: Int)
        /// Left out; the reason is the manifest's status (`EXCLUDED: …`).
        case excluded(String)
        /// Its name would escape the root: never written.
        case unsafe(String)
    }

    /// One selected product and what the download does with it; one manifest row.
    public struct Entry: Sendable {
        public var product: Product
        /// The URL the product is fetched from.
        public var url: String
        /// The path under the root, `/`-separated (the intended one, for unsafe entries).
        public var path: String
        public var disposition: Disposition
        /// The path the layout would have given, when a name collision forced another.
        public var renamedFrom: String?
    }

    /// Counts for the selection summary.
    public struct Summary: Sendable, Hashable {
        /// Files to download (unique URIs) and their stated bytes.
        public var selectedFiles = 0
        public var selectedBytes: Int64 = 0
        /// Unique files in the catalogs and their stated bytes.
        public var totalFiles = 0
        public var totalBytes: Int64 = 0
        /// Selected products left out because they need a token.
        public var excludedExclusive = 0
        /// Selected rows that repeat a URI already downloaded.
        public var duplicates = 0
        /// Selected rows whose names are unsafe.
        public var unsafe = 0
    }

    public var root: String
    public var layout: Layout
    /// One entry per selected product, in catalog order.
    public var entries: [Entry]
    public var summary: Summary

    /// Indices of the entries that are fetched.
    public var downloads: [Int] {
        entries.indices.filter { entries[$0].disposition == .download }
    }

    /// Builds the plan for a selection of a catalog.
    ///
    /// - Parameters:
    ///   - products: Every product of the catalogs, in order (the totals count them all).
    ///   - selection: Which products to take.
    ///   - layout: Nested or flat.
    ///   - root: The folder name the paths are under (used by bundles; paths here are relative to it).
    ///   - resolver: Turns URIs into URLs.
    ///   - authorized: Whether a token is available, so exclusive-access products can be fetched.
    public init(
        products: [Product], selection: Selection, layout: Layout = .nested, root: String,
        resolver: URLResolver, authorized: Bool = false
    ) {
        self.root = root
        self.layout = layout
        var summary = Summary()
        var seen = Set<String>()
        for product in products where seen.insert(product.uri).inserted {
            summary.totalFiles += 1
            summary.totalBytes = summary.totalBytes.addingSize(product.size)
        }
        var entries: [Entry] = []
        var primary: [String: Int] = [:]
        let picked = selection.select(products)
        for (index, product) in products.enumerated() where picked[index] {
            let path = layout == .nested ? "\(product.dataset)/\(product.filename)" : product.filename
            var entry = Entry(product: product, url: resolver.url(for: product.uri), path: path, disposition: .download)
            if product.access == .exclusive && !authorized {
                entry.disposition = .excluded("exclusive access needs a token")
                summary.excludedExclusive += 1
            } else if let problem = SafePath.problem(in: product.filename, what: "file name")
                        ?? (layout == .nested ? SafePath.problem(in: product.dataset, what: "dataset") : nil) {
                entry.disposition = .unsafe(problem)
                summary.unsafe += 1
            } else if let first = primary[product.uri] {
                entry.disposition = .duplicate(of: first)
                summary.duplicates += 1
            } else {
                primary[product.uri] = entries.count
                summary.selectedFiles += 1
                summary.selectedBytes = summary.selectedBytes.addingSize(product.size)
            }
            entries.append(entry)
        }
        Self.resolveCollisions(&entries)
        self.entries = entries
        self.summary = summary
    }

    /// Gives different products that would share a path distinct, deterministic names: the first in
    /// catalog order keeps the name, later ones become `name (2).ext`, `name (3).ext`, … skipping any
    /// name another product already has (or the manifests' names). Names are compared case-insensitively, so the tree also
    /// unpacks on case-insensitive file systems.
    static func resolveCollisions(_ entries: inout [Entry]) {
        let downloading = entries.indices.filter { entries[$0].disposition == .download }
        // The manifests live at the root: a product never takes their names.
        var taken: Set<String> = ["manifest.csv", "manifest.html"]
        var wanted = Set<String>()
        for i in downloading { wanted.insert(entries[i].path.lowercased()) }
        for i in downloading {
            let key = entries[i].path.lowercased()
            if taken.insert(key).inserted { continue }
            let original = entries[i].path
            let (folder, name) = split(original)
            let (stem, ext) = splitExtension(name)
            var n = 2
            while true {
                let candidate = folder + "\(stem) (\(n))\(ext)"
                let k = candidate.lowercased()
                if !wanted.contains(k), taken.insert(k).inserted {
                    entries[i].path = candidate
                    entries[i].renamedFrom = original
                    break
                }
                n += 1
            }
        }
    }

    static func split(_ path: String) -> (folder: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[...slash]), String(path[path.index(after: slash)...]))
    }

    static func splitExtension(_ name: String) -> (stem: String, ext: String) {
        guard let dot = name.dropFirst().firstIndex(of: ".") else { return (name, "") }
        return (String(name[..<dot]), String(name[dot...]))
    }
}

extension Int64 {
    /// Adds a size a catalog states to a total of such sizes. Each is at most `Int64.max` and never
    /// negative, so the sum can only overflow upwards: it stops at `Int64.max` rather than trapping
    /// (two rows of 8 EB each would otherwise crash `haul select`).
    func addingSize(_ size: Int64?) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(size ?? 0)
        return overflow ? .max : sum
    }
}
