// The overlay's CSV export: `Dataset,Filename,Product Level,Suffix,Instrument,Filter / Grating`, and in
// Haul's own export `URI,Size,Access` after them. RFC 4180: quoted fields may hold commas, quotes ("")
// and line breaks; column names hold spaces, so only commas separate.

extension Catalog {
    /// The overlay's six columns, in its order.
    public static let overlayColumns = ["Dataset", "Filename", "Product Level", "Suffix", "Instrument", "Filter / Grating"]
    /// The columns Haul's export adds after the overlay's.
    public static let exportColumns = ["URI", "Size", "Access"]

    static func parseCSV(_ text: String, name: String) throws -> [Product] {
        let records = try CSVReader.records(text, name: name)
        guard let (headerLine, header) = records.first else { return [] }
        let names = header.map { $0.trimmingSpaces().lowercased() }
        let required = overlayColumns.map { $0.lowercased() }
        guard names.count >= required.count, Array(names.prefix(required.count)) == required else {
            throw HaulError(.invalidCatalog, "\(name):\(headerLine): expected the header \(overlayColumns.joined(separator: ","))[,\(exportColumns.joined(separator: ","))]")
        }
        func column(_ key: String) -> Int? { names.firstIndex(of: key.lowercased()) }
        let uriColumn = column("URI"), sizeColumn = column("Size"), accessColumn = column("Access")
        var products: [Product] = []
        for (line, rawFields) in records.dropFirst() {
            let fields = rawFields.map(CSVReader.unguard)
            if fields.count == 1, fields[0].trimmingSpaces().isEmpty { continue }
            guard fields.count == names.count else {
                throw HaulError(.invalidCatalog, "\(name):\(line): expected \(names.count) fields as in the header, found \(fields.count)")
            }
            let dataset = fields[0].trimmingSpaces()
            let filename = fields[1].trimmingSpaces()
            guard !filename.isEmpty else {
                throw HaulError(.invalidCatalog, "\(name):\(line): Filename: expected a file name, found an empty field")
            }
            var uri: String
            if let uriColumn, !fields[uriColumn].trimmingSpaces().isEmpty {
                uri = fields[uriColumn].trimmingSpaces()
            } else {
                // The overlay's export carries no URI: MAST serves every product as mast:MISSION/product/FILE.
                let mission = filename.lowercased().hasPrefix("jw") ? "JWST" : "HST"
                uri = "mast:\(mission)/product/\(filename)"
            }
            var size: Int64?
            if let sizeColumn {
                let raw = fields[sizeColumn].trimmingSpaces()
                if !raw.isEmpty {
                    guard let value = Int64(raw), value >= 0 else {
                        throw HaulError(.invalidCatalog, "\(name):\(line): Size: expected a size in bytes (a whole number ≥ 0), found \"\(raw.prefix(40))\"")
                    }
                    size = value
                }
            }
            var access = Product.Access.public
            if let accessColumn {
                guard let value = Product.Access(parsing: fields[accessColumn]) else {
                    throw HaulError(.invalidCatalog, "\(name):\(line): Access: expected PUBLIC or EXCLUSIVE_ACCESS, found \"\(fields[accessColumn].prefix(40))\"")
                }
                access = value
            }
            let subgroup = Product.normaliseSuffix(fields[3])
            let suffix = subgroup ?? Product.suffix(ofFilename: filename)
            let stated = Product.normaliseLevel(fields[2])
            let jwst = Product.isJWST(mission: nil, filename: filename)
            products.append(Product(
                uri: uri, filename: filename, dataset: dataset,
                mission: uri.hasPrefix("mast:") ? String(uri.dropFirst(5).prefix { $0 != "/" }) : nil,
                level: jwst ? Product.jwstLevel(stated: stated, suffix: suffix, filename: filename) : stated,
                category: jwst ? nil : Product.hstCategory(level: stated, productType: nil, project: nil),
                suffix: suffix,
                recommended: false,
                guideStar: Product.isGuideStar(filename: filename, subgroup: subgroup),
                access: access, size: size,
                instrument: fields[4].trimmingSpaces().nilIfEmpty, filters: fields[5].trimmingSpaces().nilIfEmpty,
                origin: "\(name):\(line)", exported: true
            ))
        }
        return products
    }
}

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

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
