// An astropy table written with `t.write('p.ecsv')`: `# %ECSV 1.0`, a YAML header in `# ` comment lines
// whose `datatype` list gives each column's name and type, then a line of column names and one line a
// row, fields split by spaces (or the header's `delimiter`), quoted with `"` where they hold one, a
// masked value an empty field (`""`).
//
// The YAML is read by hand, not with Yams: astropy writes a small, fixed part of YAML (a top-level
// mapping; `datatype` a list of flow mappings `{name: a, datatype: int64}` or of block mappings; quoted or
// plain scalars), and this reader takes just that, strictly, with a line number in every message; other
// top-level keys (`meta`, `schema`) are skipped whole. A library dependency for a dozen lines of header
// would be a larger thing to trust than the reader.

import Foundation

extension Catalog {
    /// One column as the ECSV header declares it.
    struct ECSVColumn {
        var name: String
        var datatype: String
        var subtype: String?
        var line: Int
    }

    static func parseECSV(_ text: String, name: String) throws -> [Product] {
        // Lines split on the bytes (CR LF is one Character, and walking Characters is slow), a CR dropped.
        var lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).makeIterator()
        var number = 0
        func next() -> Substring? {
            guard var line = lines.next() else { return nil }
            number += 1
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            return Substring(line)
        }
        guard let first = next(), first.hasPrefix("# %ECSV") else {
            throw HaulError(.invalidCatalog, "\(name):1: expected the ECSV signature # %ECSV 1.0")
        }
        let version = first.dropFirst("# %ECSV".count).trimmingSpaces()
        guard version.hasPrefix("0.") || version.hasPrefix("1.") else {
            throw HaulError(.invalidCatalog, "\(name):1: ECSV version \(version.prefix(20)) is not supported: expected 1.0 (or 0.9)")
        }
        // The header: every `#` line up to the column names.
        var header: [(line: Int, text: Substring)] = []
        var namesLine: (line: Int, text: Substring)?
        while let line = next() {
            if line.hasPrefix("#") {
                // `# ` starts each header line; a bare `#` is an empty one.
                guard line == "#" || line.hasPrefix("# ") else {
                    throw HaulError(.invalidCatalog, "\(name):\(number): expected a header line starting with \"# \"")
                }
                header.append((number, line.dropFirst(2)))
            } else if !line.allSatisfy({ $0 == " " || $0 == "\t" }) {
                namesLine = (number, line)
                break
            }
        }
        guard header.first?.text.trimmingSpaces() == "---" else {
            throw HaulError(.invalidCatalog, "\(name):2: expected the YAML header's start, # ---")
        }
        let (columns, delimiter) = try ecsvHeader(header.dropFirst(), name: name)
        guard let namesLine else {
            throw HaulError(.invalidCatalog, "\(name):\(number): the header is not followed by a line of column names")
        }
        let names = try ecsvFields(namesLine.text, delimiter: delimiter, name: name, line: namesLine.line)
        guard names == columns.map(\.name) else {
            throw HaulError(.invalidCatalog, "\(name):\(namesLine.line): expected the column names the header lists (\(columns.map(\.name).joined(separator: " ").prefix(200))), found \(names.joined(separator: " ").prefix(200))")
        }
        let table = try TableColumns(names: names, name: name, place: "\(name):\(namesLine.line)")
        for (column, field) in zip(columns, table.fields) where field != nil {
            if let subtype = column.subtype {
                throw HaulError(.invalidCatalog, "\(name):\(column.line): ECSV column \(column.name) (subtype \(subtype.prefix(40))): array and object columns are not supported for a CAOM field")
            }
            guard ecsvKind(column.datatype) != nil else {
                throw HaulError(.invalidCatalog, "\(name):\(column.line): ECSV column \(column.name) (datatype \(column.datatype.prefix(40))): expected one of bool, int8…int64, uint8…uint64, float16…float128, string")
            }
        }
        var products: [Product] = []
        while let line = next() {
            if line.hasPrefix("#") || line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let fields = try ecsvFields(line, delimiter: delimiter, name: name, line: number)
            guard fields.count == columns.count else {
                throw HaulError(.invalidCatalog, "\(name):\(number): expected \(columns.count) fields as in the header, found \(fields.count)")
            }
            var cells = table.emptyRow()
            for (index, field) in table.fields.enumerated() {
                guard let field else { continue }
                let raw = fields[index]
                let column = columns[index]
                if raw.isEmpty { cells[field.rawValue] = .null; continue }
                switch ecsvKind(column.datatype)! {
                case .string:
                    cells[field.rawValue] = .string(raw)
                case .integer:
                    guard let value = TableText.integer(raw) else {
                        throw HaulError(.invalidCatalog, "\(name):\(number): \(column.name): expected an \(column.datatype) value, found \"\(raw.prefix(40))\"")
                    }
                    cells[field.rawValue] = .number(Double(value), integer: value)
                case .float:
                    guard let value = TableText.number(raw) else {
                        throw HaulError(.invalidCatalog, "\(name):\(number): \(column.name): expected a \(column.datatype) value, found \"\(raw.prefix(40))\"")
                    }
                    cells[field.rawValue] = value
                case .bool:
                    switch raw {
                    case "True", "true", "1": cells[field.rawValue] = .bool(true)
                    case "False", "false", "0": cells[field.rawValue] = .bool(false)
                    default:
                        throw HaulError(.invalidCatalog, "\(name):\(number): \(column.name): expected True or False, found \"\(raw.prefix(40))\"")
                    }
                }
            }
            products.append(try table.product(cells, place: "\(name):\(number)"))
        }
        return products
    }

    enum ECSVKind { case string, integer, float, bool }

    static func ecsvKind(_ datatype: String) -> ECSVKind? {
        switch datatype {
        case "string": .string
        case "bool": .bool
        case "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64": .integer
        case "float16", "float32", "float64", "float128": .float
        default: nil
        }
    }

    /// The columns and the delimiter the YAML header declares.
    static func ecsvHeader(_ lines: ArraySlice<(line: Int, text: Substring)>, name: String) throws -> ([ECSVColumn], Character) {
        var columns: [ECSVColumn] = []
        var delimiter: Character = " "
        var key: Substring = ""
        var sawDatatype = false
        // A block-style list item (`- name: a` then `  datatype: int64`) being read.
        var item: [String: String]?
        var itemLine = 0
        func finishItem() throws {
            guard let fields = item else { return }
            item = nil
            columns.append(try ecsvColumn(fields, name: name, line: itemLine))
        }
        for (number, text) in lines {
            if text.trimmingSpaces().isEmpty { continue }
            if let first = text.first, first != " ", first != "-" {
                // A top-level key.
                try finishItem()
                guard let colon = text.firstIndex(of: ":") else {
                    throw HaulError(.invalidCatalog, "\(name):\(number): expected a YAML key (key: value) in the ECSV header")
                }
                key = text[..<colon]
                let value = text[text.index(after: colon)...].trimmingSpaces()
                switch key {
                case "datatype":
                    sawDatatype = true
                    guard value.isEmpty else {
                        throw HaulError(.invalidCatalog, "\(name):\(number): expected the datatype list on the lines below datatype:")
                    }
                case "delimiter":
                    let scalar = try yamlScalar(Substring(value), name: name, line: number)
                    guard scalar == " " || scalar == "," else {
                        throw HaulError(.invalidCatalog, "\(name):\(number): delimiter \"\(scalar.prefix(10))\": expected ' ' or ','")
                    }
                    delimiter = scalar.first!
                default:
                    break // schema, meta and what a later ECSV adds: not needed here.
                }
                continue
            }
            guard key == "datatype" else { continue }
            let trimmed = text.drop { $0 == " " }
            if trimmed.hasPrefix("- ") || trimmed == "-" {
                try finishItem()
                let rest = trimmed.dropFirst(1).drop { $0 == " " }
                if rest.hasPrefix("{") {
                    columns.append(try ecsvColumn(yamlFlowMapping(rest, name: name, line: number), name: name, line: number))
                } else {
                    item = [:]
                    itemLine = number
                    if !rest.isEmpty { try yamlPair(rest, into: &item!, name: name, line: number) }
                }
            } else if item != nil {
                try yamlPair(trimmed, into: &item!, name: name, line: number)
            } else {
                throw HaulError(.invalidCatalog, "\(name):\(number): expected a list item (- {name: …, datatype: …}) under datatype:")
            }
        }
        try finishItem()
        guard sawDatatype else {
            throw HaulError(.invalidCatalog, "\(name):\((lines.first?.line ?? 2)): the ECSV header has no datatype list")
        }
        return (columns, delimiter)
    }

    static func ecsvColumn(_ fields: [String: String], name: String, line: Int) throws -> ECSVColumn {
        guard let column = fields["name"] else {
            throw HaulError(.invalidCatalog, "\(name):\(line): a datatype entry without a name")
        }
        guard let datatype = fields["datatype"] else {
            throw HaulError(.invalidCatalog, "\(name):\(line): column \(column.prefix(60)) has no datatype")
        }
        return ECSVColumn(name: column, datatype: datatype, subtype: fields["subtype"], line: line)
    }

    /// `key: value` of a block mapping, into `fields`; a nested value (`meta:` and lines below) is skipped.
    static func yamlPair(_ text: Substring, into fields: inout [String: String], name: String, line: Int) throws {
        guard let colon = text.firstIndex(of: ":") else {
            // A line of a nested block (a `meta` mapping's, say): nothing this reader needs.
            return
        }
        let key = String(text[..<colon].trimmingSpaces())
        let value = text[text.index(after: colon)...].drop { $0 == " " }
        guard !value.isEmpty, value.first != "{", value.first != "[" else { return }
        fields[key] = try yamlScalar(value, name: name, line: line)
    }

    /// A flow mapping on one line, `{name: a, datatype: int64, unit: m}`: its scalar members (nested
    /// mappings and lists are skipped).
    static func yamlFlowMapping(_ text: Substring, name: String, line: Int) throws -> [String: String] {
        var fields: [String: String] = [:]
        var index = text.index(after: text.startIndex)
        func fail(_ reason: String) -> HaulError {
            HaulError(.invalidCatalog, "\(name):\(line): \(reason) in the ECSV header's datatype list")
        }
        func skipSpaces() { while index < text.endIndex, text[index] == " " { index = text.index(after: index) } }
        while true {
            skipSpaces()
            guard index < text.endIndex else { throw fail("a flow mapping { is never closed") }
            if text[index] == "}" { break }
            let keyStart = index
            while index < text.endIndex, text[index] != ":" { index = text.index(after: index) }
            guard index < text.endIndex else { throw fail("expected key: value") }
            let key = text[keyStart..<index].trimmingSpaces()
            index = text.index(after: index)
            skipSpaces()
            guard index < text.endIndex else { throw fail("a flow mapping { is never closed") }
            let valueStart = index
            var depth = 0
            var quote: Character?
            while index < text.endIndex {
                let c = text[index]
                if let q = quote {
                    if c == q {
                        // '' inside single quotes is one quote; \" inside double quotes is escaped below.
                        let after = text.index(after: index)
                        if q == "'", after < text.endIndex, text[after] == "'" { index = text.index(after: after); continue }
                        quote = nil
                    } else if q == "\"", c == "\\" {
                        index = text.index(after: index)
                        guard index < text.endIndex else { break }
                    }
                } else if c == "'" || c == "\"" {
                    quote = c
                } else if c == "{" || c == "[" {
                    depth += 1
                } else if c == "}" || c == "]" {
                    if depth == 0 { break }
                    depth -= 1
                } else if c == ",", depth == 0 {
                    break
                }
                index = text.index(after: index)
            }
            guard quote == nil, index < text.endIndex else { throw fail(quote == nil ? "a flow mapping { is never closed" : "a quoted value is never closed") }
            let value = text[valueStart..<index]
            if let first = value.first, first != "{", first != "[" {
                fields[key] = try yamlScalar(value, name: name, line: line)
            }
            if text[index] == "," { index = text.index(after: index) }
        }
        let rest = text[text.index(after: index)...].trimmingSpaces()
        guard rest.isEmpty else { throw fail("text after the closing }") }
        return fields
    }

    /// A plain, single-quoted or double-quoted YAML scalar.
    static func yamlScalar(_ raw: Substring, name: String, line: Int) throws -> String {
        let text = raw.trimmingSpaces()
        if text.hasPrefix("'") {
            guard text.count >= 2, text.hasSuffix("'") else {
                throw HaulError(.invalidCatalog, "\(name):\(line): a quoted value is never closed in the ECSV header")
            }
            return String(text.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
        }
        if text.hasPrefix("\"") {
            guard text.count >= 2, text.hasSuffix("\"") else {
                throw HaulError(.invalidCatalog, "\(name):\(line): a quoted value is never closed in the ECSV header")
            }
            var out = ""
            var escaped = false
            for c in text.dropFirst().dropLast() {
                if escaped {
                    switch c {
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    default: out.append(c)
                    }
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else {
                    out.append(c)
                }
            }
            return out
        }
        return text
    }

    /// One line's fields: split by `delimiter` (runs of spaces and tabs are one when it is a space), `"`
    /// quoting a field with `""` for a quote in it. Read as bytes: every byte that matters is ASCII, and
    /// the text is valid UTF-8 already.
    static func ecsvFields(_ line: Substring, delimiter: Character, name: String, line number: Int) throws -> [String] {
        var line = line
        let separator = delimiter.asciiValue ?? UInt8(ascii: " ")
        let space = separator == UInt8(ascii: " ")
        let quote = UInt8(ascii: "\"")
        return try line.withUTF8 { bytes in
            func isSeparator(_ b: UInt8) -> Bool { b == separator || (space && b == 0x09) }
            var fields: [String] = []
            var i = 0
            let n = bytes.count
            if space { while i < n, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 } }
            guard i < n else { return [] }
            while true {
                if i < n, bytes[i] == quote {
                    i += 1
                    var start = i
                    var field: [UInt8] = []
                    var closed = false
                    while i < n {
                        if bytes[i] == quote {
                            if i + 1 < n, bytes[i + 1] == quote {
                                field += bytes[start...i]
                                i += 2
                                start = i
                                continue
                            }
                            closed = true
                            break
                        }
                        i += 1
                    }
                    guard closed else {
                        throw HaulError(.invalidCatalog, "\(name):\(number): a quoted field is never closed: expected a closing quote")
                    }
                    field += bytes[start..<i]
                    fields.append(String(decoding: field, as: UTF8.self))
                    i += 1
                    guard i == n || isSeparator(bytes[i]) else {
                        throw HaulError(.invalidCatalog, "\(name):\(number): text after a closing quote: expected a delimiter or the end of the line")
                    }
                } else {
                    let start = i
                    while i < n, !isSeparator(bytes[i]) {
                        if bytes[i] == quote {
                            throw HaulError(.invalidCatalog, "\(name):\(number): a quote inside an unquoted field: expected the whole field in quotes, with quotes doubled (\"\")")
                        }
                        i += 1
                    }
                    fields.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self))
                }
                guard i < n else { return fields }
                i += 1
                if space {
                    while i < n, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
                    if i == n { return fields }
                }
            }
        }
    }
}
