@testable import Haul
import Foundation

// The JSON product-list mapping as it was before catalogs were streamed: the whole document parsed into
// a JSONValue tree, then each row mapped. Kept here as the reference the catalog-json target checks the
// streaming reader against: the same products (origins included) or the same message, byte for byte.

extension Catalog {
    static func referenceParseJSON(_ data: Data, name: String) throws -> [Product] {
        let root: JSONValue
        do {
            root = try JSONReader.parse(data)
        } catch {
            let (line, column) = JSONReader.location(of: error.offset, in: data)
            throw HaulError(.invalidCatalog, "\(name):\(line):\(column): malformed JSON: \(error.reason)")
        }
        if case .array(let rows) = root {
            return try rows.enumerated().map { try referenceCAOMProduct($1, path: "[\($0)]", name: name) }
        }
        guard case .object(let object) = root else {
            throw HaulError(.invalidCatalog, "\(name): expected a JSON object with \"data\" or \"products\", or an array of product rows")
        }
        if let products = object["products"] {
            guard case .array(let rows) = products else {
                throw HaulError(.invalidCatalog, "\(name): products: expected an array of product rows, found \(describe(products))")
            }
            return try rows.enumerated().map { try referenceMissionsProduct($1, path: "products[\($0)]", name: name) }
        }
        if case .string(let status)? = object["status"], status.uppercased() == "ERROR" {
            var msg = ""
            if case .string(let text)? = object["msg"] { msg = ": \(text)" }
            throw HaulError(.invalidCatalog, "\(name): the service that wrote this product list reported an error\(msg)")
        }
        guard let dataRows = object["data"] else {
            throw HaulError(.invalidCatalog, "\(name): expected a \"data\" array (MAST CAOM product list) or a \"products\" array (missions search)")
        }
        guard case .array(let rows) = dataRows else {
            throw HaulError(.invalidCatalog, "\(name): data: expected an array of product rows, found \(describe(dataRows))")
        }
        return try rows.enumerated().map { try referenceCAOMProduct($1, path: "data[\($0)]", name: name) }
    }

    static func referenceCAOMProduct(_ value: JSONValue, path: String, name: String) throws -> Product {
        var row = ReferenceJSONRow(value: value, path: path, name: name)
        try row.requireObject()
        let uri = try row.requiredString("dataURI")
        let filename = try row.fileName("productFilename") ?? row.lastPathComponent(of: uri, key: "dataURI", or: "productFilename")
        let dataset = try row.string("obs_id") ?? row.integerOrString("obsID") ?? row.integerOrString("parent_obsid") ?? ""
        let mission = try row.string("obs_collection")
        let subgroup = try row.string("productSubGroupDescription")
        let suffix = Product.normaliseSuffix(subgroup) ?? Product.suffix(ofFilename: filename)
        let stated = Product.normaliseLevel(try row.integerOrString("calib_level"))
        let productType = try row.string("productType")
        let jwst = Product.isJWST(mission: mission, filename: filename)
        let group = try row.string("productGroupDescription")
        let access = try row.access("dataRights")
        return Product(
            uri: uri, filename: filename, dataset: dataset, mission: mission,
            level: jwst ? Product.jwstLevel(stated: stated, suffix: suffix, filename: filename) : stated,
            category: jwst ? nil : Product.hstCategory(level: stated, productType: productType, project: try row.string("project")),
            suffix: suffix, productType: productType,
            recommended: group?.trimmingSpaces().lowercased() == "minimum recommended products",
            guideStar: Product.isGuideStar(filename: filename, subgroup: subgroup),
            access: access, size: try row.size("size"),
            instrument: try row.string("instrument_name")?.trimmingSpaces(),
            filters: try row.string("filters")?.trimmingSpaces(),
            origin: "\(name): \(path)"
        )
    }

    static func referenceMissionsProduct(_ value: JSONValue, path: String, name: String) throws -> Product {
        var row = ReferenceJSONRow(value: value, path: path, name: name)
        try row.requireObject()
        let uri = try row.requiredString("uri")
        let filename = try row.fileName("filename") ?? row.lastPathComponent(of: uri, key: "uri", or: "filename")
        let dataset = try row.string("dataset") ?? uri.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let category = Product.normaliseLevel(try row.string("category"))
        let suffix = Product.normaliseSuffix(try row.string("file_suffix")) ?? Product.suffix(ofFilename: filename)
        let jwst = Product.isJWST(mission: nil, filename: filename)
        // A JWST row's category may be a level (`2b`) or a name (`CALIBRATED`): the level is the stage of its suffix.
        let namesLevel = category?.first?.isNumber == true
        let level = jwst && !namesLevel ? suffix.flatMap(Product.jwstLevel(forSuffix:)) ?? category : category
        return Product(
            uri: uri, filename: filename, dataset: dataset, mission: jwst ? "JWST" : nil, level: level,
            category: category, suffix: suffix,
            productType: try row.string("type"),
            // Missions search marks no minimum set; its calibrated products are what the overlay recommends.
            recommended: category == "calibrated",
            guideStar: Product.isGuideStar(filename: filename, subgroup: nil),
            access: try row.access("access"), size: try row.size("size"),
            instrument: try row.string("instrument_name")?.trimmingSpaces(),
            filters: try row.string("filters")?.trimmingSpaces(),
            origin: "\(name): \(path)"
        )
    }
}

/// One JSON product row of the tree, as the tree reader mapped it.
struct ReferenceJSONRow {
    let value: JSONValue
    let path: String
    let name: String
    var object = JSONObject()

    init(value: JSONValue, path: String, name: String) {
        self.value = value
        self.path = path
        self.name = name
    }

    mutating func requireObject() throws {
        guard case .object(let object) = value else {
            throw HaulError(.invalidCatalog, "\(name): \(path): expected a product row (a JSON object), found \(Catalog.describe(value))")
        }
        self.object = object
    }

    func fail(_ key: String, _ expected: String, _ found: JSONValue) -> HaulError {
        HaulError(.invalidCatalog, "\(name): \(path).\(key): expected \(expected), found \(Catalog.describe(found))")
    }

    /// A string field; `nil` when absent, null or empty.
    func string(_ key: String) throws -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s.isEmpty ? nil : s
        case let other?: throw fail(key, "a string", other)
        }
    }

    /// A file name field, trimmed as the CSV reader trims it (so that an export reads back); `nil` when
    /// absent, null or blank.
    func fileName(_ key: String) throws -> String? {
        try string(key)?.trimmingSpaces().nilIfEmpty
    }

    /// The file name a URI ends in, when the row names none. As the other readers, a row whose file name
    /// cannot be told is an error: an empty name could never be fetched nor exported and read back.
    func lastPathComponent(of uri: String, key: String, or filenameKey: String) throws -> String {
        let last = Catalog.lastPathComponent(uri)
        guard !last.isEmpty else { throw fail(key, "a URI ending in a file name (or a \(filenameKey) field)", .string(uri)) }
        return last
    }

    func requiredString(_ key: String) throws -> String {
        switch object[key] {
        case nil, .null?:
            throw HaulError(.invalidCatalog, "\(name): \(path).\(key): expected the product's URI, found \(object[key] == nil ? "no such field" : "null")")
        case .string(let s)?:
            let trimmed = s.trimmingSpaces()
            guard !trimmed.isEmpty else { throw fail(key, "a non-empty URI", .string(s)) }
            return trimmed
        case let other?: throw fail(key, "a string", other)
        }
    }

    /// A field MAST writes as a number or a string (`calib_level`, `obsID`), as a string.
    func integerOrString(_ key: String) throws -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s.isEmpty ? nil : s
        case .number(let d, let integer)?:
            if let integer { return String(integer) }
            if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
            return String(d)
        case let other?: throw fail(key, "a number or a string", other)
        }
    }

    /// A size in bytes: a non-negative integer, as a number or a numeric string.
    func size(_ key: String) throws -> Int64? {
        switch object[key] {
        case nil, .null?: return nil
        case .number(let d, let integer)?:
            if let integer, integer >= 0 { return integer }
            guard d >= 0, d == d.rounded(), d < 9.0e18 else { throw fail(key, "a size in bytes (a whole number ≥ 0)", .number(d, integer: integer)) }
            return Int64(d)
        case .string(let s)?:
            let t = s.trimmingSpaces()
            if t.isEmpty { return nil }
            guard let v = Int64(t), v >= 0 else { throw fail(key, "a size in bytes (a whole number ≥ 0)", .string(s)) }
            return v
        case let other?: throw fail(key, "a size in bytes", other)
        }
    }

    func access(_ key: String) throws -> Product.Access {
        guard let raw = try string(key) else { return .public }
        guard let access = Product.Access(parsing: raw) else {
            throw fail(key, "PUBLIC, EXCLUSIVE_ACCESS or RESTRICTED", .string(raw))
        }
        return access
    }
}
