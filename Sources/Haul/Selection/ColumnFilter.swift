/// One `--where COLUMN=VALUE[,VALUE…]` filter: what astroquery's
/// `Observations.filter_products(products, COLUMN=[VALUE, …])` does to a product table.
///
/// A product passes when its column holds one of the values (compared without regard to case and
/// surrounding spaces). Several filters together keep what passes every one of them.
public struct ColumnFilter: Sendable, Hashable, CustomStringConvertible {
    /// The product-table columns a filter can name. Each is a CAOM column (what
    /// `Observations.get_product_list` returns); missions-search names are accepted as aliases.
    /// `productSubGroupDescription` is the product's suffix: the catalog's, or where it left it empty
    /// the file name's (`…_cal.jpg` is `CAL`), as `--suffix` sees it.
    public enum Column: String, Sendable, Hashable, CaseIterable {
        case productType
        case calibLevel = "calib_level"
        case productSubGroupDescription
        case productGroupDescription
        case dataRights
        case obsID = "obs_id"
        case obsCollection = "obs_collection"
        case instrumentName = "instrument_name"
        case filters
        case productFilename
        case dataURI
        case category

        /// The names a column is also known by (missions search, the overlay's export, Haul's own words).
        public var aliases: [String] {
            switch self {
            case .productType: return ["type", "product_type"]
            case .calibLevel: return []
            case .productSubGroupDescription: return ["file_suffix", "suffix"]
            case .productGroupDescription: return []
            case .dataRights: return ["access"]
            case .obsID: return ["dataset"]
            case .obsCollection: return ["mission", "collection"]
            case .instrumentName: return ["instrument"]
            case .filters: return []
            case .productFilename: return ["filename"]
            case .dataURI: return ["uri"]
            case .category: return []
            }
        }

        /// The column a name means: its CAOM name or an alias, in any case.
        public init?(named name: String) {
            let wanted = name.trimmingSpaces().lowercased()
            guard let column = Column.allCases.first(where: { $0.rawValue.lowercased() == wanted || $0.aliases.contains(wanted) }) else {
                return nil
            }
            self = column
        }

        /// The product's value in this column, in the form values are compared in (`nil` when the
        /// catalog left it empty).
        public func value(of product: Product) -> String? {
            let raw: String?
            switch self {
            case .productType: raw = product.productType
            case .calibLevel:
                // CAOM's number: JWST's `2b` was calib_level 2.
                let digits = product.level.map { String($0.prefix { $0.isASCII && $0.isNumber }) }
                raw = digits.flatMap { $0.isEmpty ? nil : $0 }
            case .productSubGroupDescription: raw = product.suffix
            case .productGroupDescription: raw = product.recommended ? "Minimum Recommended Products" : nil
            case .dataRights: raw = product.access.rawValue
            case .obsID: raw = product.dataset
            case .obsCollection: raw = product.mission
            case .instrumentName: raw = product.instrument
            case .filters: raw = product.filters
            case .productFilename: raw = product.filename
            case .dataURI: raw = product.uri
            case .category: raw = product.category
            }
            guard let text = raw?.trimmingSpaces(), !text.isEmpty else { return nil }
            return text
        }

        /// A value as it is compared: no surrounding spaces, lower case, and for the suffix no leading `_`.
        func key(_ value: String) -> String {
            if self == .productSubGroupDescription { return Product.normaliseSuffix(value)?.lowercased() ?? "" }
            return value.trimmingSpaces().lowercased()
        }
    }

    public var column: Column
    /// Any of these passes (an OR); never empty.
    public var values: [String]

    public init(column: Column, values: [String]) {
        self.column = column
        self.values = values
    }

    /// Reads `COLUMN=VALUE[,VALUE…]`.
    ///
    /// - Throws: ``HaulError`` (`invalidArgument`) naming the text and what was expected: a missing `=`,
    ///   an unknown column (listing the known ones), no value.
    public init(parsing text: String) throws {
        guard let equals = text.firstIndex(of: "=") else {
            throw HaulError(.invalidArgument, "--where \(text): expected COLUMN=VALUE[,VALUE…], e.g. productType=SCIENCE")
        }
        let name = text[..<equals].trimmingSpaces()
        guard let column = Column(named: name) else {
            let known = Column.allCases.map(\.rawValue).joined(separator: ", ")
            throw HaulError(.invalidArgument, "--where \(text): no column \(name.isEmpty ? "named" : "'\(name)'"); the columns are \(known)")
        }
        let values = text[text.index(after: equals)...].split(separator: ",").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
        guard !values.isEmpty else {
            throw HaulError(.invalidArgument, "--where \(text): no value after '='; expected \(column.rawValue)=VALUE[,VALUE…]")
        }
        self.init(column: column, values: values)
    }

    /// Whether a product's column holds one of the values.
    public func matches(_ product: Product) -> Bool {
        guard let value = column.value(of: product) else { return false }
        let key = column.key(value)
        return values.contains { column.key($0) == key }
    }

    public var description: String { "\(column.rawValue)=\(values.joined(separator: ","))" }
}
