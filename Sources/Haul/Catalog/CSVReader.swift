/// An RFC 4180 reader that keeps each record's first line number for messages.
enum CSVReader {
    /// A field as written before ``Manifest/csvField(_:)`` guarded it against spreadsheet formulas
    /// (`'=x'` → `=x`, `''=x` → `'=x`).
    static func unguard(_ v: String) -> String {
        looksGuarded(v) ? String(Substring(v.unicodeScalars.dropFirst())) : v
    }

    /// Whether a field is one or more `'` then `=`, `+`, `@` or `-`: a guarded value, from which reading
    /// takes one `'`. So the writer guards such a value too, and every value reads back as itself. Bytes,
    /// not Characters: `"=\u{301}"` is one Character, and it is not `=`.
    static func looksGuarded(_ v: String) -> Bool {
        let bytes = v.utf8
        guard bytes.first == UInt8(ascii: "'"), let next = bytes.first(where: { $0 != UInt8(ascii: "'") }) else { return false }
        return "=+@-".utf8.contains(next)
    }

    static func records(_ text: String, name: String) throws -> [(line: Int, fields: [String])] {
        var records: [(Int, [String])] = []
        var fields: [String] = []
        var field = ""
        var line = 1
        var recordLine = 1
        var inQuotes = false
        var quoteLine = 0
        var afterQuote = false
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar?
        func next() -> Unicode.Scalar? {
            if let p = pending { pending = nil; return p }
            return iterator.next()
        }
        while let c = next() {
            if inQuotes {
                if c == "\"" {
                    if let n = next() {
                        if n == "\"" { field.unicodeScalars.append("\"") } else { inQuotes = false; afterQuote = true; pending = n }
                    } else { inQuotes = false; afterQuote = true }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case ",":
                fields.append(field); field = ""; afterQuote = false
            case "\r":
                continue
            case "\n":
                fields.append(field); field = ""; afterQuote = false
                records.append((recordLine, fields)); fields = []
                line += 1; recordLine = line
            case "\"":
                guard field.isEmpty, !afterQuote else {
                    throw HaulError(.invalidCatalog, "\(name):\(line): a quote inside an unquoted field: expected the whole field in quotes, with quotes doubled (\"\")")
                }
                inQuotes = true; quoteLine = line
            default:
                if afterQuote {
                    throw HaulError(.invalidCatalog, "\(name):\(line): text after a closing quote: expected a comma or the end of the line")
                }
                field.unicodeScalars.append(c)
            }
        }
        if inQuotes {
            throw HaulError(.invalidCatalog, "\(name):\(quoteLine): a quoted field is never closed: expected a closing quote")
        }
        if !field.isEmpty || !fields.isEmpty || afterQuote {
            fields.append(field)
            records.append((recordLine, fields))
        }
        return records
    }
}
