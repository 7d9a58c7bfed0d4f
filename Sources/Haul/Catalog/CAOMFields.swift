import Foundation

/// A CAOM row's fields but its URI, file name and size, as ``Catalog/caomProduct(_:)`` reads them, and
/// the product they make with a file name: the one CAOM mapping, for the rows of a list one at a time
/// and for `haul plan`, which reads most rows' fields once for many rows (``PlanRows/appendCAOM(_:)``).
struct CAOMFields {
    var dataset: String
    var mission: String?
    var subgroup: String?
    /// `calib_level`, normalised.
    var stated: String?
    var productType: String?
    var recommended: Bool
    var access: Product.Access
    /// Read only for what it tells of an HST row's category (``category(_:)``).
    var project: String?
    var instrument: String?
    var filters: String?
    /// The subgroup as a suffix, which a file name's suffix only stands in for.
    let subgroupSuffix: String?
    /// Whether the mission is JWST (``Product/isJWST(mission:filename:)``); `nil` when none is given (the
    /// file name then tells).
    let missionIsJWST: Bool?
    /// Whether the subgroup marks a guide star (``Product/isGuideStar(filename:subgroup:)``).
    let subgroupGuideStar: Bool

    /// - Parameter memo: What the mapping made of the last mission and subgroup (one reader's).
    init(
        dataset: String, mission: String?, subgroup: String?, stated: String?, productType: String?, recommended: Bool,
        access: Product.Access, project: String?, instrument: String?, filters: String?, memo: RowMemo? = nil
    ) {
        self.dataset = dataset
        self.mission = mission
        self.subgroup = subgroup
        self.stated = stated
        self.productType = productType
        self.recommended = recommended
        self.access = access
        self.project = project
        self.instrument = instrument
        self.filters = filters
        if let memo {
            (subgroupSuffix, subgroupGuideStar) = memo.subgroup(subgroup)
            missionIsJWST = memo.missionIsJWST(mission)
        } else {
            subgroupSuffix = Product.normaliseSuffix(subgroup)
            missionIsJWST = Self.missionIsJWST(mission)
            subgroupGuideStar = Self.subgroupGuideStar(subgroup)
        }
    }

    static func missionIsJWST(_ mission: String?) -> Bool? {
        mission.map { Product.isJWST(mission: $0, named: false) }
    }

    static func subgroupGuideStar(_ subgroup: String?) -> Bool {
        Product.isGuideStar(marked: false, subgroup: subgroup)
    }

    /// The dataset: `obs_id`, else `obsID`, else `parent_obsid`.
    static func dataset(_ row: JSONRow) throws -> String {
        try row.string(.obsId) ?? row.integerOrString(.obsID) ?? row.integerOrString(.parentObsid) ?? ""
    }

    static func stated(_ row: JSONRow) throws -> String? {
        Product.normaliseLevel(try row.integerOrString(.calibLevel))
    }

    /// What a product's file name makes of these fields.
    struct Derived: Hashable {
        var suffix: String?
        var level: String?
        var jwst: Bool
        var guideStar: Bool
    }

    /// The parts of the product that depend on its file name, given by what the mapping reads of it:
    /// whether it is a JWST name (``Product/namesJWST(_:)``), whether it has the guide-star mark
    /// (``Product/hasGuideStarMark(_:)``), and its suffix (``Product/suffix(ofFilename:)``), each asked
    /// only when needed.
    func derived(namesJWST: @autoclosure () -> Bool, guideStarMark: Bool, nameSuffix: () -> String?) -> Derived {
        Self.derived(
            subgroupSuffix: subgroupSuffix, subgroupGuideStar: subgroupGuideStar, missionIsJWST: missionIsJWST, stated: stated,
            namesJWST: namesJWST(), guideStarMark: guideStarMark, nameSuffix: nameSuffix
        )
    }

    /// ``derived(namesJWST:guideStarMark:nameSuffix:)`` of the fields' parts that it reads.
    static func derived(
        subgroupSuffix: String?, subgroupGuideStar: Bool, missionIsJWST: Bool?, stated: String?,
        namesJWST: @autoclosure () -> Bool, guideStarMark: Bool, nameSuffix: () -> String?
    ) -> Derived {
        let suffix = subgroupSuffix ?? nameSuffix()
        let jwst = missionIsJWST ?? namesJWST()
        return Derived(
            suffix: suffix, level: jwst ? Product.jwstLevel(stated: stated, suffix: suffix, nameSuffix: nameSuffix()) : stated,
            jwst: jwst, guideStar: guideStarMark || subgroupGuideStar
        )
    }

    func derived(filename: String) -> Derived {
        var name = filename
        return derived(
            namesJWST: Product.namesJWST(filename), guideStarMark: name.withUTF8(Product.hasGuideStarMark),
            nameSuffix: { Product.suffix(ofFilename: filename) }
        )
    }

    /// The HST category (none for a JWST product).
    func category(_ derived: Derived) -> String? {
        derived.jwst ? nil : Self.category(stated: stated, productType: productType, project: project)
    }

    /// The category of a product that is not JWST's.
    static func category(stated: String?, productType: String?, project: String?) -> String? {
        Product.hstCategory(level: stated, productType: productType, project: project)
    }

    func product(
        uri: String, filename: String, size: Int64?, _ derived: Derived, details: Product.Details? = nil, origin: String = "",
        table: Product.CommonTable? = nil
    ) -> Product {
        Self.product(
            uri: uri, filename: filename, size: size, derived, category: category(derived), dataset: dataset, mission: mission,
            productType: productType, recommended: recommended, access: access, instrument: instrument, filters: filters,
            details: details, origin: origin, table: table
        )
    }

    /// The product of a row's fields (as ``CAOMFields`` reads them), file name and what it adds; its
    /// shared fields from `table` when one is given.
    static func product(
        uri: String, filename: String, size: Int64?, _ derived: Derived, category: String?, dataset: String, mission: String?,
        productType: String?, recommended: Bool, access: Product.Access, instrument: String?, filters: String?,
        details: Product.Details? = nil, origin: String = "", table: Product.CommonTable? = nil
    ) -> Product {
        let values = Product.Common.Values(
            mission: mission, level: derived.level, category: category, suffix: derived.suffix, productType: productType,
            instrument: instrument, filters: filters, originText: origin, details: details
        )
        return Product(
            uri: uri, filename: filename, dataset: dataset, common: table?.common(values) ?? Product.Common(values),
            recommended: recommended, guideStar: derived.guideStar, access: access, size: size
        )
    }
}
