// The overlay's CSV export: `Dataset,Filename,Product Level,Suffix,Instrument,Filter / Grating`, and in
// Haul's own export `URI,Size,Access` after them. RFC 4180: quoted fields may hold commas, quotes ("")
// and line breaks; column names hold spaces, so only commas separate.

extension Catalog {
    /// The overlay's six columns, in its order.
    package static let overlayColumns = ["Dataset", "Filename", "Product Level", "Suffix", "Instrument", "Filter / Grating"]
    /// The columns Haul's export adds after the overlay's.
    package static let exportColumns = ["URI", "Size", "Access"]

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
        let commons = Product.CommonTable()
        let origin = "\(name):"
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
            // The origin `name:line`, its text shared by the rows (``Product/setOrigin(_:line:)``).
            let common = commons.common(Product.Common.Values(
                mission: uri.hasPrefix("mast:") ? String(uri.dropFirst(5).prefix { $0 != "/" }) : nil,
                level: jwst ? Product.jwstLevel(stated: stated, suffix: suffix, filename: filename) : stated,
                category: jwst ? nil : Product.hstCategory(level: stated, productType: nil, project: nil),
                suffix: suffix, productType: nil,
                instrument: fields[4].trimmingSpaces().nilIfEmpty, filters: fields[5].trimmingSpaces().nilIfEmpty,
                originText: origin, details: nil
            ))
            var product = Product(
                uri: uri, filename: filename, dataset: dataset, common: common, recommended: false,
                guideStar: Product.isGuideStar(filename: filename, subgroup: subgroup), access: access, size: size, exported: true
            )
            product.setOrigin(origin, line: line)
            products.append(product)
        }
        return products
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
