/// Which products of a catalog to download: the Download Overlay's selectors (quick set, boxes, regex).
///
/// The selection is the union of the quick set and every checked box (levels, suffixes, guide stars,
/// pipeline inputs), then narrowed by the regular expression. When boxes are checked and no quick
/// selection is given, the quick set is `none`; when nothing at all is given, it is `all`.
public struct Selection: Sendable {
    /// The overlay's quick selections.
    public enum Quick: String, Sendable, Hashable, CaseIterable {
        /// Every product except JWST guide-star files.
        case all
        /// Nothing (only what checked boxes add): `none` on the command line. Not named `none`, which
        /// an optional `Quick?` would read as `nil`.
        case nothing = "none"
        /// The minimum set the archive recommends for science.
        case recommended
    }

    /// The quick selection as given; `nil` means `all`, or ``Quick/nothing`` when a box is checked.
    public var quick: Quick?
    /// Whole processing levels, each a checked box: `1b`, `2a`, `2b`, `3`, a `calib_level` number
    /// (`2` takes `2a` and `2b`), or an HST level name (`uncalibrated`, `calibrated`, `aux`, `hasp`).
    public var levels: [String]
    /// Product types, each a checked box: `CAL`, `_cal`, `x1dints`… (any case, leading `_` optional).
    public var suffixes: [String]
    /// Adds JWST guide-star files, only the highest calibration level of each guide-star exposure.
    public var guideStars: Bool
    /// Adds what running the calibration pipeline needs: uncalibrated exposures, association and pool files.
    public var pipelineInputs: Bool
    /// Keeps only products whose file name matches.
    public var pattern: FileNamePattern?
    /// Keeps only products that pass every filter (astroquery's `filter_products(column=[…])`: AND
    /// across filters, OR within one).
    public var filters: [ColumnFilter]
    /// Keeps only products whose file name ends with one of these (astroquery's `extension=`: `fits`,
    /// `.fits`, `_cal.fits`; any case). Empty keeps every name.
    public var extensions: [String]

    /// Whether a filter reads ``Product/Details``: the catalogs must then be loaded keeping them.
    package var needsDetails: Bool { filters.contains { $0.column.isDetail } }

    public init(
        quick: Quick? = nil, levels: [String] = [], suffixes: [String] = [], guideStars: Bool = false,
        pipelineInputs: Bool = false, pattern: FileNamePattern? = nil, filters: [ColumnFilter] = [], extensions: [String] = []
    ) {
        self.quick = quick
        self.levels = levels
        self.suffixes = suffixes
        self.guideStars = guideStars
        self.pipelineInputs = pipelineInputs
        self.pattern = pattern
        self.filters = filters
        self.extensions = extensions
    }

    /// Whether any box is checked.
    package var hasBoxes: Bool { !levels.isEmpty || !suffixes.isEmpty || guideStars || pipelineInputs }

    /// The quick set in effect.
    package var effectiveQuick: Quick { quick ?? (hasBoxes ? .nothing : .all) }

    /// Which products the selectors pick, in catalog order (access is decided later, by the plan).
    ///
    /// A product listed by an overlay CSV export is already a selection: with the quick set `all`
    /// its guide-star rows are taken too, so an export read back selects what was exported.
    public func select(_ products: [Product]) -> [Bool] {
        let rules = Rules(self)
        var picked = [Bool](repeating: false, count: products.count)
        // Products read in place: `map` or an array's subscript copies each one (a retain and a release
        // of each of its references), which was 4% of `select` on a million rows.
        products.withUnsafeBufferPointer { products in
            for i in products.indices where rules.takes(products[i]) { picked[i] = true }
        }
        if guideStars {
            for i in Self.highestGuideStars(products) { picked[i] = true }
        }
        products.withUnsafeBufferPointer { products in
            for i in products.indices where picked[i] && !rules.keeps(products[i]) { picked[i] = false }
        }
        return picked
    }

    /// The selection's verdict on one product at a time, as ``select(_:)`` applies it: what the quick
    /// set and the boxes take (``takes(_:)``), then what the regex, `--where` and `--extension` keep
    /// (``keeps(_:)``). Only the guide-star rule (the highest level of each exposure) looks at other
    /// rows: a reader that keeps no products (``PlanRows``) applies these to each row as it is read
    /// and that rule afterwards, and picks what ``select(_:)`` picks.
    struct Rules: Sendable {
        let selection: Selection
        let quick: Quick
        let levels: Set<String>
        let suffixes: Set<String>
        let endings: [String]
        /// The product fields ``takes(_:)``, ``keeps(_:)`` and ``Vocabulary/add(_:)`` read for this
        /// selection, besides the guide-star mark and ``Product/exported`` (always read): two products
        /// that differ in no other field get the same verdict and add the same values. A reader that
        /// keeps no products (``PlanRows``) judges one product for many rows so. Kept here, with what it
        /// describes: a change to what these read changes this too.
        let reads: Reads

        init(_ selection: Selection) {
            self.selection = selection
            quick = selection.effectiveQuick
            levels = Set(selection.levels.compactMap(Selection.normaliseLevel))
            suffixes = Set(selection.suffixes.compactMap(Product.normaliseSuffix))
            endings = selection.extensions.map { $0.trimmingSpaces().lowercased() }.filter { !$0.isEmpty }
            var reads: Reads = []
            if quick == .recommended { reads.insert(.recommended) }
            if !levels.isEmpty || !selection.levels.isEmpty { reads.formUnion([.level, .category]) }
            if !suffixes.isEmpty || !selection.suffixes.isEmpty { reads.insert(.suffix) }
            // `isPipelineInput` reads the file name too.
            if selection.pipelineInputs { reads.formUnion([.suffix, .level, .category, .ownFields]) }
            if selection.pattern != nil || !selection.extensions.isEmpty { reads.insert(.ownFields) }
            for filter in selection.filters { reads.formUnion(filter.column.reads) }
            self.reads = reads
        }

        /// Whether the quick set or a checked box takes the product (guide stars aside, which only
        /// their own rule adds). Inlined, so that a product read in place is not copied for the call.
        @inline(__always)
        func takes(_ p: Product) -> Bool {
            var take: Bool
            let guideStar = p.guideStar
            switch quick {
            case .all: take = !guideStar || p.exported
            case .nothing: take = false
            case .recommended: take = p.recommended && !guideStar
            }
            if !take, !guideStar, !levels.isEmpty || !suffixes.isEmpty || selection.pipelineInputs {
                take = takesByBox(p)
            }
            return take
        }

        /// Whether a checked box takes the product. Not inlined: the product is copied for it (on this
        /// path only).
        @inline(never)
        private func takesByBox(_ p: Product) -> Bool {
            for level in levels where p.isAtLevel(level) { return true }
            if !suffixes.isEmpty, let suffix = p.suffix, suffixes.contains(suffix) { return true }
            return selection.pipelineInputs && p.isPipelineInput
        }

        /// Whether the regex, every `--where` filter and the extensions let a taken product through.
        @inline(__always)
        func keeps(_ p: Product) -> Bool {
            selection.pattern == nil && selection.filters.isEmpty && endings.isEmpty ? true : keepsByFilters(p)
        }

        /// ``keeps(_:)`` when a regex, a `--where` or an `--extension` is given. Not inlined: the product
        /// is copied for it (on this path only).
        @inline(never)
        private func keepsByFilters(_ p: Product) -> Bool {
            if let pattern = selection.pattern, !pattern.matches(p.filename) { return false }
            for filter in selection.filters where !filter.matches(p) { return false }
            if !endings.isEmpty, !Selection.hasEnding(p.filename, endings) { return false }
            return true
        }
    }

    /// Product fields a selection reads (``Rules/reads``).
    struct Reads: OptionSet, Sendable {
        let rawValue: UInt16
        static let recommended = Reads(rawValue: 1 << 0)
        static let access = Reads(rawValue: 1 << 1)
        static let level = Reads(rawValue: 1 << 2)
        static let category = Reads(rawValue: 1 << 3)
        static let suffix = Reads(rawValue: 1 << 4)
        static let productType = Reads(rawValue: 1 << 5)
        static let dataset = Reads(rawValue: 1 << 6)
        static let mission = Reads(rawValue: 1 << 7)
        static let instrument = Reads(rawValue: 1 << 8)
        static let filters = Reads(rawValue: 1 << 9)
        static let details = Reads(rawValue: 1 << 10)
        /// A product's own URI, file name or size: no two products share a verdict then.
        static let ownFields = Reads(rawValue: 1 << 11)
    }

    /// The selected products, in catalog order.
    public func apply(to products: [Product]) -> [Product] {
        zip(products, select(products)).compactMap { $1 ? $0 : nil }
    }

    /// Whether a file name ends with one of `endings` (lower-case), in any case.
    static func hasEnding(_ filename: String, _ endings: [String]) -> Bool {
        let name = filename.lowercased()
        return endings.contains { name.hasSuffix($0) }
    }

    /// A `--level` value in the form products carry: lower case, `L1b`/`level 2b` read as `1b`/`2b`.
    static func normaliseLevel(_ raw: String) -> String? {
        var s = raw.trimmingSpaces().lowercased()
        for prefix in ["level ", "level", "l"] where s.hasPrefix(prefix) && s.dropFirst(prefix.count).first?.isNumber == true {
            s = String(s.dropFirst(prefix.count))
            break
        }
        return s.isEmpty ? nil : s
    }

    /// Indices of the guide-star products at the highest level of their exposure: one exposure is the
    /// dataset and the file name up to its suffix (`jw01…_gs-fg_2022…_cal.fits` and `…_uncal.fits`).
    static func highestGuideStars(_ products: [Product]) -> [Int] {
        var best: [String: Int] = [:]
        var members: [(Int, String, Int)] = []
        for (i, p) in products.enumerated() where p.guideStar {
            let exposure = guideStarExposure(p)
            let rank = Product.levelRank(p.level)
            best[exposure] = max(best[exposure] ?? .min, rank)
            members.append((i, exposure, rank))
        }
        return members.compactMap { i, exposure, rank in rank == best[exposure] ? i : nil }
    }

    /// The exposure a guide-star product belongs to: its dataset and its file name up to the suffix.
    static func guideStarExposure(_ p: Product) -> String {
        let stem = p.filename.prefix { $0 != "." }
        return p.dataset + "\u{0}" + String(stem.lastIndex(of: "_").map { stem[..<$0] } ?? stem)
    }
}

extension Product {
    /// Whether the product belongs to a level as `--level` names it: its own level, the HST name of
    /// its level, or a `calib_level` number that takes its sub-levels (`2` takes `2a` and `2b`).
    package func isAtLevel(_ wanted: String) -> Bool {
        Self.level(level, category: category, isAt: wanted)
    }

    /// Whether a product with this level and category belongs to the level `wanted` names.
    static func level(_ level: String?, category: String?, isAt wanted: String) -> Bool {
        if let level {
            if level == wanted { return true }
            if level.hasPrefix(wanted), level.utf8.count == wanted.utf8.count + 1, wanted.allSatisfy(\.isNumber),
               level.last?.isLetter == true {
                return true
            }
        }
        return category == wanted
    }

    /// What the calibration pipeline needs to be run again: uncalibrated exposures, associations, pools.
    package var isPipelineInput: Bool {
        guard !guideStar else { return false }
        if let suffix, ["UNCAL", "ASN", "POOL"].contains(suffix) { return true }
        if level == "1b" || category == "uncalibrated" { return true }
        let name = filename.lowercased()
        return name.contains("_asn.") || name.contains("_pool.")
    }
}
