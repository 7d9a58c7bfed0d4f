/// The values a catalog has, so that a selector naming something it does not have is an error rather
/// than an empty selection a pipeline cannot tell from success (``HaulError/Code/invalidArgument``, exit status 2).
extension Selection {
    /// Checks that every level, suffix, `--where` value and extension the selection names occurs in
    /// `products`.
    ///
    /// - Throws: ``HaulError`` (`invalidArgument`) for the first value that names nothing, with the
    ///   values the catalog has: `--level foo: this catalog has 1b, 2a, 2b, 3`.
    package func checkValues(in products: [Product]) throws {
        if !levels.isEmpty {
            var pairs = Set<LevelPair>()
            for p in products where p.level != nil || p.category != nil { pairs.insert(LevelPair(level: p.level, category: p.category)) }
            for raw in levels {
                guard let wanted = Self.normaliseLevel(raw) else { continue }
                if !pairs.contains(where: { Product.level($0.level, category: $0.category, isAt: wanted) }) {
                    // The levels in order (1b, 2a, 2b, 3), then the HST names (calibrated, uncalibrated…).
                    let levelNames = Set(pairs.compactMap(\.level))
                    let categories = Set(pairs.compactMap(\.category)).subtracting(levelNames)
                    let sorted = levelNames.sorted { (Product.levelRank($0), $0) < (Product.levelRank($1), $1) } + categories.sorted()
                    throw Self.unknown("--level \(raw)", known: sorted, kind: "levels", products: products.count)
                }
            }
        }
        if !suffixes.isEmpty {
            var known = Set<String>()
            for p in products { if let s = p.suffix { known.insert(s) } }
            for raw in suffixes {
                guard let wanted = Product.normaliseSuffix(raw) else { continue }
                if !known.contains(wanted) {
                    throw Self.unknown("--suffix \(raw)", known: known.sorted(), kind: "suffixes", products: products.count)
                }
            }
        }
        for filter in filters {
            var known: [String: String] = [:]
            for p in products {
                if let value = filter.column.value(of: p) {
                    let key = filter.column.key(value)
                    if known[key] == nil { known[key] = value }
                }
            }
            // Plain values, negated or not, must name something; comparisons and ranges need not.
            for raw in filter.values {
                guard case .equals(let value) = filter.term(raw).term else { continue }
                let present = filter.column.isNumeric
                    ? known.keys.contains { Double($0) != nil && Double($0) == Double(value) }
                    : known[filter.column.key(value)] != nil
                guard !present else { continue }
                let shown = known.values.sorted { (Int($0) ?? .max, $0) < (Int($1) ?? .max, $1) }
                throw Self.unknown("--where \(filter.column.rawValue)=\(raw)", known: shown, kind: "values in \(filter.column.rawValue)", products: products.count)
            }
        }
        for raw in extensions {
            let ending = raw.trimmingSpaces().lowercased()
            guard !ending.isEmpty, !products.contains(where: { Self.hasEnding($0.filename, [ending]) }) else { continue }
            var known = Set<String>()
            for p in products {
                let name = p.filename.lowercased()
                if let dot = name.firstIndex(of: "."), dot != name.startIndex { known.insert(String(name[name.index(after: dot)...])) }
            }
            throw Self.unknown("--extension \(raw)", known: known.sorted(), kind: "extensions", products: products.count)
        }
    }

    private struct LevelPair: Hashable {
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
