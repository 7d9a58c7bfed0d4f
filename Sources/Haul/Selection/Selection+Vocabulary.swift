/// The values a catalog has, so that a selector naming something it does not have is an error rather
/// than an empty selection a pipeline cannot tell from success (``HaulError/Code/invalidArgument``, exit status 2).
extension Selection {
    /// Checks that every level, suffix, `--where` value and extension the selection names occurs in
    /// `products`.
    ///
    /// - Throws: ``HaulError`` (`invalidArgument`) for the first value that names nothing, with the
    ///   values the catalog has: `--level foo: this catalog has 1b, 2a, 2b, 3`.
    package func checkValues(in products: [Product]) throws {
        // A selection that names no value has nothing to check: a million products are not walked for it.
        guard !levels.isEmpty || !suffixes.isEmpty || !filters.isEmpty || !extensions.isEmpty else { return }
        var vocabulary = Vocabulary(self)
        for i in products.indices { vocabulary.add(products[i]) }
        try vocabulary.check()
    }

    /// What ``checkValues(in:)`` needs of a catalog, gathered a product at a time: the values of the
    /// columns the selection names and nothing else, so that a reader that keeps no products
    /// (``PlanRows``) can check them too. Two threads each reading a part gather a vocabulary each;
    /// ``merge(_:)`` joins them in catalog order.
    struct Vocabulary: Sendable {
        let selection: Selection
        private(set) var products = 0
        /// The (level, category) pairs, when `--level` is given.
        private var pairs = Set<LevelPair>()
        /// The suffixes, when `--suffix` is given.
        private var suffixes = Set<String>()
        /// For each `--where` filter, its column's values by the key they are compared by: the first
        /// value in catalog order with that key.
        private var known: [[String: String]]
        /// For each `--extension`, whether a file name ends with it; and the names' extensions.
        private var endingFound: [Bool]
        private var extensions = Set<String>()
        private let endings: [String]

        init(_ selection: Selection) {
            self.selection = selection
            known = Array(repeating: [:], count: selection.filters.count)
            endings = selection.extensions.map { $0.trimmingSpaces().lowercased() }
            endingFound = Array(repeating: false, count: endings.count)
        }

        mutating func add(_ p: Product) {
            products += 1
            if !selection.levels.isEmpty, p.level != nil || p.category != nil { pairs.insert(LevelPair(level: p.level, category: p.category)) }
            if !selection.suffixes.isEmpty, let s = p.suffix { suffixes.insert(s) }
            for (i, filter) in selection.filters.enumerated() {
                if let value = filter.column.value(of: p) {
                    let key = filter.column.key(value)
                    if known[i][key] == nil { known[i][key] = value }
                }
            }
            if !endings.isEmpty {
                for (i, ending) in endings.enumerated() where !endingFound[i] && !ending.isEmpty && Selection.hasEnding(p.filename, [ending]) {
                    endingFound[i] = true
                }
                let name = p.filename.lowercased()
                if let dot = name.firstIndex(of: "."), dot != name.startIndex { extensions.insert(String(name[name.index(after: dot)...])) }
            }
        }

        /// Counts a product whose values an earlier ``add(_:)`` gathered already, a product that differs from
        /// that one only in what this vocabulary does not read (its URI, file name and size, when no
        /// `--extension` and no `--where` on those columns is given).
        mutating func addSame() {
            products += 1
        }

        /// Adds what another vocabulary gathered from the products after this one's.
        mutating func merge(_ later: Vocabulary) {
            products += later.products
            pairs.formUnion(later.pairs)
            suffixes.formUnion(later.suffixes)
            for i in known.indices { known[i].merge(later.known[i]) { first, _ in first } }
            for i in endingFound.indices { endingFound[i] = endingFound[i] || later.endingFound[i] }
            extensions.formUnion(later.extensions)
        }

        /// - Throws: ``HaulError`` (`invalidArgument`), as ``Selection/checkValues(in:)`` describes.
        func check() throws {
            for raw in selection.levels {
                guard let wanted = Selection.normaliseLevel(raw) else { continue }
                if !pairs.contains(where: { Product.level($0.level, category: $0.category, isAt: wanted) }) {
                    // The levels in order (1b, 2a, 2b, 3), then the HST names (calibrated, uncalibrated…).
                    let levelNames = Set(pairs.compactMap(\.level))
                    let categories = Set(pairs.compactMap(\.category)).subtracting(levelNames)
                    let sorted = levelNames.sorted { (Product.levelRank($0), $0) < (Product.levelRank($1), $1) } + categories.sorted()
                    throw Selection.unknown("--level \(raw)", known: sorted, kind: "levels", products: products)
                }
            }
            for raw in selection.suffixes {
                guard let wanted = Product.normaliseSuffix(raw) else { continue }
                if !suffixes.contains(wanted) {
                    throw Selection.unknown("--suffix \(raw)", known: suffixes.sorted(), kind: "suffixes", products: products)
                }
            }
            for (i, filter) in selection.filters.enumerated() {
                // Plain values, negated or not, must name something; comparisons and ranges need not.
                for raw in filter.values {
                    guard case .equals(let value) = filter.term(raw).term else { continue }
                    let present = filter.column.isNumeric
                        ? known[i].keys.contains { Double($0) != nil && Double($0) == Double(value) }
                        : known[i][filter.column.key(value)] != nil
                    guard !present else { continue }
                    let shown = known[i].values.sorted { (Int($0) ?? .max, $0) < (Int($1) ?? .max, $1) }
                    throw Selection.unknown("--where \(filter.column.rawValue)=\(raw)", known: shown, kind: "values in \(filter.column.rawValue)", products: products)
                }
            }
            for (i, raw) in selection.extensions.enumerated() {
                guard !endings[i].isEmpty, !endingFound[i] else { continue }
                throw Selection.unknown("--extension \(raw)", known: extensions.sorted(), kind: "extensions", products: products)
            }
        }
    }

    fileprivate struct LevelPair: Hashable {
        var level: String?
        var category: String?
    }

    /// "--level foo: this catalog has 1b, 2a, 2b, 3", at most 24 values named.
    static func unknown(_ what: String, known: [String], kind: String, products: Int) -> HaulError {
        let limit = 24
        let text: String
        if products == 0 {
            text = "the catalog lists no products"
        } else if known.isEmpty {
            text = "this catalog has no \(kind)"
        } else if known.count <= limit {
            text = "this catalog has " + known.joined(separator: ", ")
        } else {
            text = "this catalog has " + known.prefix(limit).joined(separator: ", ") + " … (\(known.count) \(kind) in all)"
        }
        return HaulError(.invalidArgument, "\(what): \(text)")
    }
}
