import Foundation

/// One data product of an archive, normalised from whichever catalog format listed it.
///
/// Every field but ``uri`` may be unknown in some format; the normalised form keeps what the
/// catalog said and derives nothing it would have to guess.
public struct Product: Sendable, Hashable {
    /// Who may download a product.
    public enum Access: String, Sendable, Hashable {
        case `public` = "PUBLIC"
        /// Exclusive-access (or otherwise restricted) data: needs an authorised token.
        case exclusive = "EXCLUSIVE_ACCESS"
    }

    /// The product's identity: a `mast:` URI, a missions-search relative `uri`, or an `http(s)` URL.
    /// Two products with one URI are one download.
    public var uri: String
    /// The file name the product is saved under.
    public var filename: String
    /// The parent dataset (observation id), the folder of the nested layout.
    public var dataset: String
    /// The fields that many products share (``Common``): one reference, where they were nine.
    var common: Common
    /// The size in bytes the catalog states, when it states one.
    public var size: Int64?
    /// The JSON row number the origin ends in (or the table's line, see ``originIsLine``), or -1.
    var originRow: Int
    // The one-byte fields together, after the words.
    /// Whether the archive marks this product as part of the minimum recommended set.
    public var recommended: Bool
    /// Whether this is a JWST guide-star file.
    public var guideStar: Bool
    public var access: Access
    /// Whether an overlay CSV export listed it: such a list is a selection already, so `--quick all`
    /// takes its guide-star rows too.
    package var exported: Bool
    /// Whether ``originRow`` is a line of a text table, written after the shared text (`p.csv:12`), not a
    /// JSON row number in brackets.
    var originIsLine = false

    /// The mission or collection (`JWST`, `HST`, …), when known.
    public var mission: String? {
        get { common.values.mission }
        set { common = common.with { $0.mission = newValue } }
    }
    /// The processing level, normalised lower-case: a JWST level (`1b`, `2a`, `2b`, `3`), a CAOM
    /// `calib_level` number, or an HST level name (`uncalibrated`, `calibrated`, `aux`, `hasp`).
    /// This is the export's `Product Level`.
    public var level: String? {
        get { common.values.level }
        set { common = common.with { $0.level = newValue } }
    }
    /// The level's name as missions search groups HST products (`uncalibrated`, `calibrated`, `aux`,
    /// `hasp`), when the catalog says it or its CAOM fields imply it; `--level calibrated` matches it.
    public var category: String? {
        get { common.values.category }
        set { common = common.with { $0.category = newValue } }
    }
    /// The product type within its level, normalised upper-case without a leading underscore (`CAL`):
    /// the catalog's subgroup or suffix, else the file name's last `_` part (`x_cal.fits` → `CAL`).
    public var suffix: String? {
        get { common.values.suffix }
        set { common = common.with { $0.suffix = newValue } }
    }
    /// CAOM `productType` (`SCIENCE`, `AUXILIARY`, `INFO`, …) or the missions-search `type`.
    public var productType: String? {
        get { common.values.productType }
        set { common = common.with { $0.productType = newValue } }
    }
    public var instrument: String? {
        get { common.values.instrument }
        set { common = common.with { $0.instrument = newValue } }
    }
    public var filters: String? {
        get { common.values.filters }
        set { common = common.with { $0.filters = newValue } }
    }
    /// The CAOM columns kept only for `--where` (see ``Details``), when the catalog has any of them.
    public var details: Details? {
        get { common.values.details }
        set { if newValue !== common.values.details { common = common.with { $0.details = newValue } } }
    }
    /// The origin, or (for a JSON row) its part before the row number, which every row of the
    /// catalog shares: a million rows do not make a million strings that messages may never need.
    var originText: String {
        get { common.values.originText }
        set { if !String.sameBytes(common.values.originText, newValue) { common = common.with { $0.originText = newValue } } }
    }
    /// Which catalog and row this product came from, for messages (`list.json: data[12]`).
    package var origin: String {
        get { originRow < 0 ? originText : originIsLine ? "\(originText)\(originRow)" : "\(originText)[\(originRow)]" }
        set {
            originText = newValue
            originRow = -1
            originIsLine = false
        }
    }

    public init(
        uri: String, filename: String, dataset: String, mission: String? = nil, level: String? = nil,
        category: String? = nil, suffix: String? = nil, productType: String? = nil, recommended: Bool = false, guideStar: Bool = false,
        access: Access = .public, size: Int64? = nil, instrument: String? = nil, filters: String? = nil,
        origin: String = "", exported: Bool = false
    ) {
        self.init(
            uri: uri, filename: filename, dataset: dataset,
            common: Common(Common.Values(
                mission: mission, level: level, category: category, suffix: suffix, productType: productType,
                instrument: instrument, filters: filters, originText: origin, details: nil
            )),
            recommended: recommended, guideStar: guideStar, access: access, size: size, exported: exported
        )
    }

    /// A product whose shared fields are `common` (one a reader made for many products, ``CommonTable``).
    init(
        uri: String, filename: String, dataset: String, common: Common, recommended: Bool, guideStar: Bool, access: Access,
        size: Int64?, exported: Bool = false
    ) {
        self.uri = uri
        self.filename = filename
        self.dataset = dataset
        self.common = common
        self.size = size
        self.originRow = -1
        self.recommended = recommended
        self.guideStar = guideStar
        self.access = access
        self.exported = exported
    }

    /// Sets the origin to `text[row]` (`list.json: data[12]`), keeping `text` shared.
    mutating func setOrigin(_ text: String, row: Int) {
        originText = text
        originRow = row
        originIsLine = false
    }

    /// Sets the origin to `text` then `line` (`p.csv:` and 12: `p.csv:12`), keeping `text` shared: a
    /// million table rows do not make a million strings that messages may never need.
    mutating func setOrigin(_ text: String, line: Int) {
        originText = text
        originRow = line
        originIsLine = true
    }

    public static func == (a: Product, b: Product) -> Bool {
        a.uri == b.uri && a.filename == b.filename && a.dataset == b.dataset && a.mission == b.mission
            && a.level == b.level && a.category == b.category && a.suffix == b.suffix && a.productType == b.productType
            && a.recommended == b.recommended && a.guideStar == b.guideStar && a.access == b.access && a.size == b.size
            && a.instrument == b.instrument && a.filters == b.filters && a.exported == b.exported && a.details == b.details
            && ((a.originText == b.originText && a.originRow == b.originRow && a.originIsLine == b.originIsLine) || a.origin == b.origin)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(uri)
        hasher.combine(filename)
        hasher.combine(dataset)
        hasher.combine(size)
    }
}

extension Product {
    /// The fields of a product that many products share: its mission, level, category, suffix, product
    /// type, instrument and filters (a catalog has a few of each), the text its origin starts with (its
    /// catalog's) and its ``Details``. Rows with the same values share one of these (``CommonTable``):
    /// a product is 88 bytes rather than 208, and copying one retains four references rather than
    /// thirteen. Never changed: a product given another value gets another one.
    final class Common: Sendable {
        struct Values: Sendable {
            var mission, level, category, suffix, productType, instrument, filters: String?
            var originText: String
            var details: Details?

            /// Whether the values are `other`'s, byte for byte (and the same ``Details``).
            func isSame(as other: Values) -> Bool {
                Self.same(mission, other.mission) && Self.same(level, other.level) && Self.same(category, other.category)
                    && Self.same(suffix, other.suffix) && Self.same(productType, other.productType)
                    && Self.same(instrument, other.instrument) && Self.same(filters, other.filters)
                    && (originText.words == other.originText.words || String.sameBytes(originText, other.originText))
                    && details === other.details
            }

            private static func same(_ a: String?, _ b: String?) -> Bool {
                switch (a, b) {
                case (nil, nil): return true
                case let (a?, b?): return a.words == b.words || String.sameBytes(a, b)
                default: return false
                }
            }

            /// A quick hash of the values, from the words each string is held in (``Swift/String/words``):
            /// the values a reader shares are the same strings, row after row, and an equal string held
            /// otherwise only misses the cache.
            var hint: Int {
                var h: UInt64 = 0x9E37_79B9_7F4A_7C15
                @inline(__always) func mix(_ text: String?) {
                    let (a, b) = text?.words ?? (0x51, 0)
                    h = (h ^ a ^ b &* 0x9E37_79B9_7F4A_7C15) &* 0xFF51_AFD7_ED55_8CCD
                    h ^= h >> 29
                }
                mix(mission)
                mix(level)
                mix(category)
                mix(suffix)
                mix(productType)
                mix(instrument)
                mix(filters)
                mix(originText)
                return Int(truncatingIfNeeded: h ^ h >> 32)
            }
        }

        let values: Values

        init(_ values: Values) { self.values = values }

        /// The values with one change, in a new one.
        func with(_ change: (inout Values) -> Void) -> Common {
            var values = values
            change(&values)
            return Common(values)
        }
    }

    /// One reader's ``Common``s, each set of values made once while it is in use: the last one, then a
    /// cache of 1,024 by a quick hash of the values, the newest in each slot (a catalog whose rows all
    /// differ, as a table whose origins are per row, costs a lookup a row and no more memory).
    /// One reader's, on one thread.
    final class CommonTable {
        private var slots = [Common?](repeating: nil, count: 1024)
        private var last: Common?

        func common(_ values: Common.Values) -> Common {
            if let last, last.values.isSame(as: values) { return last }
            let slot = values.hint & (slots.count - 1)
            if let known = slots[slot], known.values.isSame(as: values) {
                last = known
                return known
            }
            let made = Common(values)
            slots[slot] = made
            last = made
            return made
        }
    }
}

extension Product {
    /// CAOM columns that astroquery's `filter_products` users filter on and nothing else reads:
    /// `description`, `project`, `proposal_id`, `dataproduct_type`. A catalog's rows repeat a few
    /// combinations of them (per proposal and product kind), so rows with the same values share one of
    /// these: a million products pay a reference each, not four strings. (`parent_obsid` differs from
    /// one observation to the next, so it would share nothing: it is not kept.)
    public final class Details: Sendable, Hashable {
        public let description: String?
        public let project: String?
        public let proposalID: String?
        public let dataProductType: String?

        public init(description: String?, project: String?, proposalID: String?, dataProductType: String?) {
            self.description = description
            self.project = project
            self.proposalID = proposalID
            self.dataProductType = dataProductType
        }

        public static func == (a: Details, b: Details) -> Bool {
            a === b || (a.description == b.description && a.project == b.project && a.proposalID == b.proposalID
                && a.dataProductType == b.dataProductType)
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(description)
            hasher.combine(project)
            hasher.combine(proposalID)
            hasher.combine(dataProductType)
        }
    }

    /// Whether a file name or product subgroup marks a JWST guide-star product (`_gs-`, `GS-…`).
    static func isGuideStar(filename: String, subgroup: String?) -> Bool {
        var name = filename
        return isGuideStar(marked: name.withUTF8(hasGuideStarMark), subgroup: subgroup)
    }

    /// ``isGuideStar(filename:subgroup:)`` with the file name's part already known: whether it has the mark.
    static func isGuideStar(marked: Bool, subgroup: String?) -> Bool {
        if marked { return true }
        if let subgroup, subgroup.uppercasedHasPrefix("GS-") { return true }
        return false
    }

    /// Whether a file name's bytes hold `_gs-` in any case.
    static func hasGuideStarMark(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count >= 4 else { return false }
        for i in 0...(bytes.count - 4) where bytes[i] == UInt8(ascii: "_") && bytes[i + 3] == UInt8(ascii: "-")
            && bytes[i + 1] | 0x20 == UInt8(ascii: "g") && bytes[i + 2] | 0x20 == UInt8(ascii: "s") {
            return true
        }
        return false
    }

    /// Whether a CAOM `productGroupDescription` names the minimum recommended set (any case,
    /// surrounding spaces ignored). Rows repeat the phrase, so plain ASCII is compared in place.
    static func namesRecommendedSet(_ group: String) -> Bool {
        let phrase = "minimum recommended products".utf8
        var text = group
        let plain: Bool? = text.withUTF8 { bytes in
            // Beyond ASCII, or with a CR (CR LF is one Character, which trimming keeps), ask String.
            guard !bytes.contains(where: { $0 >= 0x80 || $0 == 0x0D }) else { return nil }
            var from = 0
            var to = bytes.count
            while from < to, bytes[from] == 0x20 || bytes[from] == 0x09 || bytes[from] == 0x0A { from += 1 }
            while to > from, bytes[to - 1] == 0x20 || bytes[to - 1] == 0x09 || bytes[to - 1] == 0x0A { to -= 1 }
            guard to - from == phrase.count else { return false }
            var i = from
            for b in phrase {
                let a = bytes[i]
                guard (a >= 0x41 && a <= 0x5A ? a | 0x20 : a) == b else { return false }
                i += 1
            }
            return true
        }
        return plain ?? (group.trimmingSpaces().lowercased() == "minimum recommended products")
    }

    /// A suffix in its normalised form: upper-case, no leading underscore, no surrounding spaces.
    static func normaliseSuffix(_ raw: String?) -> String? {
        guard var s = raw?.trimmingSpaces(), !s.isEmpty else { return nil }
        while s.hasPrefix("_") { s.removeFirst() }
        return s.isEmpty ? nil : s.isUppercaseASCII ? s : s.uppercased()
    }

    /// A level in its normalised form: lower-case, no surrounding spaces.
    static func normaliseLevel(_ raw: String?) -> String? {
        guard let s = raw?.trimmingSpaces(), !s.isEmpty else { return nil }
        return s.isLowercaseASCII ? s : s.lowercased()
    }

    /// The JWST processing level a product suffix belongs to (the pipeline's stage that writes it), if known.
    static func jwstLevel(forSuffix suffix: String) -> String? {
        switch suffix.isUppercaseASCII ? suffix : suffix.uppercased() {
        case "UNCAL": return "1b"
        case "RATE", "RATEINTS", "TRAPSFILLED", "ROSCAL", "RAMP", "DARK", "FITOPT": return "2a"
        case "CAL", "CALINTS", "I2D", "S2D", "S3D", "X1D", "X1DINTS", "WHTLT", "BSUB", "BSUBINTS", "CRF", "CRFINTS",
             "PSFSUB", "PSFALIGN", "C1D", "PHOTOM":
            return "2b"
        default: return nil
        }
    }

    /// The suffix a MAST file name carries: its last `_` part before the extension
    /// (`jw01_nrca1_cal.fits` → `CAL`, `z14z0104t_shf.fits` → `SHF`), `nil` when it has none.
    static func suffix(ofFilename filename: String) -> String? {
        var name = filename
        // Plain ASCII (every MAST name): the same answer from the bytes, without walking Characters.
        if let ascii = name.withUTF8(suffix(ofASCIIName:)) { return ascii }
        let stem = filename.prefix { $0 != "." }
        guard let underscore = stem.lastIndex(of: "_") else { return nil }
        let part = stem[stem.index(after: underscore)...]
        guard !part.isEmpty, part.count <= 32 else { return nil }
        return part.uppercased()
    }

    /// ``suffix(ofFilename:)`` of a name given as its bytes, when they are plain ASCII without a CR (where
    /// bytes are Characters); `.none` for any other name, which only the `String` answers.
    static func suffix(ofASCIIName bytes: UnsafeBufferPointer<UInt8>) -> String?? {
        guard !bytes.contains(where: { $0 >= 0x80 || $0 == 0x0D }) else { return .none }
        let stemEnd = bytes.firstIndex(of: UInt8(ascii: ".")) ?? bytes.count
        guard let underscore = bytes[..<stemEnd].lastIndex(of: UInt8(ascii: "_")) else { return .some(nil) }
        let part = UnsafeBufferPointer(rebasing: bytes[(underscore + 1)..<stemEnd])
        guard !part.isEmpty, part.count <= 32 else { return .some(nil) }
        return .some(String(unsafeUninitializedCapacity: part.count) { out in
            for (i, b) in part.enumerated() { out[i] = b >= 0x61 && b <= 0x7A ? b - 0x20 : b }
            return part.count
        })
    }

    /// Whether a product is JWST's, by its mission or its file name (`jw…`).
    static func isJWST(mission: String?, filename: String) -> Bool {
        isJWST(mission: mission, named: namesJWST(filename))
    }

    /// ``isJWST(mission:filename:)`` with the file name's part already known (``namesJWST(_:)``).
    static func isJWST(mission: String?, named: @autoclosure () -> Bool) -> Bool {
        if let mission { return mission.uppercasedEquals("JWST") }
        return named()
    }

    /// Whether a file name is a JWST one (`jw…`, any case).
    static func namesJWST(_ filename: String) -> Bool {
        filename.utf8.count > 2 && filename.prefix(2).lowercased() == "jw"
    }

    /// ``namesJWST(_:)`` of a name given as bytes that are plain ASCII (where bytes are Characters).
    static func namesJWST(ascii bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.count > 2 && bytes[0] | 0x20 == UInt8(ascii: "j") && bytes[1] | 0x20 == UInt8(ascii: "w")
    }

    /// A JWST product's level: the catalog's when it names a sub-level or level 3, else the stage of
    /// its suffix (`calib_level` 2 with suffix `CAL` is `2b`), else the catalog's number.
    static func jwstLevel(stated: String?, suffix: String?, filename: String) -> String? {
        jwstLevel(stated: stated, suffix: suffix, nameSuffix: Product.suffix(ofFilename: filename))
    }

    /// ``jwstLevel(stated:suffix:filename:)`` with the file name's suffix (``suffix(ofFilename:)``) asked
    /// for only when needed.
    static func jwstLevel(stated: String?, suffix: String?, nameSuffix: @autoclosure () -> String?) -> String? {
        if let stated, stated != "0" && stated != "1" && stated != "2" { return stated }
        return suffix.flatMap(jwstLevel(forSuffix:)) ?? nameSuffix().flatMap(jwstLevel(forSuffix:)) ?? stated
    }

    /// The missions-search name of an HST product's level, from CAOM's fields.
    static func hstCategory(level: String?, productType: String?, project: String?) -> String? {
        if project?.trimmingSpaces().uppercasedEquals("HASP") == true { return "hasp" }
        if let level, ["uncalibrated", "calibrated", "aux", "hasp"].contains(level) { return level }
        if productType?.trimmingSpaces().uppercasedEquals("AUXILIARY") == true { return "aux" }
        switch level {
        case "1": return "uncalibrated"
        case "2", "3": return "calibrated"
        default: return nil
        }
    }

    /// A level's rank for "the highest calibration level": `1` < `1b` < `2` < `2a` < `2b` < `3`; names
    /// rank as their numbers; unknown levels lowest.
    static func levelRank(_ level: String?) -> Int {
        guard let level else { return -1 }
        switch level {
        case "uncalibrated": return 10
        case "calibrated": return 20
        case "hasp": return 30
        case "aux": return 0
        default: break
        }
        let digits = level.prefix { $0.isASCII && $0.isNumber }
        guard let number = Int(digits), number < 100 else { return -1 }
        let rest = level.dropFirst(digits.count)
        guard let letter = rest.first, rest.count == 1, letter.isASCII, letter.isLetter else { return number * 10 }
        return number * 10 + Int(letter.asciiValue! - UInt8(ascii: "a") + 1)
    }
}

extension StringProtocol {
    /// The string without leading and trailing spaces, tabs and line breaks.
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = lastIndex(where: { !isSpace($0) })!
        return String(self[first...last])
    }
}

extension String {
    /// The two words a string is held in: a pointer to its storage and its flags, or its bytes when
    /// it is short. Equal words are one string; equal strings may be held in other words.
    var words: (UInt64, UInt64) { unsafeBitCast(self, to: (UInt64, UInt64).self) }

    /// Whether two strings are the same bytes (where `==` also finds canonically equivalent ones equal).
    static func sameBytes(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        let compared = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y in x.isEmpty || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 }
        }
        return (compared ?? nil) ?? a.utf8.elementsEqual(b.utf8)
    }

    /// The string without leading and trailing spaces, tabs and line breaks; the string itself, not a
    /// copy, when there are none (checked on the bytes: a Character that is one of them starts, and
    /// ends, with that byte).
    func trimmingSpaces() -> String {
        if let first = utf8.first, let last = utf8.last,
           first != 0x20, first != 0x09, first != 0x0A, first != 0x0D, last != 0x20, last != 0x09, last != 0x0A, last != 0x0D {
            return self
        }
        return self[...].trimmingSpaces()
    }
}

extension String {
    // MAST's values are plain ASCII, and a million rows ask these questions of them: for ASCII the
    // answer is read from the bytes, which is what `uppercased()`/`lowercased()` would give (they map
    // only `a`–`z`/`A`–`Z` there); any other string is asked as before.

    /// Whether `uppercased()` is the string itself: plain ASCII with no `a`–`z` (false for any other string).
    var isUppercaseASCII: Bool {
        utf8.allSatisfy { $0 < 0x80 && !($0 >= 0x61 && $0 <= 0x7A) }
    }

    /// Whether `lowercased()` is the string itself: plain ASCII with no `A`–`Z` (false for any other string).
    var isLowercaseASCII: Bool {
        utf8.allSatisfy { $0 < 0x80 && !($0 >= 0x41 && $0 <= 0x5A) }
    }

    /// `uppercased() == upper`, for `upper` upper-case ASCII, without making the upper-case string.
    func uppercasedEquals(_ upper: String) -> Bool {
        guard utf8.allSatisfy({ $0 < 0x80 }) else { return uppercased() == upper }
        guard utf8.count == upper.utf8.count else { return false }
        return zipUppercased(upper)
    }

    /// `uppercased().hasPrefix(upper)`, for `upper` upper-case ASCII, without making the upper-case string.
    func uppercasedHasPrefix(_ upper: String) -> Bool {
        guard utf8.allSatisfy({ $0 < 0x80 }) else { return uppercased().hasPrefix(upper) }
        guard utf8.count >= upper.utf8.count else { return false }
        return zipUppercased(upper)
    }

    /// Whether the string's first bytes, upper-cased as ASCII, are `upper`'s.
    private func zipUppercased(_ upper: String) -> Bool {
        var mine = utf8.makeIterator()
        for u in upper.utf8 {
            guard let b = mine.next(), (b >= 0x61 && b <= 0x7A ? b - 0x20 : b) == u else { return false }
        }
        return true
    }
}
