/// Which product field each column of a table carries.
struct TableColumns {
    /// How messages name the input.
    let name: String
    /// The columns' names, in the table's order.
    let names: [String]
    /// For each column, the field it carries, or `nil` when it carries none.
    let fields: [RowField?]
    /// CAOM rows (a `dataURI` column) or missions-search rows (a `uri` column).
    let kind: ProductListReader.Rows
    /// The rows' shared ``Product/Details``, when they are kept (``Catalog/keepsDetails``).
    let details: DetailsTable? = Catalog.keepsDetails ? DetailsTable() : nil
    /// The rows' shared ``Product/Common``s, and what the mapping made of the strings they repeat.
    let memo = RowMemo()

    /// The CAOM fields a product table may carry.
    static let caomFields: [RowField] = [
        .dataURI, .productFilename, .obsId, .obsID, .parentObsid, .obsCollection, .productSubGroupDescription,
        .calibLevel, .productType, .productGroupDescription, .dataRights, .project, .size, .instrumentName, .filters,
        .description, .proposalID, .dataproductType,
    ]

    /// The missions-search fields a product table may carry.
    static let missionsFields: [RowField] = [
        .uri, .filename, .dataset, .fileSuffix, .category, .access, .type, .size, .instrumentName, .filters,
    ]

    /// Whether a column name is a product field's (CAOM or missions search), as format detection asks of
    /// a CSV header.
    static func isFieldName(_ name: String) -> Bool {
        caomFields.contains { $0.key == name } || missionsFields.contains { $0.key == name }
    }

    /// - Parameters:
    ///   - names: The table's column names, in order.
    ///   - name: How messages name the input.
    ///   - place: Where the names are written (`p.csv:1`, `p.fits: byte 2880`), for messages.
    /// - Throws: ``HaulError`` (`invalidCatalog`) when two columns carry one field or none is `dataURI`.
    init(names: [String], name: String, place: String) throws {
        self.name = name
        self.names = names
        // Astropy keeps names as written; FITS and VOTable writers may pad them with spaces.
        let keys = names.map { $0.trimmingSpaces() }
        kind = keys.contains(RowField.dataURI.key) || !keys.contains(RowField.uri.key) ? .caom : .missions
        let known = (kind == .caom ? Self.caomFields : Self.missionsFields).filter { Catalog.keepsDetails || !$0.isDetail }
        var fields: [RowField?] = []
        fields.reserveCapacity(names.count)
        var seen = Set<Int>()
        for key in keys {
            let field = known.first { $0.key == key }
            if let field {
                guard seen.insert(field.rawValue).inserted else {
                    throw HaulError(.invalidCatalog, "\(place): the column \(key) appears twice: expected each product field once")
                }
            }
            fields.append(field)
        }
        self.fields = fields
        guard seen.contains(RowField.dataURI.rawValue) || seen.contains(RowField.uri.rawValue) else {
            let found = keys.prefix(8).joined(separator: ", ") + (keys.count > 8 ? ", …" : "")
            throw HaulError(.invalidCatalog, "\(place): no dataURI column: expected the columns of a MAST product list (dataURI, as astroquery's Observations.get_product_list gives; or uri, as MastMissions.get_product_list gives), found \(names.isEmpty ? "none" : found)")
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
        var row = JSONRow(fields: cells, origin: "", path: "", index: 0, name: name, place: place)
        row.details = details
        row.memo = memo
        return try kind == .caom ? Catalog.caomProduct(row) : Catalog.missionsProduct(row)
    }

    /// The product of the row on `line` of a text table: as ``product(_:place:)`` with the place
    /// `name:line`, whose text `linePrefix` (`name:`) the rows share.
    func product(_ cells: [JSONValue?], line: Int, linePrefix: String) throws -> Product {
        var row = JSONRow(fields: cells, origin: linePrefix, path: "", index: 0, name: name, line: line)
        row.details = details
        row.memo = memo
        return try kind == .caom ? Catalog.caomProduct(row) : Catalog.missionsProduct(row)
    }
}
