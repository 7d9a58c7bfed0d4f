import Foundation

// MAST's two JSON product lists: CAOM (`Mast.Caom.Products`, astroquery's `get_product_list`) and
// missions search (`{"products": [...]}`). Every field but the URI may be null or absent; a field that
// is present with the wrong type is an error naming its JSON path.

extension Catalog {
    static func parseJSON(_ data: Data, name: String) throws -> [Product] {
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            throw HaulError(.invalidCatalog, "\(name):\(jsonErrorLocation(error, data: data)): malformed JSON: \(jsonErrorReason(error))")
        }
        if let rows = root as? [Any] {
            return try rows.enumerated().map { try caomProduct($1, path: "[\($0)]", name: name) }
        }
        guard let object = root as? [String: Any] else {
            throw HaulError(.invalidCatalog, "\(name): expected a JSON object with \"data\" or \"products\", or an array of product rows")
        }
        if let products = object["products"] {
            guard let rows = products as? [Any] else {
                throw HaulError(.invalidCatalog, "\(name): products: expected an array of product rows, found \(describe(products))")
            }
            return try rows.enumerated().map { try missionsProduct($1, path: "products[\($0)]", name: name) }
        }
        if let status = object["status"] as? String, status.uppercased() == "ERROR" {
            let msg = (object["msg"] as? String).map { ": \($0)" } ?? ""
            throw HaulError(.invalidCatalog, "\(name): the service that wrote this product list reported an error\(msg)")
        }
        guard let dataRows = object["data"] else {
            throw HaulError(.invalidCatalog, "\(name): expected a \"data\" array (MAST CAOM product list) or a \"products\" array (missions search)")
        }
        guard let rows = dataRows as? [Any] else {
            throw HaulError(.invalidCatalog, "\(name): data: expected an array of product rows, found \(describe(dataRows))")
        }
        return try rows.enumerated().map { try caomProduct($1, path: "data[\($0)]", name: name) }
    }

    static func caomProduct(_ value: Any, path: String, name: String) throws -> Product {
        var row = JSONRow(value: value, path: path, name: name)
        try row.requireObject()
        let uri = try row.requiredString("dataURI")
        let filename = try row.string("productFilename") ?? lastPathComponent(uri)
        let dataset = try row.string("obs_id") ?? row.integerOrString("obsID") ?? row.integerOrString("parent_obsid") ?? ""
        let mission = try row.string("obs_collection")
        let subgroup = try row.string("productSubGroupDescription")
        let suffix = Product.normaliseSuffix(subgroup)
        let calibLevel = try row.integerOrString("calib_level")
        var level = Product.normaliseLevel(calibLevel)
        if mission?.uppercased() == "JWST", let suffix, level == nil || level == "1" || level == "2",
           let jwst = Product.jwstLevel(forSuffix: suffix) {
            level = jwst
        }
        let group = try row.string("productGroupDescription")
        let access = try row.access("dataRights")
        return Product(
            uri: uri, filename: filename, dataset: dataset, mission: mission, level: level, suffix: suffix,
            productType: try row.string("productType"),
            recommended: group?.trimmingSpaces().lowercased() == "minimum recommended products",
            guideStar: Product.isGuideStar(filename: filename, subgroup: subgroup),
            access: access, size: try row.size("size"),
            instrument: try row.string("instrument_name")?.trimmingSpaces(),
            filters: try row.string("filters")?.trimmingSpaces(),
            origin: "\(name): \(path)"
        )
    }

    static func missionsProduct(_ value: Any, path: String, name: String) throws -> Product {
        var row = JSONRow(value: value, path: path, name: name)
        try row.requireObject()
        let uri = try row.requiredString("uri")
        let filename = try row.string("filename") ?? lastPathComponent(uri)
        let dataset = try row.string("dataset") ?? uri.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let category = try row.string("category")
        let level = Product.normaliseLevel(category)
        let suffix = Product.normaliseSuffix(try row.string("file_suffix"))
        return Product(
            uri: uri, filename: filename, dataset: dataset, mission: nil, level: level, suffix: suffix,
            productType: try row.string("type"),
            // Missions search marks no minimum set; its calibrated products are what the overlay recommends.
            recommended: level == "calibrated",
            guideStar: Product.isGuideStar(filename: filename, subgroup: nil),
            access: try row.access("access"), size: try row.size("size"),
            instrument: try row.string("instrument_name")?.trimmingSpaces(),
            filters: try row.string("filters")?.trimmingSpaces(),
            origin: "\(name): \(path)"
        )
    }

    /// Whether a number JSONSerialization returned was written `true` or `false`.
    static func isJSONBool(_ n: NSNumber) -> Bool {
        let type = String(cString: n.objCType)
        return type == "c" || type == "B"
    }

    static func lastPathComponent(_ uri: String) -> String {
        String(uri.split(separator: "/", omittingEmptySubsequences: false).last ?? Substring(uri))
    }

    static func describe(_ value: Any) -> String {
        switch value {
        case is NSNull: return "null"
        case let n as NSNumber where isJSONBool(n): return n.boolValue ? "true" : "false"
        case let n as NSNumber: return "the number \(n)"
        case let s as String: return "the string \"\(s.prefix(40))\""
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        default: return "\(type(of: value))"
        }
    }

    static func jsonErrorLocation(_ error: any Error, data: Data) -> String {
        let info = (error as NSError).userInfo
        let text = String(describing: info[NSDebugDescriptionErrorKey] ?? "")
        var offset = info["NSJSONSerializationErrorIndex"] as? Int
        if offset == nil, let range = text.range(of: #"character \d+"#, options: .regularExpression) {
            // swift-corelibs-foundation says "around character N" (a byte offset) and nothing else.
            offset = Int(text[range].dropFirst(10))
        }
        if let index = offset {
            let prefix = data.prefix(index)
            let line = prefix.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
            let column = index - (prefix.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0) + 1
            return "\(line):\(column)"
        }
        if let range = text.range(of: #"line (\d+), column (\d+)"#, options: .regularExpression) {
            let numbers = text[range].split(whereSeparator: { !$0.isNumber })
            if numbers.count == 2 { return "\(numbers[0]):\(numbers[1])" }
        }
        return "1"
    }

    static func jsonErrorReason(_ error: any Error) -> String {
        let info = (error as NSError).userInfo
        if let text = info[NSDebugDescriptionErrorKey] as? String, !text.isEmpty { return text }
        return "\(error)"
    }
}

/// One JSON product row with its path, for typed field access with precise messages.
struct JSONRow {
    let value: Any
    let path: String
    let name: String
    var object: [String: Any] = [:]

    init(value: Any, path: String, name: String) {
        self.value = value
        self.path = path
        self.name = name
    }

    mutating func requireObject() throws {
        guard let object = value as? [String: Any] else {
            throw HaulError(.invalidCatalog, "\(name): \(path): expected a product row (a JSON object), found \(Catalog.describe(value))")
        }
        self.object = object
    }

    func fail(_ key: String, _ expected: String, _ found: Any) -> HaulError {
        HaulError(.invalidCatalog, "\(name): \(path).\(key): expected \(expected), found \(Catalog.describe(found))")
    }

    /// A string field; `nil` when absent, null or empty.
    func string(_ key: String) throws -> String? {
        guard let raw = object[key], !(raw is NSNull) else { return nil }
        guard let s = raw as? String else { throw fail(key, "a string", raw) }
        return s.isEmpty ? nil : s
    }

    func requiredString(_ key: String) throws -> String {
        guard let raw = object[key], !(raw is NSNull) else {
            throw HaulError(.invalidCatalog, "\(name): \(path).\(key): expected the product's URI, found \(object[key] == nil ? "no such field" : "null")")
        }
        guard let s = raw as? String else { throw fail(key, "a string", raw) }
        let trimmed = s.trimmingSpaces()
        guard !trimmed.isEmpty else { throw fail(key, "a non-empty URI", raw) }
        return trimmed
    }

    /// A field MAST writes as a number or a string (`calib_level`, `obsID`), as a string.
    func integerOrString(_ key: String) throws -> String? {
        guard let raw = object[key], !(raw is NSNull) else { return nil }
        if let s = raw as? String { return s.isEmpty ? nil : s }
        if let n = raw as? NSNumber, !Catalog.isJSONBool(n) {
            let d = n.doubleValue
            if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
            return n.stringValue
        }
        throw fail(key, "a number or a string", raw)
    }

    /// A size in bytes: a non-negative integer, as a number or a numeric string.
    func size(_ key: String) throws -> Int64? {
        guard let raw = object[key], !(raw is NSNull) else { return nil }
        if let n = raw as? NSNumber, !Catalog.isJSONBool(n) {
            let d = n.doubleValue
            guard d >= 0, d == d.rounded(), d < 9.0e18 else { throw fail(key, "a size in bytes (a whole number ≥ 0)", raw) }
            return Int64(d)
        }
        if let s = raw as? String {
            let t = s.trimmingSpaces()
            if t.isEmpty { return nil }
            guard let v = Int64(t), v >= 0 else { throw fail(key, "a size in bytes (a whole number ≥ 0)", raw) }
            return v
        }
        throw fail(key, "a size in bytes", raw)
    }

    func access(_ key: String) throws -> Product.Access {
        guard let raw = try string(key) else { return .public }
        guard let access = Product.Access(parsing: raw) else {
            throw fail(key, "PUBLIC, EXCLUSIVE_ACCESS or RESTRICTED", raw)
        }
        return access
    }
}

extension Product.Access {
    /// Reads the access values MAST's catalogs use, case-insensitively.
    init?(parsing raw: String) {
        switch raw.trimmingSpaces().uppercased() {
        case "", "PUBLIC": self = .public
        case "EXCLUSIVE_ACCESS", "EXCLUSIVE", "RESTRICTED", "PROPRIETARY": self = .exclusive
        default: return nil
        }
    }
}
