import Foundation

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
    /// Whether CAOM rows are made into products without a ``JSONRow`` each (``caomProduct(_:parser:groups:values:details:commons:origin:index:)``),
    /// as they are unless a test asks for the mapping's way (``readsCAOMProductsDirectly``).
    let productsDirectly: Bool
    /// What the direct way made of the members rows repeat, by their bytes.
    var groups = CAOMGroups()
    /// The direct way's values of one group's members, for the mapping's accessors.
    var groupValues = [JSONValue?](repeating: nil, count: RowField.allCases.count)

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
        plansDirectly: Bool = PlanRows.readsCAOMDirectly, productsDirectly: Bool = ProductListReader.readsCAOMProductsDirectly
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
        self.productsDirectly = productsDirectly
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
                    if read.runs == nil, read.planRows == nil, row == 1_000 {
                        // Room for the rest at the first thousand rows' size, so a million rows are not
                        // copied at every doubling (rows read ahead included: they are appended here).
                        let perRow = Double(parser.index - firstRowStart) / 1_000
                        read.products.reserveCapacity(row + Int(Double(parser.bytes.count - parser.index) / max(perRow, 1) * 1.3) + 16)
                    }
                    var direct: Product?
                    if kind == .caom, productsDirectly {
                        direct = slots.withUnsafeBufferPointer { slots in
                            Self.caomProduct(
                                slots, parser: &parser, groups: &groups, values: &groupValues, details: details, commons: memo.commons,
                                origin: origin, index: row
                            )
                        }
                    }
                    do {
                        let product: Product
                        // Taken out of `direct`, so that the product is moved to its list, not copied.
                        if let made = direct.take() {
                            product = made
                        } else {
                            for field in mapped {
                                fields[field.rawValue] = parser.value(of: slots[field.rawValue], field: field.rawValue, shared: field.repeats)
                            }
                            var line = JSONRow(fields: fields, origin: origin, path: path, index: row, name: name)
                            line.details = details
                            line.memo = memo
                            product = try kind == .caom ? Catalog.caomProduct(line) : Catalog.missionsProduct(line)
                        }
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
