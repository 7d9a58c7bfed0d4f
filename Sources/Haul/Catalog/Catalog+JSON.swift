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

/// A product list read row by row: the top level of the document (`{"data": […]}`, `{"products":
/// […]}` or a bare array), each row mapped to a product as soon as it is read.
struct ProductListReader {
    var parser: JSONReader.Parser
    let name: String
    let consumed: (@Sendable (Range<Int>) -> Void)?
    /// Where each field of the row being read lies.
    var slots = [RowSlot](repeating: RowSlot(), count: RowField.allCases.count)
    /// The row's fields as values, for the mapping.
    var fields = [JSONValue?](repeating: nil, count: RowField.allCases.count)
    /// The bytes from `releasedFrom` to `released` were last told to `consumed`.
    var releasedFrom = 0
    var released = 0
    /// Whether the rows keep ``Product/Details`` (``Catalog/keepsDetails``, read once by the caller).
    let keepsDetails: Bool
    /// The rows' shared ``Product/Details``, when they are kept.
    let details: DetailsTable?
    /// The rows' shared ``Product/Common``s, and what the mapping made of the strings they repeat.
    let memo = RowMemo()
    /// The fields made into values for the mapping: the details' only when they are kept.
    let mapped: [RowField]
    /// Whether a big array's second half may be read on a second thread (``RowsAhead``); not by the
    /// reader that is that second thread.
    let readsAhead: Bool
    /// For `haul plan`: the selection whose ``PlanRows`` each product goes to as soon as it is made,
    /// instead of a list of products (``Catalog/loadPlanRows(paths:selection:)``).
    let planSelection: Selection?
    /// Whether CAOM rows go into the ``PlanRows`` without a product each (``PlanRows/appendCAOM(_:parser:details:)``),
    /// as they do unless a test asks for the products' way (``PlanRows/readsCAOMDirectly``).
    let plansDirectly: Bool

    enum Rows { case caom, missions }

    /// The rows of one array member: the products, or the first row the mapping refused.
    struct RowsRead {
        var products: [Product] = []
        /// Where the products went instead, for `haul plan` (``planSelection``).
        var planRows: PlanRows?
        var error: (any Error)?
        /// For rows read ahead: the products in runs (instead of ``products``), each freed as soon as
        /// the reader has copied it (see ``ProductRun``), of this many products each.
        var runs: [ProductRun]?
        var runCapacity = ProductRun.standardCapacity
        var result: Result<RowsRead, any Error> { error.map { .failure($0) } ?? .success(self) }
    }

    init(
        parser: JSONReader.Parser, name: String, consumed: (@Sendable (Range<Int>) -> Void)?,
        keepsDetails: Bool = Catalog.keepsDetails, readsAhead: Bool = true, planSelection: Selection? = nil,
        plansDirectly: Bool = PlanRows.readsCAOMDirectly
    ) {
        self.parser = parser
        self.name = name
        self.consumed = consumed
        self.keepsDetails = keepsDetails
        details = keepsDetails ? DetailsTable() : nil
        mapped = keepsDetails ? RowField.allCases : RowField.allCases.filter { !$0.isDetail }
        self.readsAhead = readsAhead
        self.planSelection = planSelection
        self.plansDirectly = plansDirectly
    }

    /// Reads the document: its products, or the error the mapping found in an otherwise well-formed
    /// document. The decisions are the tree reader's: `products` wins over `data`, a service error
    /// (`"status": "ERROR"`) comes before a missing `data`, the last of repeated members counts.
    mutating func read() throws(JSONSyntaxError) -> Result<RowsRead, any Error> {
        if parser.bytes.starts(with: [0xEF, 0xBB, 0xBF]) { parser.index = 3 }
        parser.skipSpace()
        let result: Result<RowsRead, any Error>
        if parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "[") {
            result = try rows(.caom, origin: "\(name): ", path: "", depth: 0).result
        } else if parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "{") {
            result = try object()
        } else {
            try parser.skipValue(depth: 0)
            result = .failure(HaulError(.invalidCatalog, "\(name): expected a JSON object with \"data\" or \"products\", or an array of product rows"))
        }
        parser.skipSpace()
        guard parser.index == parser.bytes.count else { throw parser.fail("unexpected text after the JSON value") }
        return result
    }

    /// The top-level object, as ``JSONReader/Parser/object(depth:)`` reads it; only `products`,
    /// `data`, `status` and `msg` are kept.
    mutating func object() throws(JSONSyntaxError) -> Result<RowsRead, any Error> {
        var products: Result<RowsRead, any Error>?
        var data: Result<RowsRead, any Error>?
        var status: JSONValue?
        var msg: JSONValue?
        parser.index += 1
        parser.skipSpace()
        if parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "}") {
            parser.index += 1
        } else {
            while true {
                parser.skipSpace()
                guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "\"") else {
                    throw parser.fail("expected a member name in quotes")
                }
                let key = try parser.string()
                parser.skipSpace()
                guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: ":") else {
                    throw parser.fail("expected : after a member name")
                }
                parser.index += 1
                parser.skipSpace()
                let isArray = parser.index < parser.bytes.count && parser.bytes[parser.index] == UInt8(ascii: "[")
                switch key {
                case "products" where isArray:
                    products = nil
                    products = try rows(.missions, origin: "\(name): products", path: "products", depth: 1).result
                case "products":
                    let value = try parser.value(depth: 1)
                    products = .failure(HaulError(.invalidCatalog, "\(name): products: expected an array of product rows, found \(Catalog.describe(value))"))
                case "data" where isArray:
                    data = nil
                    data = try rows(.caom, origin: "\(name): data", path: "data", depth: 1).result
                case "data":
                    let value = try parser.value(depth: 1)
                    data = .failure(HaulError(.invalidCatalog, "\(name): data: expected an array of product rows, found \(Catalog.describe(value))"))
                case "status": status = try parser.value(depth: 1)
                case "msg": msg = try parser.value(depth: 1)
                default: try parser.skipValue(depth: 1)
                }
                parser.skipSpace()
                guard parser.index < parser.bytes.count else { throw parser.fail("an object is never closed with }") }
                if parser.bytes[parser.index] == UInt8(ascii: ",") { parser.index += 1; continue }
                if parser.bytes[parser.index] == UInt8(ascii: "}") { parser.index += 1; break }
                throw parser.fail("expected , or } in an object")
            }
        }
        if let products { return products }
        if case .string(let text)? = status, text.uppercased() == "ERROR" {
            var detail = ""
            if case .string(let text)? = msg { detail = ": \(text)" }
            return .failure(HaulError(.invalidCatalog, "\(name): the service that wrote this product list reported an error\(detail)"))
        }
        guard let data else {
            return .failure(HaulError(.invalidCatalog, "\(name): expected a \"data\" array (MAST CAOM product list) or a \"products\" array (missions search)"))
        }
        return data
    }

    /// An array of product rows at `index` (a `[`) nested `depth` deep, as
    /// ``JSONReader/Parser/value(depth:)`` reads it. After the first row the mapping refuses, the rest
    /// is only checked.
    mutating func rows(_ kind: Rows, origin: String, path: String, depth: Int) throws(JSONSyntaxError) -> RowsRead {
        guard depth < JSONReader.maximumDepth else { throw parser.fail("nested more than \(JSONReader.maximumDepth) deep") }
        var read = RowsRead()
        read.planRows = planSelection.map(PlanRows.init)
        parser.index += 1
        parser.skipSpace()
        if parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "]") { parser.index += 1; return read }
        var ahead = readsAhead
            ? RowsAhead.start(self, kind: kind, origin: origin, path: path, depth: depth, from: parser.index) : nil
        do {
            try readRows(kind, origin: origin, path: path, depth: depth, into: &read, ahead: &ahead)
        } catch {
            // The second thread reads the same bytes, which the caller may unmap once this returns.
            ahead?.cancel()
            throw error
        }
        ahead?.cancel()
        return read
    }

    /// Reads rows from `index` (a row's first byte) to just past the array's `]`, as ``rows(_:origin:path:depth:)``
    /// describes.
    ///
    /// - Parameters:
    ///   - ahead: Rows a second thread reads from a byte further on. When this reader reaches that
    ///     very byte as the start of a row of this array, with no row refused so far, the rows there
    ///     are exactly the ones the second thread read (the same bytes at the same depth, read by
    ///     the same code): they are taken, numbered on from here. Otherwise (the byte was inside a
    ///     string or a row, or the second thread met an error) they are dropped and this reader
    ///     reads on itself, so every message is the one a single reader gives.
    ///   - stop: Asked every few thousand rows whether to give up (the second thread's reader, when
    ///     its rows will not be taken).
    mutating func readRows(
        _ kind: Rows, origin: String, path: String, depth: Int, into read: inout RowsRead,
        ahead: inout RowsAhead?, stop: (() -> Bool)? = nil
    ) throws(JSONSyntaxError) {
        var row = 0
        let firstRowStart = parser.index
        while true {
            parser.skipSpace()
            guard parser.index < parser.bytes.count else { throw parser.fail("the document ends where a value was expected") }
            if let waiting = ahead, parser.index >= waiting.start {
                ahead = nil
                if var tail = waiting.finish(at: parser.index, taken: read.error == nil) {
                    // Taken out of `tail`, so that each run is freed once copied (`tail` would hold them all).
                    if let later = tail.read.planRows { read.planRows?.append(contentsOf: later) }
                    var runs = tail.read.runs ?? []
                    tail.read.runs = nil
                    runs.reverse()
                    while let run = runs.popLast() {
                        // Their rows were numbered from 0 at `waiting.start`, which is row `row` here.
                        run.renumber(by: row)
                        read.products.append(contentsOf: run.moved)
                    }
                    parser.index = tail.end
                    return
                }
            }
            if let consumed, parser.index - released >= 16 << 20 {
                released = parser.index
                consumed(releasedFrom..<released)
            }
            if let stop, row & 4095 == 0, stop() { return }
            if read.error != nil {
                try parser.skipValue(depth: depth + 1)
            } else if parser.bytes[parser.index] == UInt8(ascii: "{") {
                try parser.readRow(depth: depth + 1, into: &slots)
                if kind == .caom, plansDirectly, let planRows = read.planRows, planRows.appendCAOM(slots, parser: &parser, details: details) {
                    // Into the plan's rows without a product (PlanRows+CAOM.swift).
                } else {
                    for field in mapped {
                        fields[field.rawValue] = parser.value(of: slots[field.rawValue], field: field.rawValue, shared: field.repeats)
                    }
                    var line = JSONRow(fields: fields, origin: origin, path: path, index: row, name: name)
                    line.details = details
                    line.memo = memo
                    if read.runs == nil, read.planRows == nil, row == 1_000 {
                        // Room for the rest at the first thousand rows' size, so a million rows are not
                        // copied at every doubling (rows read ahead included: they are appended here).
                        let perRow = Double(parser.index - firstRowStart) / 1_000
                        read.products.reserveCapacity(row + Int(Double(parser.bytes.count - parser.index) / max(perRow, 1) * 1.3) + 16)
                    }
                    do {
                        let product = try kind == .caom ? Catalog.caomProduct(line) : Catalog.missionsProduct(line)
                        if let planRows = read.planRows {
                            planRows.append(product)
                        } else if read.runs == nil {
                            read.products.append(product)
                        } else {
                            if read.runs!.last?.isFull ?? true {
                                // Only the thread reading ahead keeps runs, and its errors are never shown:
                                // the reader reads these rows itself instead.
                                guard let run = ProductRun(capacity: read.runCapacity) else { throw HaulError(.invalidCatalog, "\(name): out of memory") }
                                read.runs!.append(run)
                            }
                            read.runs!.last!.append(product)
                        }
                    } catch {
                        read.error = error
                        read.products = []
                        read.runs = read.runs.map { _ in [] }
                        read.planRows?.removeAll()
                    }
                }
            } else {
                let value = try parser.value(depth: depth + 1)
                read.error = HaulError(.invalidCatalog, "\(name): \(path)[\(row)]: expected a product row (a JSON object), found \(Catalog.describe(value))")
                read.products = []
                read.runs = read.runs.map { _ in [] }
                read.planRows?.removeAll()
            }
            row += 1
            parser.skipSpace()
            guard parser.index < parser.bytes.count else { throw parser.fail("an array is never closed with ]") }
            if parser.bytes[parser.index] == UInt8(ascii: ",") { parser.index += 1; continue }
            if parser.bytes[parser.index] == UInt8(ascii: "]") { parser.index += 1; return }
            throw parser.fail("expected , or ] in an array")
        }
    }
}

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

/// One JSON product row with its path, for typed field access with precise messages.
struct JSONRow {
    let fields: [JSONValue?]
    /// The origin of its products without the row number (`list.json: data`).
    let origin: String
    /// The array's path (`data`, `products`, or empty for a bare array) and the row's place in it.
    let path: String
    let index: Int
    let name: String
    /// For a row of a table (CSV, ECSV, VOTable, FITS): where it is (`p.csv:12`, `p.fits: row 3`), which
    /// messages and the origin name instead of a JSON path.
    var place: String? = nil
    /// For a row of a text table read from its bytes: its line, the place being `origin` then the line
    /// (`p.csv:` and 12), made only when a message needs it.
    var line: Int? = nil
    /// Where rows of one catalog share their ``Product/Details``.
    var details: DetailsTable? = nil
    /// Where rows of one reader share their products' ``Product/Common`` and what the mapping made of
    /// the strings they repeat.
    var memo: RowMemo? = nil

    /// The text its products' origin starts with (``Product/originText``), as ``setOrigin(of:)`` gives it.
    var originText: String { place ?? origin }

    /// The ``Product/Common`` of `values`: one made for an earlier row when ``commons`` has it.
    func common(_ values: Product.Common.Values) -> Product.Common {
        memo?.commons.common(values) ?? Product.Common(values)
    }

    subscript(field: RowField) -> JSONValue? { fields[field.rawValue] }

    /// Where a field is, for messages: `list.json: data[3].size`, or `p.csv:12: size`.
    func location(_ field: RowField) -> String {
        if let place { return "\(place): \(field.key)" }
        if let line { return "\(origin)\(line): \(field.key)" }
        return "\(name): \(path)[\(index)].\(field.key)"
    }

    /// Gives a product of this row its origin: the place, the line, or the JSON row.
    func setOrigin(of product: inout Product) {
        if let place {
            product.origin = place
        } else if let line {
            product.setOrigin(origin, line: line)
        } else {
            product.setOrigin(origin, row: index)
        }
    }

    func fail(_ field: RowField, _ expected: String, _ found: JSONValue) -> HaulError {
        HaulError(.invalidCatalog, "\(location(field)): expected \(expected), found \(Catalog.describe(found))")
    }

    /// A string field; `nil` when absent, null or empty.
    func string(_ field: RowField) throws -> String? {
        switch self[field] {
        case nil, .null?: return nil
        case .string(let s)?: return s.isEmpty ? nil : s
        case let other?: throw fail(field, "a string", other)
        }
    }

    /// A file name field, trimmed as the CSV reader trims it (so that an export reads back); `nil` when
    /// absent, null or blank.
    func fileName(_ field: RowField) throws -> String? {
        try string(field)?.trimmingSpaces().nilIfEmpty
    }

    /// The file name a URI ends in, when the row names none. As the other readers, a row whose file name
    /// cannot be told is an error: an empty name could never be fetched nor exported and read back.
    func lastPathComponent(of uri: String, key: RowField, or filenameKey: RowField) throws -> String {
        let last = Catalog.lastPathComponent(uri)
        guard !last.isEmpty else { throw fail(key, "a URI ending in a file name (or a \(filenameKey.key) field)", .string(uri)) }
        return last
    }

    func requiredString(_ field: RowField) throws -> String {
        switch self[field] {
        case nil, .null?:
            throw HaulError(.invalidCatalog, "\(location(field)): expected the product's URI, found \(self[field] == nil ? "no such field" : place == nil && line == nil ? "null" : "an empty (masked) value")")
        case .string(let s)?:
            let trimmed = s.trimmingSpaces()
            guard !trimmed.isEmpty else { throw fail(field, "a non-empty URI", .string(s)) }
            return trimmed
        case let other?: throw fail(field, "a string", other)
        }
    }

    /// A string or a number as text; `nil` when absent, null, empty or another kind of value.
    func text(_ field: RowField) -> String? {
        switch self[field] {
        case .string(let s)?: return s.isEmpty ? nil : s
        case .number(let d, let integer)?: return integer.map(String.init) ?? (d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d))
        default: return nil
        }
    }

    /// A field MAST writes as a number or a string (`calib_level`, `obsID`), as a string.
    func integerOrString(_ field: RowField) throws -> String? {
        switch self[field] {
        case nil, .null?: return nil
        case .string?, .number?: return text(field)
        case let other?: throw fail(field, "a number or a string", other)
        }
    }

    /// A size in bytes: a non-negative integer, as a number or a numeric string.
    func size(_ field: RowField) throws -> Int64? {
        if let size = Self.size(of: self[field]) { return size }
        switch self[field] {
        case .number?, .string?: throw fail(field, "a size in bytes (a whole number ≥ 0)", self[field]!)
        case let other: throw fail(field, "a size in bytes", other!)
        }
    }

    /// A value as ``size(_:)`` reads it (absent or null: no size); `.none` when it refuses the value.
    static func size(of value: JSONValue?) -> Int64?? {
        switch value {
        case nil, .null?: return .some(nil)
        case .number(let d, let integer)?:
            if let integer, integer >= 0 { return integer }
            guard d >= 0, d == d.rounded(), d < 9.0e18 else { return .none }
            return Int64(d)
        case .string(let s)?:
            let t = s.trimmingSpaces()
            if t.isEmpty { return .some(nil) }
            guard let v = Int64(t), v >= 0 else { return .none }
            return v
        default: return .none
        }
    }

    func access(_ field: RowField) throws -> Product.Access {
        guard let raw = try string(field) else { return .public }
        guard let access = memo?.access(raw) ?? Product.Access(parsing: raw) else {
            throw fail(field, "PUBLIC, EXCLUSIVE_ACCESS or RESTRICTED", .string(raw))
        }
        return access
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

/// What the mapping makes of the strings a reader's rows repeat, for the last string of each (the rows
/// of an observation share them, and ``SharedStrings`` gives the same string for the same bytes):
/// whether a mission is JWST, a subgroup's suffix and guide-star mark, whether a group names the
/// recommended set, an access right; and the rows' ``Product/Common``s. One reader's, on one thread.
final class RowMemo {
    let commons = Product.CommonTable()
    // Each string is kept with what was made of it, so that its storage is never another string's
    // while it is compared by its words.
    private var mission: (text: String?, jwst: Bool?)?
    private var subgroup: (text: String?, suffix: String?, guideStar: Bool)?
    private var group: (text: String, recommended: Bool)?
    private var access: (text: String, access: Product.Access?)?

    /// ``CAOMFields/missionIsJWST(_:)``.
    func missionIsJWST(_ text: String?) -> Bool? {
        if let mission, Self.same(mission.text, text) { return mission.jwst }
        let jwst = CAOMFields.missionIsJWST(text)
        mission = (text, jwst)
        return jwst
    }

    /// ``Product/normaliseSuffix(_:)`` and ``CAOMFields/subgroupGuideStar(_:)``.
    func subgroup(_ text: String?) -> (suffix: String?, guideStar: Bool) {
        if let subgroup, Self.same(subgroup.text, text) { return (subgroup.suffix, subgroup.guideStar) }
        let made = (Product.normaliseSuffix(text), CAOMFields.subgroupGuideStar(text))
        subgroup = (text, made.0, made.1)
        return made
    }

    /// ``Product/namesRecommendedSet(_:)``.
    func recommended(_ text: String) -> Bool {
        if let group, group.text.words == text.words { return group.recommended }
        let recommended = Product.namesRecommendedSet(text)
        group = (text, recommended)
        return recommended
    }

    /// ``Product/Access/init(parsing:)``.
    func access(_ text: String) -> Product.Access? {
        if let access, access.text.words == text.words { return access.access }
        let parsed = Product.Access(parsing: text)
        access = (text, parsed)
        return parsed
    }

    /// Whether two strings are one (both none, or held in the same words).
    private static func same(_ a: String?, _ b: String?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case let (a?, b?): return a.words == b.words
        default: return false
        }
    }
}

/// One catalog's ``Product/Details``, each combination of values made once.
final class DetailsTable {
    struct Key: Hashable {
        var description, project, proposalID, dataProductType: String?

        var isEmpty: Bool { description == nil && project == nil && proposalID == nil && dataProductType == nil }
        var details: Product.Details {
            Product.Details(description: description, project: project, proposalID: proposalID, dataProductType: dataProductType)
        }
    }

    private var table: [Key: Product.Details] = [:]
    /// The last one made or found: consecutive rows often share it.
    private var last: (Key, Product.Details)?

    func shared(_ key: Key) -> Product.Details {
        if let last, last.0 == key { return last.1 }
        let details: Product.Details
        if let found = table[key] {
            details = found
        } else {
            details = key.details
            // A catalog whose rows all differ would make the table as big as the catalog: stop sharing.
            if table.count < 65_536 { table[key] = details }
        }
        last = (key, details)
        return details
    }
}
