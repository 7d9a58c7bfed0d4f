// Astropy tables of CAOM rows: what astroquery's `Observations.get_product_list` returns, saved with
// `Table.write` as CSV, ECSV, VOTable or FITS. Each format's reader finds the column names and, row by
// row, typed cells (a masked value is `.null`); ``TableColumns`` hands them to the very mapping a CAOM
// JSON row takes (``Catalog/caomProduct(_:)``), so a table gives the products, selections and totals
// of the JSON it was made from. Columns may come in any order; columns that are no CAOM field are skipped.

/// Which CAOM field each column of a table carries.
struct TableColumns {
    /// How messages name the input.
    let name: String
    /// The columns' names, in the table's order.
    let names: [String]
    /// For each column, the CAOM field it carries, or `nil` when it carries none.
    let fields: [RowField?]

    /// The CAOM fields a product table may carry (the missions-search ones are another format).
    static let caomFields: [RowField] = [
        .dataURI, .productFilename, .obsId, .obsID, .parentObsid, .obsCollection, .productSubGroupDescription,
        .calibLevel, .productType, .productGroupDescription, .dataRights, .project, .size, .instrumentName, .filters,
    ]

    /// Whether a column name is a CAOM field's, as format detection asks of a CSV header.
    static func isCAOMName(_ name: String) -> Bool {
        caomFields.contains { $0.key == name }
    }

    /// - Parameters:
    ///   - names: The table's column names, in order.
    ///   - name: How messages name the input.
    ///   - place: Where the names are written (`p.csv:1`, `p.fits: byte 2880`), for messages.
    /// - Throws: ``HaulError`` (`invalidCatalog`) when two columns carry one field or none is `dataURI`.
    init(names: [String], name: String, place: String) throws {
        self.name = name
        self.names = names
        var fields: [RowField?] = []
        fields.reserveCapacity(names.count)
        var seen = Set<Int>()
        for column in names {
            // Astropy keeps names as written; FITS and VOTable writers may pad them with spaces.
            let key = column.trimmingSpaces()
            let field = Self.caomFields.first { $0.key == key }
            if let field {
                guard seen.insert(field.rawValue).inserted else {
                    throw HaulError(.invalidCatalog, "\(place): the column \(key) appears twice: expected each CAOM field once")
                }
            }
            fields.append(field)
        }
        self.fields = fields
        guard seen.contains(RowField.dataURI.rawValue) else {
            let found = names.prefix(8).map { $0.trimmingSpaces() }.joined(separator: ", ") + (names.count > 8 ? ", …" : "")
            throw HaulError(.invalidCatalog, "\(place): no dataURI column: expected the columns of a MAST CAOM product list (astroquery's get_product_list), found \(names.isEmpty ? "none" : found)")
        }
    }

    /// A row's cells, indexed by ``RowField/rawValue``, all absent.
    func emptyRow() -> [JSONValue?] {
        [JSONValue?](repeating: nil, count: RowField.allCases.count)
    }

    /// The product of one row.
    ///
    /// - Parameters:
    ///   - cells: The row's cells by ``RowField/rawValue`` (see ``emptyRow()``); a masked value is `.null`.
    ///   - place: Where the row is (`p.csv:12`, `p.fits: row 3`): its products' origin and messages' start.
    func product(_ cells: [JSONValue?], place: String) throws -> Product {
        try Catalog.caomProduct(JSONRow(fields: cells, origin: "", path: "", index: 0, name: name, place: place))
    }
}

/// Typed cells from the text a table format writes (CSV, ECSV, VOTable TABLEDATA).
enum TableText {
    /// A whole number as text (`+12`, `-3`), or `nil`.
    static func integer(_ text: String) -> Int64? {
        Int64(text.hasPrefix("+") ? String(text.dropFirst()) : text)
    }

    /// A number as text: an integer keeps its exact value; `nan` is a masked value (`nil` cell).
    static func number(_ text: String) -> JSONValue? {
        if let integer = integer(text) { return .number(Double(integer), integer: integer) }
        guard let value = Double(text) else { return nil }
        return value.isNaN ? .null : .number(value, integer: nil)
    }
}
