import Foundation

// CAOM rows of a JSON list made into products without a `JSONRow` each. The members the mapping reads
// but the URI, the file name and the size are one of few values, or the same as the row before's (the
// rows of an observation follow each other): what the mapping makes of each group of them is kept by
// the bytes the members have in the document (``PlanRows/Group``, as `haul plan` reads its rows) and
// made again only for bytes not seen lately. A row then costs its URI's and file name's strings, a
// lookup of its shared fields (``Product/CommonTable``) and no reference counting of a row's values:
// perf put each row's `JSONRow`, its values and the strings handed out for them at a fifth of the
// samples of `select` on a million rows.
//
// Anything the mapping would refuse, and any member this way does not read exactly as the mapping
// does, goes back to the caller, which maps the row with ``Catalog/caomProduct(_:)``: its product, or
// its error, is the one given. Tests read lists both ways and hold the products equal.

extension ProductListReader {
    /// Whether a JSON list's CAOM rows are made into products this way (else each through its
    /// ``JSONRow``): tests read lists both ways, to hold them equal.
    @TaskLocal static var readsCAOMProductsDirectly = true

    /// The mission, and whether it is JWST (``CAOMFields/missionIsJWST(_:)``).
    struct Mission {
        var text: String?
        var jwst: Bool?
    }

    /// One reader's groups of members, by their bytes (see ``PlanRows/Group``).
    struct CAOMGroups {
        // An observation's rows follow each other, but a list that repeats rows comes back to them.
        var dataset = PlanRows.Group<String>([.obsId, .obsID, .parentObsid], slots: 4096)
        var mission = PlanRows.Group<Mission>([.obsCollection], slots: 256)
        var subgroup = PlanRows.Group<PlanRows.Subgroup>([.productSubGroupDescription], slots: 256)
        var stated = PlanRows.Group<String?>([.calibLevel], slots: 256)
        var productType = PlanRows.Group<String?>([.productType], slots: 256)
        var recommended = PlanRows.Group<Bool>([.productGroupDescription], slots: 256)
        var access = PlanRows.Group<Product.Access>([.dataRights], slots: 256)
        var project = PlanRows.Group<String?>([.project], slots: 256)
        var instrument = PlanRows.Group<String?>([.instrumentName], slots: 256)
        var filters = PlanRows.Group<String?>([.filters], slots: 256)
        var details = PlanRows.Group<Product.Details?>([.description, .project, .proposalID, .dataproductType], slots: 256)
        /// HST categories, by the numbers of the calib level, product type and project they are made of.
        var categories = [(key: SIMD3<Int>, category: String?)?](repeating: nil, count: 64)
        /// The ``Product/Common``s made lately, by the numbers of the mission, product type, instrument,
        /// filters and details they hold (the level, suffix and category are compared by their words).
        var commons = [(ids: SIMD8<Int>, common: Product.Common)?](repeating: nil, count: 256)
        /// ``Product/jwstLevel(forSuffix:)`` of the suffixes seen lately, each kept with its string (so
        /// that equal words are the same bytes).
        var suffixLevels = [(suffix: String, level: String?)?](repeating: nil, count: 64)

        /// ``Product/jwstLevel(forSuffix:)``, asked once for each suffix while it is in use.
        mutating func jwstLevel(forSuffix suffix: String) -> String? {
            let (a, b) = suffix.words
            let slot = Int(truncatingIfNeeded: ((a ^ b &* 31) &* 0x9E37_79B9_7F4A_7C15) >> 58)
            if let known = suffixLevels[slot], known.suffix.words == (a, b) { return known.level }
            let level = Product.jwstLevel(forSuffix: suffix)
            suffixLevels[slot] = (suffix, level)
            return level
        }
    }

    /// What the mapping reads of a file name that is plain ASCII without a CR (where bytes are
    /// Characters), in one pass: whether it has the guide-star mark (``Product/hasGuideStarMark(_:)``) and
    /// where its suffix lies (``Product/suffix(ofASCIIName:)``).
    struct NameScan {
        /// Whether the name is plain ASCII without a CR; nothing else is known when it is not.
        var plain = true
        var guideStar = false
        /// The first `.`, or the name's end.
        var stemEnd = 0
        /// The last `_` before ``stemEnd``, or -1.
        var underscore = -1

        init(_ bytes: UnsafeBufferPointer<UInt8>) {
            let n = bytes.count
            var dot = -1
            for i in 0..<n {
                let c = bytes[i]
                if c >= 0x80 || c == 0x0D {
                    plain = false
                    return
                }
                if c == UInt8(ascii: "_") {
                    if dot < 0 { underscore = i }
                    if !guideStar, i + 3 < n, bytes[i + 3] == UInt8(ascii: "-"), bytes[i + 1] | 0x20 == UInt8(ascii: "g"),
                       bytes[i + 2] | 0x20 == UInt8(ascii: "s") {
                        guideStar = true
                    }
                } else if c == UInt8(ascii: "."), dot < 0 {
                    dot = i
                }
            }
            stemEnd = dot < 0 ? n : dot
        }

        /// ``Product/suffix(ofASCIIName:)`` of the name scanned.
        func suffix(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
            guard underscore >= 0 else { return nil }
            let part = UnsafeBufferPointer(rebasing: bytes[(underscore + 1)..<stemEnd])
            guard !part.isEmpty, part.count <= 32 else { return nil }
            return String(unsafeUninitializedCapacity: part.count) { out in
                for (i, b) in part.enumerated() { out[i] = b >= 0x61 && b <= 0x7A ? b - 0x20 : b }
                return part.count
            }
        }
    }

    /// The product ``Catalog/caomProduct(_:)`` makes of the row whose members `slots` note, at `index`
    /// of the array whose rows' origin is `origin`; `nil` for a row to be mapped as any other (one the
    /// mapping would refuse, or that this way does not read).
    static func caomProduct(
        _ slots: UnsafeBufferPointer<RowSlot>, parser: inout JSONReader.Parser, groups: inout CAOMGroups,
        values: inout [JSONValue?], details: DetailsTable?, commons: Product.CommonTable, origin: String, index: Int
    ) -> Product? {
        let bytes = parser.bytes
        // A group's value, made by the mapping's own accessors from the members' values.
        func read<T>(_ fields: [RowField], _ body: (JSONRow) throws -> T) -> T? {
            parser.caomValue(fields, slots: slots, values: &values, details: details, body)
        }
        // The dataset: `obs_id` when it is a string that is not empty (as nearly always), made as the
        // mapping makes it (a shared string); else by the group, from `obsID` or `parent_obsid`. A list
        // of one product per observation has a new one every row, which the group would key and cache
        // for nothing.
        let dataset: String
        let idSlot = slots[RowField.obsId.rawValue]
        if idSlot.kind == .string, case .string(let id)? = parser.value(of: idSlot, field: RowField.obsId.rawValue, shared: true), !id.isEmpty {
            dataset = id
        } else {
            guard let entry = groups.dataset.value(slots, bytes, make: { read([.obsId, .obsID, .parentObsid]) { try CAOMFields.dataset($0) } })
            else { return nil }
            dataset = entry.value
        }
        guard let mission = groups.mission.value(slots, bytes, make: {
                  read([.obsCollection]) { row in
                      let text = try row.string(.obsCollection)
                      return Mission(text: text, jwst: CAOMFields.missionIsJWST(text))
                  }
              }),
              let subgroup = groups.subgroup.value(slots, bytes, make: {
                  read([.productSubGroupDescription]) { row in
                      let text = try row.string(.productSubGroupDescription)
                      return PlanRows.Subgroup(text: text, suffix: Product.normaliseSuffix(text), guideStar: CAOMFields.subgroupGuideStar(text))
                  }
              }),
              let stated = groups.stated.value(slots, bytes, make: { read([.calibLevel]) { try CAOMFields.stated($0) } }),
              let productType = groups.productType.value(slots, bytes, make: { read([.productType]) { try $0.string(.productType) } }),
              let recommended = groups.recommended.value(slots, bytes, make: {
                  read([.productGroupDescription]) { try $0.string(.productGroupDescription).map(Product.namesRecommendedSet) ?? false }
              }),
              let access = groups.access.value(slots, bytes, make: { read([.dataRights]) { try $0.access(.dataRights) } }),
              // The mapping reads `project` of HST rows only: a JWST row's that it would refuse is left to it.
              let project = groups.project.value(slots, bytes, make: { read([.project]) { try $0.string(.project) } }),
              let instrument = groups.instrument.value(slots, bytes, make: {
                  read([.instrumentName]) { try $0.string(.instrumentName)?.trimmingSpaces() }
              }),
              let filters = groups.filters.value(slots, bytes, make: { read([.filters]) { try $0.string(.filters)?.trimmingSpaces() } })
        else { return nil }
        var productDetails: Product.Details?
        var detailsID = 0
        if details != nil {
            guard let entry = groups.details.value(slots, bytes, make: {
                read([.description, .project, .proposalID, .dataproductType]) { Catalog.details($0) }
            }) else { return nil }
            productDetails = entry.value
            detailsID = entry.id
        }

        // The URI: `requiredString`'s, trimmed and not empty.
        let uriSlot = slots[RowField.dataURI.rawValue]
        guard uriSlot.kind == .string else { return nil }
        let uri: String
        if PlanRows.isPlainText(uriSlot, bytes) {
            uri = String(decoding: UnsafeBufferPointer(rebasing: bytes[(uriSlot.start + 1)..<(uriSlot.end - 1)]), as: UTF8.self)
        } else {
            guard case .string(let s)? = parser.value(of: uriSlot, field: RowField.dataURI.rawValue, shared: false) else { return nil }
            uri = s.trimmingSpaces()
            guard !uri.isEmpty else { return nil }
        }
        // The file name: `productFilename` trimmed, else the URI's last part; never empty.
        let nameSlot = slots[RowField.productFilename.rawValue]
        var filename: String?
        switch nameSlot.kind {
        case .absent, .null:
            break
        case .string:
            if PlanRows.isPlainText(nameSlot, bytes) {
                filename = String(decoding: UnsafeBufferPointer(rebasing: bytes[(nameSlot.start + 1)..<(nameSlot.end - 1)]), as: UTF8.self)
            } else {
                guard case .string(let s)? = parser.value(of: nameSlot, field: RowField.productFilename.rawValue, shared: false) else { return nil }
                filename = s.trimmingSpaces().nilIfEmpty
            }
        default:
            return nil
        }
        if filename == nil {
            let part = Catalog.lastPathComponent(uri)
            guard !part.isEmpty else { return nil }
            filename = part
        }
        let name = filename!
        // The size: `size(_:)`'s.
        let sizeSlot = slots[RowField.size.rawValue]
        let size: Int64?
        switch sizeSlot.kind {
        case .absent, .null: size = nil
        case .number where (sizeSlot.integer ?? -1) >= 0: size = sizeSlot.integer
        default:
            guard let read = JSONRow.size(of: parser.value(of: sizeSlot, field: RowField.size.rawValue, shared: false)) else { return nil }
            size = read
        }

        // What the file name adds, from its bytes when they are plain ASCII (where bytes are Characters).
        var text = name
        let derived = text.withUTF8 { nameBytes in
            let scan = NameScan(nameBytes)
            if scan.plain {
                // ``CAOMFields/derived(subgroupSuffix:subgroupGuideStar:missionIsJWST:stated:namesJWST:guideStarMark:nameSuffix:)``
                // and ``Product/jwstLevel(stated:suffix:nameSuffix:)``, from one pass over the name's
                // bytes, with each suffix's JWST level asked once.
                let suffix = subgroup.value.suffix ?? scan.suffix(nameBytes)
                let jwst = mission.value.jwst ?? Product.namesJWST(ascii: nameBytes)
                var level = stated.value
                if jwst, stated.value == nil || stated.value == "0" || stated.value == "1" || stated.value == "2" {
                    level = suffix.flatMap { groups.jwstLevel(forSuffix: $0) }
                        ?? scan.suffix(nameBytes).flatMap { groups.jwstLevel(forSuffix: $0) } ?? stated.value
                }
                return CAOMFields.Derived(suffix: suffix, level: level, jwst: jwst, guideStar: scan.guideStar || subgroup.value.guideStar)
            }
            return CAOMFields.derived(
                subgroupSuffix: subgroup.value.suffix, subgroupGuideStar: subgroup.value.guideStar, missionIsJWST: mission.value.jwst,
                stated: stated.value, namesJWST: Product.namesJWST(name), guideStarMark: Product.hasGuideStarMark(nameBytes),
                nameSuffix: { Product.suffix(ofFilename: name) }
            )
        }
        // The HST category (none for JWST), by the numbers of what it is made of.
        var category: String?
        if !derived.jwst {
            let key = SIMD3(stated.id, productType.id, project.id)
            let mixed = UInt64(truncatingIfNeeded: key.x &* 31 &+ key.y &* 1009 &+ key.z) &* 0x9E37_79B9_7F4A_7C15
            let slot = Int(truncatingIfNeeded: mixed >> 58)
            if let known = groups.categories[slot], known.key == key {
                category = known.category
            } else {
                category = CAOMFields.category(stated: stated.value, productType: productType.value, project: project.value)
                groups.categories[slot] = (key, category)
            }
        }
        // The shared fields (``Product/Common``), as ``CAOMFields/product(uri:filename:size:_:category:dataset:mission:productType:recommended:access:instrument:filters:details:origin:table:)``
        // gives them from `commons`: found first by the numbers of the groups' values and the words of
        // the level, suffix and category (no string retained, none compared), then in `commons`.
        let ids = SIMD8(mission.id, productType.id, instrument.id, filters.id, detailsID, 0, 0, 0)
        var h = UInt64(truncatingIfNeeded: ids[0] &* 31 &+ ids[1] &* 1009 &+ ids[2] &* 65_599 &+ ids[3] &* 7_919 &+ ids[4])
        @inline(__always) func mix(_ text: String?) {
            let (a, b) = text?.words ?? (0x51, 0)
            h = (h ^ a ^ b &* 0x9E37_79B9_7F4A_7C15) &* 0xFF51_AFD7_ED55_8CCD
        }
        mix(derived.level)
        mix(derived.suffix)
        mix(category)
        let slot = Int(truncatingIfNeeded: h >> 56)
        let common: Product.Common
        if let known = groups.commons[slot], known.ids == ids, Self.same(known.common.values.level, derived.level),
           Self.same(known.common.values.suffix, derived.suffix), Self.same(known.common.values.category, category) {
            common = known.common
        } else {
            common = commons.common(Product.Common.Values(
                mission: mission.value.text, level: derived.level, category: category, suffix: derived.suffix,
                productType: productType.value, instrument: instrument.value, filters: filters.value, originText: origin,
                details: productDetails
            ))
            groups.commons[slot] = (ids, common)
        }
        var product = Product(
            uri: uri, filename: name, dataset: dataset, common: common, recommended: recommended.value, guideStar: derived.guideStar,
            access: access.value, size: size
        )
        product.setOrigin(origin, row: index)
        return product
    }

    /// Whether two strings are one (both none, or held in the same words: the same bytes).
    @inline(__always)
    private static func same(_ a: String?, _ b: String?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case let (a?, b?): return a.words == b.words
        default: return false
        }
    }
}
