// An astropy table written with `t.write('p.csv')` (format `ascii.csv`): a header line of column
// names, then one line a row; RFC 4180 quoting; a masked value is an empty field. Comment lines (`#`)
// may come before the header, as astropy writes a table's `meta['comments']`. Told from the overlay's
// export by its header, which names CAOM fields (`dataURI`, `obs_id`, …) instead of `Dataset,Filename,…`.

import Foundation

extension Catalog {
    /// Reads an astropy CSV table from its bytes (a byte-order mark is skipped).
    ///
    /// - Parameter consumed: Told, now and then, of a range of bytes that is read and never looked at again.
    static func parseAstropyCSV(
        _ all: UnsafeBufferPointer<UInt8>, name: String, consumed: (@Sendable (Range<Int>) -> Void)? = nil
    ) throws -> [Product] {
        let skip = all.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        let bytes = UnsafeBufferPointer(rebasing: all[skip...])
        // Not UTF-8: the message (and its line) that reading it as text gives.
        guard Self.isValidUTF8(bytes) else {
            _ = try text(Data(buffer: all), name: name)
            throw HaulError(.invalidCatalog, "\(name): not valid UTF-8 text")
        }
        var reader = AstropyCSVReader(bytes: bytes, name: name)
        // Blank lines and comment lines before the header.
        var headerLine: Int?
        while let line = try reader.next() {
            let first = reader.fields.count == 1 ? reader.text(0) : ""
            guard reader.fields.count == 1, first.trimmingSpaces().isEmpty || first.hasPrefix("#") else {
                headerLine = line
                break
            }
        }
        guard let headerLine else { return [] }
        let header = reader.fields.indices.map { reader.text($0) }
        // A refused header or row is reported once the rest is known to be well-formed CSV (see
        // ``AstropyCSVReader``); until then it is remembered and the rest only checked.
        var refused: (any Error)?
        let columns: TableColumns?
        do { columns = try TableColumns(names: header, name: name, place: "\(name):\(headerLine)") } catch {
            columns = nil
            refused = error
        }
        var products: [Product] = []
        var released = 0
        var cells = columns?.emptyRow() ?? []
        let linePrefix = "\(name):"
        let firstRowStart = reader.index
        while let line = try reader.next() {
            if let consumed, reader.index - released >= 16 << 20 {
                released = reader.index
                consumed((skip)..<(skip + released))
            }
            guard refused == nil, let columns else { continue }
            if reader.fields.count == 1, reader.text(0).trimmingSpaces().isEmpty { continue }
            guard reader.fields.count == header.count else {
                refused = HaulError(.invalidCatalog, "\(name):\(line): expected \(header.count) fields as in the header, found \(reader.fields.count)")
                products = []
                continue
            }
            if products.count == 1_000 {
                // Room for the rest at the first thousand rows' size, so a million rows are not copied
                // at every doubling.
                let perRow = Double(reader.index - firstRowStart) / 1_000
                products.reserveCapacity(1_000 + Int(Double(bytes.count - reader.index) / max(perRow, 1) * 1.3) + 16)
            }
            for (column, field) in columns.fields.enumerated() {
                guard let field else { continue }
                // Every cell is text: the mapping reads numbers from text as it does JSON strings.
                cells[field.rawValue] = reader.fields[column].count == 0 ? .null
                    : .string(field.repeats ? reader.sharedText(column, slot: field.rawValue) : reader.text(column))
            }
            do {
                products.append(try columns.product(cells, line: line, linePrefix: linePrefix))
            } catch {
                refused = error
                products = []
            }
        }
        if let refused { throw refused }
        return products
    }

    /// Whether bytes are well-formed UTF-8: plain ASCII is passed eight bytes at a time.
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i < bytes.count {
            while i + 8 <= bytes.count,
                  UnsafeRawPointer(bytes.baseAddress! + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
            }
            guard i < bytes.count else { break }
            if bytes[i] < 0x80 {
                i += 1
                continue
            }
            // A run of text beyond ASCII, up to the next line break (never inside a scalar).
            var end = i
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            guard JSONReader.isValidUTF8(UnsafeBufferPointer(rebasing: bytes[i..<end])) else { return false }
            i = end
        }
        return true
    }
}
