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
    /// The mission or collection (`JWST`, `HST`, …), when known.
    public var mission: String?
    /// The processing level, normalised lower-case: a JWST level (`1b`, `2a`, `2b`, `3`), a CAOM
    /// `calib_level` number, or an HST level name (`uncalibrated`, `calibrated`, `aux`, `hasp`).
    public var level: String?
    /// The product type within its level, normalised upper-case without a leading underscore (`CAL`).
    public var suffix: String?
    /// CAOM `productType` (`SCIENCE`, `AUXILIARY`, `INFO`, …) or the missions-search `type`.
    public var productType: String?
    /// Whether the archive marks this product as part of the minimum recommended set.
    public var recommended: Bool
    /// Whether this is a JWST guide-star file.
    public var guideStar: Bool
    public var access: Access
    /// The size in bytes the catalog states, when it states one.
    public var size: Int64?
    public var instrument: String?
    public var filters: String?
    /// Which catalog and row this product came from, for messages (`list.json: data[12]`).
    public var origin: String

    public init(
        uri: String, filename: String, dataset: String, mission: String? = nil, level: String? = nil,
        suffix: String? = nil, productType: String? = nil, recommended: Bool = false, guideStar: Bool = false,
        access: Access = .public, size: Int64? = nil, instrument: String? = nil, filters: String? = nil,
        origin: String = ""
    ) {
        self.uri = uri
        self.filename = filename
        self.dataset = dataset
        self.mission = mission
        self.level = level
        self.suffix = suffix
        self.productType = productType
        self.recommended = recommended
        self.guideStar = guideStar
        self.access = access
        self.size = size
        self.instrument = instrument
        self.filters = filters
        self.origin = origin
    }
}

extension Product {
    /// Whether a file name or product subgroup marks a JWST guide-star product (`_gs-`, `GS-…`).
    static func isGuideStar(filename: String, subgroup: String?) -> Bool {
        if filename.lowercased().contains("_gs-") { return true }
        if let subgroup, subgroup.uppercased().hasPrefix("GS-") { return true }
        return false
    }

    /// A suffix in its normalised form: upper-case, no leading underscore, no surrounding spaces.
    static func normaliseSuffix(_ raw: String?) -> String? {
        guard var s = raw?.trimmingSpaces(), !s.isEmpty else { return nil }
        while s.hasPrefix("_") { s.removeFirst() }
        return s.isEmpty ? nil : s.uppercased()
    }

    /// A level in its normalised form: lower-case, no surrounding spaces.
    static func normaliseLevel(_ raw: String?) -> String? {
        guard let s = raw?.trimmingSpaces(), !s.isEmpty else { return nil }
        return s.lowercased()
    }

    /// The JWST processing level a product suffix belongs to (the overlay's grouping), if known.
    static func jwstLevel(forSuffix suffix: String) -> String? {
        switch suffix.uppercased() {
        case "UNCAL": return "1b"
        case "RATE", "RATEINTS", "TRAPSFILLED", "ROSCAL", "RAMP": return "2a"
        case "CAL", "CALINTS", "I2D", "S2D", "S3D", "X1D", "X1DINTS", "WHTLT", "BSUB", "BSUBINTS", "CRF", "CRFINTS":
            return "2b"
        case "ASN", "POOL": return nil
        default: return nil
        }
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
