import Foundation

// MAST's two JSON product lists: CAOM (`Mast.Caom.Products`, astroquery's `get_product_list`) and
// missions search (`{"products": [...]}`). Every field but the URI may be null or absent; a field that
// is present with the wrong type is an error naming its JSON path.

extension Catalog {
    static func parseJSON(_ data: Data, name: String) throws -> [Product] {
        try data.withUnsafeBytes { try parseJSON($0.bindMemory(to: UInt8.self), name: name) }
    }

    /// Reads a JSON product list in one pass, row by row, without building the document.
    ///
    /// As a whole document is JSON or not, a row that JSON allows but the mapping refuses (a size that
    /// is a word) is reported only once the rest of the document is known to be well-formed: a
    /// syntax error anywhere is reported first, with its line and column.
    ///
    /// - Parameters:
    ///   - bytes: The document (UTF-8; a byte-order mark is skipped).
    ///   - name: How messages name this input.
    ///   - consumed: Told, now and then, of a range of bytes that is read and never looked at again
    ///     unless to place an error (a mapped file drops them from memory). Called from the thread
    ///     that reads rows ahead too (``RowsAhead``), for the bytes it has read.
    static func parseJSON(
        _ bytes: UnsafeBufferPointer<UInt8>, name: String, consumed: (@Sendable (Range<Int>) -> Void)? = nil
    ) throws -> [Product] {
        try readJSON(bytes, name: name, consumed: consumed).products
    }

    /// Reads a JSON product list as ``parseJSON(_:name:consumed:)`` does, each product into a
    /// ``PlanRows`` for `selection` as soon as it is made instead of into a list.
    static func planRowsJSON(
        _ bytes: UnsafeBufferPointer<UInt8>, name: String, selection: Selection, consumed: (@Sendable (Range<Int>) -> Void)? = nil
    ) throws -> PlanRows {
        try readJSON(bytes, name: name, consumed: consumed, planSelection: selection).planRows ?? PlanRows(selection: selection)
    }

    private static func readJSON(
        _ bytes: UnsafeBufferPointer<UInt8>, name: String, consumed: (@Sendable (Range<Int>) -> Void)?, planSelection: Selection? = nil
    ) throws -> ProductListReader.RowsRead {
        var reader = ProductListReader(parser: JSONReader.Parser(bytes: bytes), name: name, consumed: consumed, planSelection: planSelection)
        let result: Result<ProductListReader.RowsRead, any Error>
        do {
            result = try reader.read()
        } catch {
            let (line, column) = JSONReader.location(of: error.offset, in: bytes, passed: consumed.map { c in { c(0..<$0) } })
            throw HaulError(.invalidCatalog, "\(name):\(line):\(column): malformed JSON: \(error.reason)")
        }
        return try result.get()
    }

    static func caomProduct(_ row: JSONRow) throws -> Product {
        let uri = try row.requiredString(.dataURI)
        let filename = try row.fileName(.productFilename) ?? row.lastPathComponent(of: uri, key: .dataURI, or: .productFilename)
        let dataset = try CAOMFields.dataset(row)
        let mission = try row.string(.obsCollection)
        let subgroup = try row.string(.productSubGroupDescription)
        let stated = try CAOMFields.stated(row)
        let productType = try row.string(.productType)
        let group = try row.string(.productGroupDescription)
        let access = try row.access(.dataRights)
        let memo = row.memo
        let missionIsJWST = memo?.missionIsJWST(mission) ?? CAOMFields.missionIsJWST(mission)
        // `project` tells only an HST product's category: a JWST row's is not read.
        let project = missionIsJWST ?? Product.namesJWST(filename) ? nil : try row.string(.project)
        let size = try row.size(.size)
        let fields = CAOMFields(
            dataset: dataset, mission: mission, subgroup: subgroup, stated: stated, productType: productType,
            recommended: group.map { memo?.recommended($0) ?? Product.namesRecommendedSet($0) } ?? false, access: access, project: project,
            instrument: try row.string(.instrumentName)?.trimmingSpaces(), filters: try row.string(.filters)?.trimmingSpaces(),
            memo: memo
        )
        var product = fields.product(
            uri: uri, filename: filename, size: size, fields.derived(filename: filename), details: row.details != nil ? details(row) : nil,
            origin: row.originText, table: memo?.commons
        )
        row.setOrigin(of: &product)
        return product
    }

    /// The row's `--where`-only columns, shared with earlier rows that have the same. Lenient: they are
    /// read for filtering alone, so a value of an unexpected type is left out rather than refused.
    static func details(_ row: JSONRow) -> Product.Details? {
        let key = DetailsTable.Key(
            description: row.text(.description), project: row.text(.project), proposalID: row.text(.proposalID),
            dataProductType: row.text(.dataproductType)
        )
        guard !key.isEmpty else { return nil }
        return row.details?.shared(key)
    }

    static func missionsProduct(_ row: JSONRow) throws -> Product {
        let uri = try row.requiredString(.uri)
        let filename = try row.fileName(.filename) ?? row.lastPathComponent(of: uri, key: .uri, or: .filename)
        let dataset = try row.string(.dataset) ?? uri.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let category = Product.normaliseLevel(try row.string(.category))
        let suffix = Product.normaliseSuffix(try row.string(.fileSuffix)) ?? Product.suffix(ofFilename: filename)
        let jwst = Product.isJWST(mission: nil, filename: filename)
        // A JWST row's category may be a level (`2b`) or a name (`CALIBRATED`): the level is the stage of its suffix.
        let namesLevel = category?.first?.isNumber == true
        let level = jwst && !namesLevel ? suffix.flatMap(Product.jwstLevel(forSuffix:)) ?? category : category
        let productType = try row.string(.type)
        let access = try row.access(.access)
        let size = try row.size(.size)
        let common = row.common(Product.Common.Values(
            mission: jwst ? "JWST" : nil, level: level, category: category, suffix: suffix, productType: productType,
            instrument: try row.string(.instrumentName)?.trimmingSpaces(), filters: try row.string(.filters)?.trimmingSpaces(),
            originText: row.originText, details: nil
        ))
        var product = Product(
            uri: uri, filename: filename, dataset: dataset, common: common,
            // Missions search marks no minimum set; its calibrated products are what the overlay recommends.
            recommended: category == "calibrated",
            guideStar: Product.isGuideStar(filename: filename, subgroup: nil),
            access: access, size: size
        )
        row.setOrigin(of: &product)
        return product
    }

    static func lastPathComponent(_ uri: String) -> String {
        String(uri.split(separator: "/", omittingEmptySubsequences: false).last ?? Substring(uri))
    }

    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let d, let integer): return "the number \(integer.map(String.init) ?? String(d))"
        case .string(let s): return "the string \"\(s.prefix(40))\""
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

extension Product.Access {
    /// Reads the access values MAST's catalogs use, case-insensitively.
    init?(parsing raw: String) {
        let trimmed = raw.trimmingSpaces()
        switch trimmed.isUppercaseASCII ? trimmed : trimmed.uppercased() {
        case "", "PUBLIC": self = .public
        case "EXCLUSIVE_ACCESS", "EXCLUSIVE", "RESTRICTED", "PROPRIETARY": self = .exclusive
        default: return nil
        }
    }
}
