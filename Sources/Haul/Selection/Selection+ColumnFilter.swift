extension Selection {
    /// One `--where COLUMN=VALUE[,VALUE…]` filter: what astroquery's
    /// `Observations.filter_products(products, COLUMN=[VALUE, …])` does to a product table.
    ///
    /// A product passes when its column holds one of the values (compared without regard to case and
    /// surrounding spaces) and none of the values written with a leading `!`. On a numeric column
    /// (`calib_level`, `size`) a value may also be a comparison (`<5`, `>=1000`) or an inclusive range
    /// (`100..2000`), as astroquery reads them. Several filters together keep what passes every one.
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
            case size
            case description
            case project
            case proposalID = "proposal_id"
            case dataProductType = "dataproduct_type"

            /// The names a column is also known by (missions search, the overlay's export, Haul's own words).
            package var aliases: [String] {
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
                case .size: return []
                case .description, .project, .proposalID, .dataProductType: return []
                }
            }

            /// The column a name means: its CAOM name or an alias, in any case.
            package init?(named name: String) {
                let wanted = name.trimmingSpaces().lowercased()
                guard let column = Column.allCases.first(where: { $0.rawValue.lowercased() == wanted || $0.aliases.contains(wanted) }) else {
                    return nil
                }
                self = column
            }

            /// The product's value in this column, in the form values are compared in (`nil` when the
            /// catalog left it empty).
            package func value(of product: Product) -> String? {
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
                case .size: raw = product.size.map(String.init)
                case .description: raw = product.details?.description
                case .project: raw = product.details?.project
                case .proposalID: raw = product.details?.proposalID
                case .dataProductType: raw = product.details?.dataProductType
                }
                guard let text = raw?.trimmingSpaces(), !text.isEmpty else { return nil }
                return text
            }

            /// The product field ``value(of:)`` reads (kept next to it, so that the two change together).
            var reads: Selection.Reads {
                switch self {
                case .productType: .productType
                case .calibLevel: .level
                case .productSubGroupDescription: .suffix
                case .productGroupDescription: .recommended
                case .dataRights: .access
                case .obsID: .dataset
                case .obsCollection: .mission
                case .instrumentName: .instrument
                case .filters: .filters
                case .productFilename, .dataURI, .size: .ownFields
                case .category: .category
                case .description, .project, .proposalID, .dataProductType: .details
                }
            }

            /// Whether values may be comparisons and ranges (astroquery's numeric columns).
            package var isNumeric: Bool { self == .calibLevel || self == .size }

            /// Whether the column is one of ``Product/Details``, which catalogs keep only when asked
            /// (``Catalog/load(paths:keepingDetails:standardInput:)``).
            package var isDetail: Bool {
                switch self {
                case .description, .project, .proposalID, .dataProductType: true
                default: false
                }
            }

            /// A value as it is compared: no surrounding spaces, lower case, and for the suffix no leading `_`.
            func key(_ value: String) -> String {
                if self == .productSubGroupDescription { return Product.normaliseSuffix(value)?.lowercased() ?? "" }
                return value.trimmingSpaces().lowercased()
            }
        }

        public var column: Column
        /// As written: any plain value passes (an OR), a `!value` fails (an AND of the negations); never empty.
        public var values: [String]

        /// One value of a filter, read.
        enum Term: Hashable {
            case equals(String)
            case compare(String, Double)
            case range(Double, Double)
        }

        /// A value read as the column takes it: `negated` for a leading `!`.
        func term(_ raw: String) -> (term: Term, negated: Bool) {
            var text = raw.trimmingSpaces()
            let negated = text.hasPrefix("!")
            if negated { text = text.dropFirst().trimmingSpaces() }
            guard column.isNumeric else { return (.equals(text), negated) }
            for op in [">=", "<=", ">", "<"] where text.hasPrefix(op) {
                if let number = Double(text.dropFirst(op.count).trimmingSpaces()) { return (.compare(op, number), negated) }
            }
            if let dots = text.firstRange(of: ".."), let low = Double(text[..<dots.lowerBound].trimmingSpaces()),
               let high = Double(text[dots.upperBound...].trimmingSpaces()) {
                return (.range(low, high), negated)
            }
            return (.equals(text), negated)
        }

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
            if column.isNumeric {
                for value in values {
                    let (term, _) = self.term(value)
                    if case .equals(let number) = term, Double(number) == nil {
                        throw HaulError(.invalidArgument, "--where \(text): \(column.rawValue) is a number: expected N, <N, <=N, >N, >=N or LOW..HIGH (a leading ! negates), found \(value)")
                    }
                }
            }
        }

        /// Whether a product passes: its column holds one of the plain values (any, when there are only
        /// negated ones) and none of the negated ones, as astroquery's `filter_products` combines them.
        public func matches(_ product: Product) -> Bool {
            let value = column.value(of: product)
            var anyPositive = false
            var positive = false
            for raw in values {
                let (term, negated) = term(raw)
                let hit = value.map { holds(term, $0) } ?? false
                if negated {
                    if hit { return false }
                } else {
                    anyPositive = true
                    positive = positive || hit
                }
            }
            return !anyPositive || positive
        }

        private func holds(_ term: Term, _ value: String) -> Bool {
            switch term {
            case .equals(let wanted):
                if column.isNumeric, let a = Double(wanted), let b = Double(value) { return a == b }
                return column.key(wanted) == column.key(value)
            case .compare(let op, let bound):
                guard let number = Double(value) else { return false }
                switch op {
                case ">=": return number >= bound
                case "<=": return number <= bound
                case ">": return number > bound
                default: return number < bound
                }
            case .range(let low, let high):
                guard let number = Double(value) else { return false }
                return number >= low && number <= high
            }
        }

        public var description: String { "\(column.rawValue)=\(values.joined(separator: ","))" }
    }
}
