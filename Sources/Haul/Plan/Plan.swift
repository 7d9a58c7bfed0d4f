import CHaulSystem

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
    ///
    /// An entry refers to its product in the plan's list rather than holding a copy, and makes its URL
    /// and path when asked: a plan of a million rows holds each product once and no million URLs.
    public struct Entry: Sendable {
        /// The products, resolver and layout the plan was built from, shared by its entries.
        let source: Source
        /// The product's index in ``Source/products``.
        let row: Int
        /// What was set on this entry after the plan made it (a renamed path, a changed product).
        var edits: Edits?

        public var product: Product {
            get { edits?.product ?? source.products[row] }
            set { edit { $0.product = newValue } }
        }
        /// The URL the product is fetched from.
        public var url: String {
            get { edits?.url ?? source.resolver.url(for: product.uri) }
            set { edit { $0.url = newValue } }
        }
        /// The path under the root, `/`-separated (the intended one, for unsafe entries).
        public var path: String {
            get {
                if let path = edits?.path { return path }
                let product = product
                return source.layout == .nested ? "\(product.dataset)/\(product.filename)" : product.filename
            }
            set { edit { $0.path = newValue } }
        }
        public var disposition: Disposition
        /// The path the layout would have given, when a name collision forced another.
        public var renamedFrom: String? {
            get { edits?.fields.renamedFrom }
            set { edit { $0.renamedFrom = newValue } }
        }

        init(source: Source, row: Int, disposition: Disposition) {
            self.source = source
            self.row = row
            self.disposition = disposition
        }

        /// The folder and name its path joins, as ``PathKey`` compares them, without making the path.
        var pathKey: PathKey {
            if let path = edits?.path { return PathKey(folder: nil, name: path) }
            if let product = edits?.product {
                return PathKey(folder: source.layout == .nested ? product.dataset : nil, name: product.filename)
            }
            return PathKey(folder: source.layout == .nested ? source.products[row].dataset : nil, name: source.products[row].filename)
        }

        /// ``pathKey``'s hash alone (``PathKey/hashOnly(folder:name:)``): no lowered string is made.
        var pathHash: Int {
            if let path = edits?.path { return PathKey.hashOnly(folder: nil, name: path) }
            if let product = edits?.product {
                return PathKey.hashOnly(folder: source.layout == .nested ? product.dataset : nil, name: product.filename)
            }
            return PathKey.hashOnly(folder: source.layout == .nested ? source.products[row].dataset : nil, name: source.products[row].filename)
        }

        mutating func edit(_ change: (inout EditedFields) -> Void) {
            var fields = edits?.fields ?? EditedFields()
            change(&fields)
            edits = Edits(fields)
        }

        /// The plan's inputs, shared by its entries.
        final class Source: Sendable {
            let products: [Product]
            let resolver: URLResolver
            let layout: Layout

            init(products: [Product], resolver: URLResolver, layout: Layout) {
                self.products = products
                self.resolver = resolver
                self.layout = layout
            }
        }

        struct EditedFields: Sendable {
            var product: Product?
            var url: String?
            var path: String?
            var renamedFrom: String?
        }

        /// Edited fields, boxed so that an entry nobody edits costs one word for them; a new box on every
        /// change, never one shared box changed.
        final class Edits: Sendable {
            let fields: EditedFields
            init(_ fields: EditedFields) { self.fields = fields }
            var product: Product? { fields.product }
            var url: String? { fields.url }
            var path: String? { fields.path }
        }
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
    /// How the plan's URIs become URLs: the archive, and MAST's public bucket for `s3://` URIs.
    public let resolver: URLResolver
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
        self.resolver = resolver
        let source = Entry.Source(products: products, resolver: resolver, layout: layout)
        var summary = Summary()
        // One pass over the URIs: the totals count each once, and every row learns the first row with
        // its URI, which is how duplicates are found below.
        let firstRow = FirstRows.of(products)
        for index in products.indices where firstRow[index] == index {
            summary.totalFiles += 1
            summary.totalBytes = summary.totalBytes.addingSize(products[index].size)
        }
        var entries: [Entry] = []
        do {
        let picked = selection.select(products)
        entries.reserveCapacity(picked.reduce(0) { $1 ? $0 + 1 : $0 })
        // The entry that downloads each URI, by the URI's first row; -1 before one does.
        var primary = [Int](repeating: -1, count: products.count)
        // Rows of one dataset come together: its check is made once a run.
        var lastDataset: String?
        var datasetProblem: String?
        // Products read in place: an array's subscript would copy each one for a field.
        products.withUnsafeBufferPointer { products in
            // Which file names are safe (``SafePath/problem(in:what:)``), on two threads: the problem of
            // an unsafe one is asked again below. Bit 1: the file name is safe; bit 2: the row's dataset
            // differs from the row before's and is safe (asked where a dataset's run starts: a list of
            // one-product observations has a new dataset every row, which the loop below checked alone).
            let nested = layout == .nested
            let safeNames = Halves.map(products.count) { i -> UInt8 in
                var flags: UInt8 = SafePath.problem(in: products[i].filename, what: "") == nil ? 1 : 0
                if nested, i == 0 || products[i].dataset != products[i - 1].dataset, SafePath.problem(in: products[i].dataset, what: "") == nil {
                    flags |= 2
                }
                return flags
            }
            for index in products.indices where picked[index] {
                var entry = Entry(source: source, row: index, disposition: .download)
                if layout == .nested, products[index].dataset != lastDataset {
                    lastDataset = products[index].dataset
                    datasetProblem = safeNames[index] & 2 != 0 ? nil : SafePath.problem(in: products[index].dataset, what: "dataset")
                }
                if products[index].access == .exclusive && !authorized {
                    entry.disposition = .excluded("exclusive access needs a token")
                    summary.excludedExclusive += 1
                } else if let problem = (safeNames[index] & 1 != 0 ? nil : SafePath.problem(in: products[index].filename, what: "file name"))
                            ?? (layout == .nested ? datasetProblem : nil) {
                    entry.disposition = .unsafe(problem)
                    summary.unsafe += 1
                } else if primary[firstRow[index]] >= 0 {
                    entry.disposition = .duplicate(of: primary[firstRow[index]])
                    summary.duplicates += 1
                } else {
                    primary[firstRow[index]] = entries.count
                    summary.selectedFiles += 1
                    summary.selectedBytes = summary.selectedBytes.addingSize(products[index].size)
                }
                entries.append(entry)
            }
        }
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
        let downloads = entries.indices.filter { entries[$0].disposition == .download }
        // The paths' hashes on two threads first (``Halves``): the claims below are one thread's. The
        // entries and their products are read in place: an entry's copy (or its `pathHash`) retains
        // and releases the one source all entries share, from both threads at once, row after row.
        let source = entries.first?.source
        let nested = source?.layout == .nested
        let hashes = (source?.products ?? []).withUnsafeBufferPointer { products in
            entries.withUnsafeBufferPointer { entries in
                Halves.map(downloads.count) { k in
                    let i = downloads[k]
                    guard entries[i].edits == nil, entries[i].source === source else { return entries[i].pathHash }
                    let row = entries[i].row
                    return PathKey.hashOnly(folder: nested ? products[row].dataset : nil, name: products[row].filename)
                }
            }
        }
        let renames = collisions(
            downloads: downloads, hash: { entries[$0].pathHash }, hashes: hashes, key: { entries[$0].pathKey }, path: { entries[$0].path }
        )
        for (i, candidate) in renames {
            let original = entries[i].path
            entries[i].path = candidate
            entries[i].renamedFrom = original
        }
    }

    /// The new paths of the downloads that want a path an earlier one (or a manifest) has, in order,
    /// as ``resolveCollisions(_:)`` gives them: for a plan's entries, and for rows that are not entries
    /// (``ShardPlan/RowPlan``).
    ///
    /// - Parameters:
    ///   - downloads: The downloads in catalog order, by an index the closures take.
    ///   - hash: The ``PathKey/hash`` of a download's path (asked once each).
    ///   - key: A download's ``PathKey`` (asked only when two hashes agree in half).
    ///   - path: A download's path (asked only for those renamed).
    ///   - hashes: The downloads' hashes in order, when they are known already (`hash` is then not asked).
    static func collisions(
        downloads: [Int], hash: (Int) -> Int, hashes: [Int]? = nil, key: (Int) -> PathKey, path: (Int) -> String
    ) -> [(Int, String)] {
        // The manifests live at the root: a product never takes their names.
        let manifests = ["manifest.csv", "manifest.html"]
        // Every path a download wants, found by its hash: the first download (or manifest, as -1 - i)
        // that wants it, and in `others` a path whose hash another path had first. Claiming them in
        // catalog order finds the later rows that want a path an earlier one (or a manifest) has: only
        // those are renamed. An index per path, not a copy of it: a million paths cost a few megabytes.
        // A renamed download never claimed a path (it found another's claim), so renaming it changes
        // no claimer's key: the renames can be made after they are all found.
        var claims = FirstClaims(capacity: downloads.count + manifests.count)
        var others = Set<PathKey>()
        func keyOf(_ claimer: Int) -> PathKey {
            claimer >= 0 ? key(claimer) : PathKey(folder: nil, name: manifests[-1 - claimer])
        }
        func claim(_ hash: Int, by claimer: Int) -> Bool {
            if let first = claims.first(hash, else: claimer) {
                let path = keyOf(claimer)
                return keyOf(first) != path && others.insert(path).inserted
            }
            return true
        }
        func isWanted(_ path: PathKey) -> Bool {
            if let first = claims.first(path.hash), keyOf(first) == path { return true }
            return others.contains(path)
        }
        for i in manifests.indices { _ = claim(keyOf(-1 - i).hash, by: -1 - i) }
        var clashing: [Int] = []
        // Each download's hash is taken some downloads before its claim, and its slot asked of memory
        // then: a table of millions of paths is far bigger than the caches.
        let ahead = 16
        var ring = [Int](repeating: 0, count: ahead)
        func start(_ k: Int) {
            let h = hashes?[k] ?? hash(downloads[k])
            ring[k & (ahead - 1)] = h
            claims.prefetch(h)
        }
        for k in 0..<min(ahead, downloads.count) { start(k) }
        for (k, i) in downloads.enumerated() {
            let h = ring[k & (ahead - 1)]
            if k + ahead < downloads.count { start(k + ahead) }
            if !claim(h, by: i) { clashing.append(i) }
        }
        // A new name is never one a download wants, so it can only clash with another new name.
        var taken = Set(manifests)
        var renames: [(Int, String)] = []
        for i in clashing {
            let original = path(i)
            let (folder, name) = split(original)
            let (stem, ext) = splitExtension(name)
            var n = 2
            while true {
                let candidate = folder + "\(stem) (\(n))\(ext)"
                if !isWanted(PathKey(folder: nil, name: candidate)), taken.insert(candidate.lowercased()).inserted {
                    renames.append((i, candidate))
                    break
                }
                n += 1
            }
        }
        return renames
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
