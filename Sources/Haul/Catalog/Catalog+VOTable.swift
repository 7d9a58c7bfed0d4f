// An astropy table written with `t.write('p.xml', format='votable')`: the first TABLE of a VOTABLE, its
// FIELDs (name, datatype, arraysize, a VALUES null), and its DATA as TABLEDATA (TR rows of TD cells) or
// BINARY2 (`tabledata_format='binary2'`: a base64 STREAM of rows, each a null-flag bitmap then its
// fields, big-endian; a `*` array, such as a variable-length char column, is a 4-byte count then its
// elements). BINARY (version 1) and FITS serialisations, and streams by reference, are refused by name.
//
// The XML is read by a small scanner written for this, not Foundation's XMLParser (on Linux it is
// FoundationXML over libxml2, a library the engine would carry for one reader) nor XMLCoder/SWXMLHash
// (which build a tree of the whole document): it walks the bytes once, keeps line numbers for messages,
// reads elements, attributes, text, CDATA and the five entities and character references, skips
// comments and processing instructions, and refuses a DOCTYPE (no entity expansion, no external
// resource). Every count it trusts is bounded by the bytes it has.

import Foundation

extension Catalog {
    static func parseVOTable(_ bytes: UnsafeBufferPointer<UInt8>, name: String) throws -> [Product] {
        // A web page saved in place of a product list (a login or error page) is common enough to name.
        let head = String(decoding: bytes.prefix(512), as: UTF8.self).lowercased()
        if head.contains("<!doctype html") || head.contains("<html") {
            throw HaulError(.invalidCatalog, "\(name): an HTML page, not a catalog: expected a MAST product list (JSON, or an astropy table such as a VOTable)")
        }
        var xml = XMLScanner(bytes: bytes, name: name)
        // The root element.
        var root: XMLScanner.Event?
        while let event = try xml.next() {
            if case .start = event { root = event; break }
            if case .text(let range, _) = event, !xml.isSpace(range) {
                throw HaulError(.invalidCatalog, "\(name):\(xml.line): text before the root element: expected a VOTABLE element")
            }
        }
        guard case .start(let rootName, _, let rootEmpty, let rootLine)? = root else {
            throw HaulError(.invalidCatalog, "\(name):\(xml.line): no XML element: expected a VOTABLE element")
        }
        guard rootName == "VOTABLE" else {
            throw HaulError(.invalidCatalog, "\(name):\(rootLine): the root element is <\(rootName.prefix(40))>: expected a VOTABLE element (an astropy table written with format='votable')")
        }
        guard !rootEmpty else { throw HaulError(.invalidCatalog, "\(name):\(rootLine): the VOTABLE holds no TABLE") }
        // Down to the first TABLE, through RESOURCEs.
        var depth = 1
        var tableLine = 0
        search: while let event = try xml.next() {
            switch event {
            case .start(let element, _, let empty, let line):
                if element == "TABLE" {
                    guard !empty else { throw HaulError(.invalidCatalog, "\(name):\(line): the first TABLE is empty: expected FIELDs and DATA") }
                    tableLine = line
                    break search
                }
                if !empty { depth += 1 }
            case .end:
                depth -= 1
                if depth == 0 { break search }
            case .text: break
            }
        }
        guard tableLine > 0 else { throw HaulError(.invalidCatalog, "\(name):\(xml.line): the VOTABLE holds no TABLE") }
        let products = try votableTable(&xml, name: name, line: tableLine)
        // The rest of the document must be well-formed too: a file cut after the rows is a cut file.
        while try xml.next() != nil {}
        return products
    }

    /// A FIELD: what a cell of its column holds.
    struct VOField {
        var name: String
        var datatype: String
        /// Elements a cell holds when fixed (`arraysize="8"`, or 1 without one), or those of the fixed
        /// dimensions when the last is variable.
        var count: Int
        /// Whether cells are preceded by their element count (`arraysize="*"` or `"8*"`).
        var variable: Bool
        var arraysize: String?
        /// The VALUES null value, as written.
        var null: String?
        var line: Int

        /// Bytes of one element in BINARY2, or `nil` for an unknown datatype.
        var elementSize: Int? {
            switch datatype {
            case "boolean", "unsignedByte", "char": 1
            case "short", "unicodeChar": 2
            case "int", "float": 4
            case "long", "double", "floatComplex": 8
            case "doubleComplex": 16
            case "bit": 1 // Counted in bits: see `fixedBytes`.
            default: nil
            }
        }

        var isText: Bool { datatype == "char" || datatype == "unicodeChar" }
    }

    /// The TABLE's FIELDs and DATA, the scanner just past `<TABLE>`.
    static func votableTable(_ xml: inout XMLScanner, name: String, line tableLine: Int) throws -> [Product] {
        var fields: [VOField] = []
        var field: VOField?
        var depth = 0 // Below TABLE.
        while let event = try xml.next() {
            switch event {
            case .start(let element, let attributes, let empty, let line):
                if depth == 0, element == "FIELD" {
                    let f = try voField(attributes, name: name, line: line, index: fields.count + 1)
                    if empty { fields.append(f) } else { field = f; depth += 1 }
                } else if depth == 1, element == "VALUES", field != nil {
                    field!.null = attributes["null"]
                    if !empty { depth += 1 }
                } else if depth == 0, element == "DATA" {
                    guard !empty else { return [] }
                    let columns = try TableColumns(names: fields.map(\.name), name: name, place: "\(name):\(tableLine)")
                    for (f, mapped) in zip(fields, columns.fields) where mapped != nil {
                        guard f.isText || (f.count == 1 && !f.variable) else {
                            throw HaulError(.invalidCatalog, "\(name):\(f.line): VOTable FIELD \(f.name) (datatype \(f.datatype), arraysize \(f.arraysize ?? "")): arrays are not supported for a CAOM field")
                        }
                    }
                    return try votableData(&xml, fields: fields, columns: columns, name: name)
                } else if !empty {
                    depth += 1
                }
            case .end(let element, _):
                if depth == 0 {
                    // </TABLE> without DATA: a table of no rows.
                    _ = try TableColumns(names: fields.map(\.name), name: name, place: "\(name):\(tableLine)")
                    return []
                }
                depth -= 1
                if depth == 0, element == "FIELD", let f = field { fields.append(f); field = nil }
            case .text: break
            }
        }
        throw HaulError(.invalidCatalog, "\(name):\(xml.line): the document ends inside the TABLE")
    }

    static func voField(_ attributes: [String: String], name: String, line: Int, index: Int) throws -> VOField {
        guard let fieldName = attributes["name"] ?? attributes["ID"] else {
            throw HaulError(.invalidCatalog, "\(name):\(line): FIELD \(index) has no name")
        }
        guard let datatype = attributes["datatype"] else {
            throw HaulError(.invalidCatalog, "\(name):\(line): FIELD \(fieldName.prefix(60)) has no datatype")
        }
        var f = VOField(name: fieldName, datatype: datatype, count: 1, variable: false, arraysize: attributes["arraysize"], null: nil, line: line)
        guard f.elementSize != nil else {
            throw HaulError(.invalidCatalog, "\(name):\(line): FIELD \(fieldName.prefix(60)) (datatype \(datatype.prefix(30))): expected a VOTable datatype (boolean, bit, unsignedByte, short, int, long, char, unicodeChar, float, double, floatComplex, doubleComplex)")
        }
        if let arraysize = f.arraysize {
            let dimensions = arraysize.split(separator: "x", omittingEmptySubsequences: false)
            var count = 1
            for (i, dimension) in dimensions.enumerated() {
                var d = dimension.trimmingSpaces()
                if d.hasSuffix("*") {
                    guard i == dimensions.count - 1 else {
                        throw HaulError(.invalidCatalog, "\(name):\(line): FIELD \(fieldName.prefix(60)) (arraysize \(arraysize.prefix(30))): only the last dimension may be variable")
                    }
                    f.variable = true
                    d.removeLast()
                    if d.isEmpty { continue }
                    // "8*": at most 8, still written with its count.
                    guard Int(d) != nil else {
                        throw HaulError(.invalidCatalog, "\(name):\(line): FIELD \(fieldName.prefix(60)) (arraysize \(arraysize.prefix(30))): expected sizes such as 8, 8x2 or *")
                    }
                    continue
                }
                guard let n = Int(d), n >= 0, n <= 1 << 24 else {
                    throw HaulError(.invalidCatalog, "\(name):\(line): FIELD \(fieldName.prefix(60)) (arraysize \(arraysize.prefix(30))): expected sizes such as 8, 8x2 or *")
                }
                let (product, overflow) = count.multipliedReportingOverflow(by: n)
                guard !overflow, product <= 1 << 24 else {
                    throw HaulError(.invalidCatalog, "\(name):\(line): FIELD \(fieldName.prefix(60)) (arraysize \(arraysize.prefix(30))): too large")
                }
                count = product
            }
            f.count = count
        }
        return f
    }

    /// DATA's content, the scanner just past `<DATA>`.
    static func votableData(_ xml: inout XMLScanner, fields: [VOField], columns: TableColumns, name: String) throws -> [Product] {
        while let event = try xml.next() {
            switch event {
            case .start(let element, let attributes, let empty, let line):
                switch element {
                case "TABLEDATA":
                    return empty ? [] : try votableTableData(&xml, fields: fields, columns: columns, name: name)
                case "BINARY2":
                    guard !empty else { return [] }
                    // The STREAM inside.
                    while let inner = try xml.next() {
                        if case .start(let streamElement, let streamAttributes, let streamEmpty, let streamLine) = inner {
                            guard streamElement == "STREAM" else {
                                throw HaulError(.invalidCatalog, "\(name):\(streamLine): expected a STREAM in BINARY2, found <\(streamElement.prefix(40))>")
                            }
                            if streamAttributes["href"] != nil {
                                throw HaulError(.invalidCatalog, "\(name):\(streamLine): a BINARY2 STREAM by reference (href) is not supported: expected the data inline, base64-encoded")
                            }
                            guard streamAttributes["encoding"] == "base64" else {
                                throw HaulError(.invalidCatalog, "\(name):\(streamLine): a BINARY2 STREAM with encoding \"\(streamAttributes["encoding"] ?? "")\" is not supported: expected encoding=\"base64\"")
                            }
                            let data = streamEmpty ? [] : try xml.base64Text(streamLine)
                            return try data.withUnsafeBufferPointer {
                                try votableBinary2($0, line: streamLine, fields: fields, columns: columns, name: name)
                            }
                        }
                        if case .end = inner { return [] }
                    }
                    throw HaulError(.invalidCatalog, "\(name):\(xml.line): the document ends inside BINARY2")
                case "BINARY":
                    throw HaulError(.invalidCatalog, "\(name):\(line): VOTable BINARY serialization is not supported: expected TABLEDATA or BINARY2 (astropy's tabledata_format='binary2')")
                case "FITS":
                    throw HaulError(.invalidCatalog, "\(name):\(line): VOTable FITS serialization is not supported: expected TABLEDATA or BINARY2")
                default:
                    _ = attributes
                    throw HaulError(.invalidCatalog, "\(name):\(line): expected TABLEDATA or BINARY2 in DATA, found <\(element.prefix(40))>")
                }
            case .end: return []
            case .text: break
            }
        }
        throw HaulError(.invalidCatalog, "\(name):\(xml.line): the document ends inside DATA")
    }

    static func votableTableData(_ xml: inout XMLScanner, fields: [VOField], columns: TableColumns, name: String) throws -> [Product] {
        var products: [Product] = []
        while let event = try xml.next() {
            switch event {
            case .start(let element, _, let empty, let rowLine):
                guard element == "TR" else {
                    throw HaulError(.invalidCatalog, "\(name):\(rowLine): expected a TR row in TABLEDATA, found <\(element.prefix(40))>")
                }
                var cells = columns.emptyRow()
                var column = 0
                if !empty {
                    row: while let inner = try xml.next() {
                        switch inner {
                        case .start(let cell, _, let cellEmpty, let cellLine):
                            guard cell == "TD" else {
                                throw HaulError(.invalidCatalog, "\(name):\(cellLine): expected a TD cell in a TR, found <\(cell.prefix(40))>")
                            }
                            guard column < fields.count else {
                                throw HaulError(.invalidCatalog, "\(name):\(rowLine): expected \(fields.count) TD cells as there are FIELDs, found more")
                            }
                            let text = cellEmpty ? "" : try xml.textContent(of: "TD", line: cellLine)
                            if let mapped = columns.fields[column] {
                                cells[mapped.rawValue] = try voCell(text, field: fields[column], name: name, line: cellLine)
                            }
                            column += 1
                        case .end: break row
                        case .text(let range, _):
                            guard xml.isSpace(range) else {
                                throw HaulError(.invalidCatalog, "\(name):\(xml.line): text between TD cells: expected <TD>")
                            }
                        }
                    }
                }
                guard column == fields.count else {
                    throw HaulError(.invalidCatalog, "\(name):\(rowLine): expected \(fields.count) TD cells as there are FIELDs, found \(column)")
                }
                products.append(try columns.product(cells, place: "\(name):\(rowLine)"))
            case .end: return products
            case .text(let range, _):
                guard xml.isSpace(range) else {
                    throw HaulError(.invalidCatalog, "\(name):\(xml.line): text between rows: expected <TR>")
                }
            }
        }
        throw HaulError(.invalidCatalog, "\(name):\(xml.line): the document ends inside TABLEDATA")
    }

    /// A TD's text as a cell of `field`'s type; empty, the VALUES null or NaN is a masked value.
    static func voCell(_ text: String, field: VOField, name: String, line: Int) throws -> JSONValue {
        if field.isText { return text.isEmpty ? .null : .string(text) }
        let t = text.trimmingSpaces()
        if t.isEmpty || t == field.null { return .null }
        func fail(_ expected: String) -> HaulError {
            HaulError(.invalidCatalog, "\(name):\(line): \(field.name): expected \(expected), found \"\(t.prefix(40))\"")
        }
        switch field.datatype {
        case "boolean":
            switch t.lowercased() {
            case "t", "true", "1": return .bool(true)
            case "f", "false", "0": return .bool(false)
            case "?": return .null
            default: throw fail("a boolean (T, F, true, false, 1, 0 or ?)")
            }
        case "bit":
            guard t == "0" || t == "1" else { throw fail("a bit (0 or 1)") }
            return .bool(t == "1")
        case "unsignedByte", "short", "int", "long":
            if let value = TableText.integer(t) { return .number(Double(value), integer: value) }
            if t.lowercased().hasPrefix("0x"), let value = Int64(t.dropFirst(2), radix: 16) { return .number(Double(value), integer: value) }
            throw fail("a \(field.datatype) (a whole number)")
        case "float", "double":
            guard let value = TableText.number(t) else { throw fail("a \(field.datatype) (a number)") }
            return value
        default:
            throw fail("a scalar value")
        }
    }

    static func votableBinary2(_ data: UnsafeBufferPointer<UInt8>, line: Int, fields: [VOField], columns: TableColumns, name: String) throws -> [Product] {
        let flagBytes = (fields.count + 7) / 8
        var products: [Product] = []
        var offset = 0
        var row = 0
        func fail(_ at: Int, _ reason: String) -> HaulError {
            HaulError(.invalidCatalog, "\(name):\(line): BINARY2 stream byte \(at): \(reason)")
        }
        while offset < data.count {
            row += 1
            guard data.count - offset >= flagBytes else {
                throw fail(offset, "the stream ends inside row \(row)'s null flags")
            }
            let flags = offset
            offset += flagBytes
            var cells = columns.emptyRow()
            for (index, field) in fields.enumerated() {
                let start = offset
                var count = field.count
                if field.variable {
                    guard data.count - offset >= 4 else {
                        throw fail(offset, "the stream ends inside row \(row), FIELD \(field.name)'s element count")
                    }
                    let n = Int(data[offset]) << 24 | Int(data[offset + 1]) << 16 | Int(data[offset + 2]) << 8 | Int(data[offset + 3])
                    offset += 4
                    count *= n
                }
                let size = field.datatype == "bit" ? (count + 7) / 8 : count * field.elementSize!
                guard data.count - offset >= size else {
                    throw fail(start, "the stream ends inside row \(row), FIELD \(field.name) (\(size) bytes expected, \(data.count - offset) left)")
                }
                let value = UnsafeBufferPointer(rebasing: data[offset..<(offset + size)])
                offset += size
                guard let mapped = columns.fields[index] else { continue }
                if data[flags + index / 8] & (0x80 >> UInt8(index % 8)) != 0 {
                    cells[mapped.rawValue] = .null
                    continue
                }
                cells[mapped.rawValue] = try voBinaryCell(value, field: field) { fail(start, "row \(row), FIELD \(field.name): \($0)") }
            }
            products.append(try columns.product(cells, place: "\(name): row \(row)"))
        }
        return products
    }

    /// A BINARY2 value of `field` (its bytes, the count already read) as a cell.
    static func voBinaryCell(_ bytes: UnsafeBufferPointer<UInt8>, field: VOField, fail: (String) -> HaulError) throws -> JSONValue {
        switch field.datatype {
        case "char":
            let text = bytes.prefix { $0 != 0 }
            guard let s = String(validating: text, as: UTF8.self) else { throw fail("not valid UTF-8 text") }
            return s.isEmpty ? .null : .string(s)
        case "unicodeChar":
            var units: [UInt16] = []
            units.reserveCapacity(bytes.count / 2)
            for i in stride(from: 0, to: bytes.count - 1, by: 2) {
                let unit = UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])
                if unit == 0 { break }
                units.append(unit)
            }
            guard let s = String(validating: units, as: UTF16.self) else { throw fail("not valid UCS-2 text") }
            return s.isEmpty ? .null : .string(s)
        case "boolean":
            switch bytes.first {
            case UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: "1"): return .bool(true)
            case UInt8(ascii: "F"), UInt8(ascii: "f"), UInt8(ascii: "0"): return .bool(false)
            case UInt8(ascii: "?"), UInt8(ascii: " "), 0: return .null
            default: throw fail("expected a boolean (T, F, 1, 0 or ?), found the byte \(bytes.first ?? 0)")
            }
        case "bit":
            return .bool((bytes.first ?? 0) & 0x80 != 0)
        case "unsignedByte", "short", "int", "long":
            let value = BigEndian.integer(bytes, signed: field.datatype != "unsignedByte")
            if let null = field.null, let n = TableText.integer(null.trimmingSpaces()), n == value { return .null }
            return .number(Double(value), integer: value)
        case "float", "double":
            guard let value = BigEndian.real(bytes) else { return .null }
            return .number(value, integer: nil)
        default:
            throw fail("expected a scalar value")
        }
    }
}
