// An astropy table written with `t.write('p.csv')` (format `ascii.csv`): a header line of column
// names, then one line a row; RFC 4180 quoting; a masked value is an empty field. Comment lines (`#`)
// may come before the header, as astropy writes a table's `meta['comments']`. Told from the overlay's
// export by its header, which names CAOM fields (`dataURI`, `obs_id`, …) instead of `Dataset,Filename,…`.

extension Catalog {
    static func parseAstropyCSV(_ text: String, name: String) throws -> [Product] {
        let records = try CSVReader.records(text, name: name)
        var index = records.startIndex
        // Blank lines and comment lines before the header.
        while index < records.endIndex {
            let first = records[index].fields.first ?? ""
            guard records[index].fields.count == 1, first.trimmingSpaces().isEmpty || first.hasPrefix("#") else { break }
            index += 1
        }
        guard index < records.endIndex else { return [] }
        let (headerLine, header) = records[index]
        let columns = try TableColumns(names: header, name: name, place: "\(name):\(headerLine)")
        var products: [Product] = []
        products.reserveCapacity(records.count - index)
        for (line, fields) in records[(index + 1)...] {
            if fields.count == 1, fields[0].trimmingSpaces().isEmpty { continue }
            guard fields.count == header.count else {
                throw HaulError(.invalidCatalog, "\(name):\(line): expected \(header.count) fields as in the header, found \(fields.count)")
            }
            var cells = columns.emptyRow()
            for (column, field) in columns.fields.enumerated() {
                guard let field else { continue }
                // Every cell is text: the mapping reads numbers from text as it does JSON strings.
                cells[field.rawValue] = fields[column].isEmpty ? .null : .string(fields[column])
            }
            products.append(try columns.product(cells, place: "\(name):\(line)"))
        }
        return products
    }
}
