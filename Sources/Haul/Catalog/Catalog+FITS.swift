// An astropy table written with `t.write('p.fits')`: a FITS file whose first BINTABLE extension holds
// the rows. Headers are 80-byte cards in blocks of 2,880 bytes, ended by `END`; the primary HDU and any
// extension before the table are skipped by the sizes their headers state. The table's `NAXIS1` (bytes a
// row), `NAXIS2` (rows), `TFIELDS`, and each column's `TTYPEn` (name), `TFORMn` (repeat and type code),
// `TNULLn` (an integer's null) and `TZEROn` (an integer's offset, as unsigned columns are written) say how
// to read a row: big-endian values one after another. `L` is `T`/`F` (0 is null), `A` is text padded
// with spaces or NULs, a float's NaN is null. A variable-length (`P`/`Q`) or array column is refused when
// it carries a CAOM field, and skipped otherwise.
//
// Written by hand: no FITS library is in reach (cfitsio would be a C dependency for a few hundred
// bytes of header), and what a product table needs is small. Every size a header states is checked
// against the file before anything is read or allocated.

import Foundation

extension Catalog {
    /// One FITS header card's keyword and value (quotes removed from a string, comment dropped).
    struct FITSCard {
        var keyword: String
        var value: String
        var isString: Bool
        var offset: Int
    }

    /// A header: its cards by keyword, and where its data starts.
    struct FITSHeader {
        var cards: [String: FITSCard] = [:]
        var start = 0
        var dataStart = 0

        subscript(keyword: String) -> FITSCard? { cards[keyword] }
    }

    static func parseFITS(_ bytes: UnsafeBufferPointer<UInt8>, name: String) throws -> [Product] {
        func fail(_ offset: Int, _ reason: String) -> HaulError {
            HaulError(.invalidCatalog, "\(name): byte \(offset): \(reason)")
        }
        var offset = 0
        var hdu = 0
        while offset < bytes.count {
            let header = try fitsHeader(bytes, at: offset, name: name)
            let extensionName = header["XTENSION"]?.value.trimmingSpaces().uppercased()
            if hdu == 0 {
                guard header["SIMPLE"] != nil else { throw fail(offset, "expected the primary header's SIMPLE card") }
            } else if extensionName == nil {
                throw fail(offset, "expected an XTENSION card to start the next header")
            }
            if extensionName == "BINTABLE" {
                return try fitsTable(bytes, header: header, name: name)
            }
            // Skip this HDU's data: |BITPIX|/8 × GCOUNT × (PCOUNT + NAXIS1 × … × NAXISn), in whole blocks.
            let bitpix = try fitsInteger(header, "BITPIX", name: name)
            let axes = try fitsInteger(header, "NAXIS", name: name)
            guard [8, 16, 32, 64, -32, -64].contains(bitpix) else { throw fail(header["BITPIX"]!.offset, "BITPIX \(bitpix): expected 8, 16, 32, 64, -32 or -64") }
            guard (0...999).contains(axes) else { throw fail(header["NAXIS"]!.offset, "NAXIS \(axes): expected 0 to 999") }
            var size = 0
            if axes > 0 {
                size = 1
                // Random groups (NAXIS1 = 0 in a primary header) count the axes after the first.
                for axis in 1...axes {
                    let n = try fitsInteger(header, "NAXIS\(axis)", name: name)
                    guard n >= 0 else { throw fail(header["NAXIS\(axis)"]!.offset, "NAXIS\(axis) \(n): expected a size ≥ 0") }
                    if axis == 1, n == 0, header["GROUPS"]?.value == "T" { continue }
                    let (product, overflow) = size.multipliedReportingOverflow(by: n)
                    guard !overflow, product <= bytes.count else {
                        throw fail(header.start, "HDU \(hdu + 1) states more data than the file holds (\(bytes.count) bytes)")
                    }
                    size = product
                }
                let pcount = header["PCOUNT"] != nil ? try fitsInteger(header, "PCOUNT", name: name) : 0
                let gcount = header["GCOUNT"] != nil ? try fitsInteger(header, "GCOUNT", name: name) : 1
                guard pcount >= 0, pcount <= bytes.count, gcount >= 0, gcount <= bytes.count else {
                    throw fail(header.start, "HDU \(hdu + 1): PCOUNT or GCOUNT out of range")
                }
                let (withHeap, o1) = size.addingReportingOverflow(pcount)
                let (groups, o2) = withHeap.multipliedReportingOverflow(by: gcount)
                let (total, o3) = groups.multipliedReportingOverflow(by: abs(bitpix) / 8)
                guard !o1, !o2, !o3, total <= bytes.count else {
                    throw fail(header.start, "HDU \(hdu + 1) states more data than the file holds (\(bytes.count) bytes)")
                }
                size = total
            }
            let blocks = (size + 2879) / 2880 * 2880
            guard header.dataStart + size <= bytes.count else {
                throw fail(header.dataStart, "the file ends inside HDU \(hdu + 1)'s data (\(size) bytes stated, \(bytes.count - header.dataStart) left)")
            }
            offset = header.dataStart + blocks
            hdu += 1
        }
        throw HaulError(.invalidCatalog, "\(name): no BINTABLE extension: expected an astropy table written with t.write('p.fits') (ASCII TABLE extensions and images are not supported)")
    }

    /// The header at `offset`: cards up to `END`, padded to whole blocks.
    static func fitsHeader(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int, name: String) throws -> FITSHeader {
        var header = FITSHeader()
        header.start = start
        var offset = start
        while true {
            guard bytes.count - offset >= 80 else {
                throw HaulError(.invalidCatalog, "\(name): byte \(offset): the file ends inside a header (no END card): expected 80-byte cards in blocks of 2,880 bytes")
            }
            let card = UnsafeBufferPointer(rebasing: bytes[offset..<(offset + 80)])
            guard card.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E }) else {
                throw HaulError(.invalidCatalog, "\(name): byte \(offset): a header card holds a byte that is not printable ASCII")
            }
            let keyword = String(decoding: card.prefix(8), as: UTF8.self).trimmingSpaces()
            if keyword == "END" { break }
            if card[8] == UInt8(ascii: "="), card[9] == UInt8(ascii: " "), !keyword.isEmpty {
                let (value, isString) = try fitsValue(card, name: name, offset: offset)
                // The first of repeated keywords counts, as FITS readers take it.
                if header.cards[keyword] == nil {
                    header.cards[keyword] = FITSCard(keyword: keyword, value: value, isString: isString, offset: offset)
                }
            }
            offset += 80
            guard header.cards.count <= 100_000 else {
                throw HaulError(.invalidCatalog, "\(name): byte \(offset): a header of more than 100,000 cards")
            }
        }
        let end = offset + 80
        header.dataStart = start + (end - start + 2879) / 2880 * 2880
        return header
    }

    /// A card's value: a quoted string (`''` a quote, trailing spaces dropped) or the text before a `/`.
    static func fitsValue(_ card: UnsafeBufferPointer<UInt8>, name: String, offset: Int) throws -> (String, Bool) {
        var i = 10
        while i < 80, card[i] == 0x20 { i += 1 }
        if i < 80, card[i] == UInt8(ascii: "'") {
            var out: [UInt8] = []
            i += 1
            while true {
                guard i < 80 else {
                    throw HaulError(.invalidCatalog, "\(name): byte \(offset): a quoted value is never closed in the card")
                }
                if card[i] == UInt8(ascii: "'") {
                    if i + 1 < 80, card[i + 1] == UInt8(ascii: "'") { out.append(UInt8(ascii: "'")); i += 2; continue }
                    break
                }
                out.append(card[i])
                i += 1
            }
            while out.last == 0x20 { out.removeLast() }
            return (String(decoding: out, as: UTF8.self), true)
        }
        let rest = card[i..<80].prefix { $0 != UInt8(ascii: "/") }
        return (String(decoding: rest, as: UTF8.self).trimmingSpaces(), false)
    }

    static func fitsInteger(_ header: FITSHeader, _ keyword: String, name: String) throws -> Int {
        guard let card = header[keyword] else {
            throw HaulError(.invalidCatalog, "\(name): byte \(header.start): the header at byte \(header.start) has no \(keyword) card")
        }
        guard !card.isString, let value = Int(card.value.hasPrefix("+") ? String(card.value.dropFirst()) : card.value) else {
            throw HaulError(.invalidCatalog, "\(name): byte \(card.offset): \(keyword) = \(card.value.prefix(30)): expected a whole number")
        }
        return value
    }

    /// A BINTABLE column: where it lies in a row, and how to read it.
    struct FITSColumn {
        var name: String
        var form: String
        var code: UInt8
        var repeatCount: Int
        var width: Int
        var offset: Int
        var null: Int64?
        var zero: Double
        var scale: Double
        var cardOffset: Int
    }

    static func fitsTable(_ bytes: UnsafeBufferPointer<UInt8>, header: FITSHeader, name: String) throws -> [Product] {
        func fail(_ offset: Int, _ reason: String) -> HaulError {
            HaulError(.invalidCatalog, "\(name): byte \(offset): \(reason)")
        }
        let rowBytes = try fitsInteger(header, "NAXIS1", name: name)
        let rows = try fitsInteger(header, "NAXIS2", name: name)
        let count = try fitsInteger(header, "TFIELDS", name: name)
        guard rowBytes >= 0, rows >= 0 else { throw fail(header.start, "NAXIS1 and NAXIS2 must be ≥ 0") }
        // Rows of no bytes would let NAXIS2 state any number of them without the file holding one.
        guard rowBytes > 0 || rows == 0 else { throw fail(header["NAXIS1"]!.offset, "NAXIS1 = 0 with NAXIS2 = \(rows): expected rows of at least one byte") }
        guard (0...999).contains(count) else { throw fail(header["TFIELDS"]!.offset, "TFIELDS \(count): expected 0 to 999") }
        let (dataSize, overflow) = rowBytes.multipliedReportingOverflow(by: rows)
        guard !overflow, dataSize <= bytes.count - header.dataStart else {
            throw fail(header.dataStart, "the file ends inside the table: \(rows) rows of \(rowBytes) bytes stated, \(bytes.count - header.dataStart) bytes left")
        }
        var columns: [FITSColumn] = []
        var position = 0
        for n in stride(from: 1, through: count, by: 1) {
            guard let formCard = header["TFORM\(n)"], formCard.isString else {
                throw fail(header["TFORM\(n)"]?.offset ?? header.start, "FITS column \(n) has no TFORM\(n) card with a quoted format such as '8A' or 'K'")
            }
            let form = formCard.value.trimmingSpaces()
            let digits = form.utf8.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            let repeatCount = digits.isEmpty ? 1 : Int(String(decoding: digits, as: UTF8.self)) ?? -1
            let rest = form.utf8.dropFirst(digits.count)
            guard repeatCount >= 0, repeatCount <= bytes.count, let code = rest.first else {
                throw fail(formCard.offset, "FITS column \(n) (TFORM \(form.prefix(20))): expected a repeat count and a type code such as 8A, K or 1J")
            }
            let elementSize: Int
            switch code {
            case UInt8(ascii: "L"), UInt8(ascii: "B"), UInt8(ascii: "A"): elementSize = 1
            case UInt8(ascii: "I"): elementSize = 2
            case UInt8(ascii: "J"), UInt8(ascii: "E"): elementSize = 4
            case UInt8(ascii: "K"), UInt8(ascii: "D"), UInt8(ascii: "C"), UInt8(ascii: "P"): elementSize = 8
            case UInt8(ascii: "M"), UInt8(ascii: "Q"): elementSize = 16
            case UInt8(ascii: "X"): elementSize = 0 // Bits: see below.
            default:
                throw fail(formCard.offset, "FITS column \(n) (TFORM \(form.prefix(20))): unknown type code \(Character(Unicode.Scalar(code))): expected one of L X B I J K A E D C M P Q")
            }
            // After the code only a P/Q descriptor's type and maximum may follow (`1PB(200)`).
            let isDescriptor = code == UInt8(ascii: "P") || code == UInt8(ascii: "Q")
            guard rest.count == 1 || isDescriptor else {
                throw fail(formCard.offset, "FITS column \(n) (TFORM \(form.prefix(20))): expected a repeat count and a type code such as 8A, K or 1J")
            }
            let width = code == UInt8(ascii: "X") ? (repeatCount + 7) / 8 : repeatCount * elementSize
            let columnName = header["TTYPE\(n)"]?.value.trimmingSpaces() ?? ""
            var column = FITSColumn(name: columnName, form: form, code: code, repeatCount: repeatCount, width: width,
                                    offset: position, null: nil, zero: 0, scale: 1, cardOffset: formCard.offset)
            if let card = header["TNULL\(n)"] {
                guard !card.isString, let value = Int64(card.value.hasPrefix("+") ? String(card.value.dropFirst()) : card.value) else {
                    throw fail(card.offset, "TNULL\(n) = \(card.value.prefix(30)): expected a whole number")
                }
                column.null = value
            }
            for (keyword, keyPath) in [("TZERO", \FITSColumn.zero), ("TSCAL", \FITSColumn.scale)] {
                guard let card = header["\(keyword)\(n)"] else { continue }
                guard !card.isString, let value = Double(card.value.replacingOccurrences(of: "D", with: "E")) else {
                    throw fail(card.offset, "\(keyword)\(n) = \(card.value.prefix(30)): expected a number")
                }
                column[keyPath: keyPath] = value
            }
            position += width
            guard position <= rowBytes else {
                throw fail(formCard.offset, "FITS column \(n) (TFORM \(form.prefix(20))) ends at byte \(position) of a row, past NAXIS1 = \(rowBytes)")
            }
            columns.append(column)
        }
        guard position == rowBytes else {
            throw fail(header["NAXIS1"]!.offset, "NAXIS1 = \(rowBytes), but the columns' TFORMs add up to \(position) bytes a row")
        }
        let table = try TableColumns(names: columns.map(\.name), name: name, place: "\(name): byte \(header.start)")
        for (n, (column, field)) in zip(columns, table.fields).enumerated() where field != nil {
            let where_ = "FITS column \(n + 1) \(column.name) (TFORM \(column.form))"
            switch column.code {
            case UInt8(ascii: "P"), UInt8(ascii: "Q"):
                throw fail(column.cardOffset, "\(where_): variable-length arrays are not supported")
            case UInt8(ascii: "A"):
                break
            case UInt8(ascii: "X"), UInt8(ascii: "C"), UInt8(ascii: "M"):
                throw fail(column.cardOffset, "\(where_): bit and complex columns are not supported for a CAOM field")
            default:
                guard column.repeatCount == 1 else {
                    throw fail(column.cardOffset, "\(where_): arrays are not supported for a CAOM field")
                }
            }
            if column.scale != 1 {
                throw fail(column.cardOffset, "\(where_): scaled columns (TSCAL) are not supported for a CAOM field")
            }
        }
        var products: [Product] = []
        products.reserveCapacity(rows)
        for row in 0..<rows {
            let rowStart = header.dataStart + row * rowBytes
            var cells = table.emptyRow()
            for (n, column) in columns.enumerated() {
                guard let field = table.fields[n] else { continue }
                let start = rowStart + column.offset
                let value = UnsafeBufferPointer(rebasing: bytes[start..<(start + column.width)])
                cells[field.rawValue] = try fitsCell(value, column: column) {
                    fail(start, "row \(row + 1), FITS column \(n + 1) \(column.name) (TFORM \(column.form)): \($0)")
                }
            }
            products.append(try table.product(cells, place: "\(name): row \(row + 1)"))
        }
        return products
    }

    static func fitsCell(_ bytes: UnsafeBufferPointer<UInt8>, column: FITSColumn, fail: (String) -> HaulError) throws -> JSONValue {
        switch column.code {
        case UInt8(ascii: "A"):
            var text = bytes.prefix { $0 != 0 }
            while text.last == 0x20 { text = text.dropLast() }
            guard let s = String(validating: text, as: UTF8.self) else { throw fail("not valid UTF-8 text") }
            return s.isEmpty ? .null : .string(s)
        case UInt8(ascii: "L"):
            guard let b = bytes.first else { return .null }
            switch b {
            case UInt8(ascii: "T"): return .bool(true)
            case UInt8(ascii: "F"): return .bool(false)
            case 0: return .null
            default: throw fail("expected T, F or 0 for a logical value, found the byte \(b)")
            }
        case UInt8(ascii: "B"), UInt8(ascii: "I"), UInt8(ascii: "J"), UInt8(ascii: "K"):
            guard !bytes.isEmpty else { return .null }
            let raw = BigEndian.integer(bytes, signed: column.code != UInt8(ascii: "B"))  // B is unsigned.
            if let null = column.null, raw == null { return .null }
            if column.zero == 0 { return .number(Double(raw), integer: raw) }
            // An offset integer (unsigned columns): exact while it fits.
            let (shifted, overflow) = raw.addingReportingOverflow(Int64(exactly: column.zero) ?? 0)
            guard Int64(exactly: column.zero) != nil, !overflow else { return .number(Double(raw) + column.zero, integer: nil) }
            return .number(Double(shifted), integer: shifted)
        case UInt8(ascii: "E"), UInt8(ascii: "D"):
            guard !bytes.isEmpty, let value = BigEndian.real(bytes) else { return .null }
            return .number(value + column.zero, integer: nil)
        default:
            throw fail("not a scalar value")
        }
    }
}
