import Foundation

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
