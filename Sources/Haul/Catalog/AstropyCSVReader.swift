import Foundation

/// An astropy CSV table read from its bytes, one record at a time, with ``CSVReader``'s rules and
/// messages: a million rows are read without a `String` of the file, an array of every record, or a
/// `String` per field; only the fields a product takes become strings, and values that rows repeat
/// are made once (``SharedStrings``).
///
/// The bytes are valid UTF-8 (the caller checks first, as ``Catalog/text(_:name:)`` does), so reading
/// them byte by byte is reading them scalar by scalar as ``CSVReader`` does: every byte it looks for
/// (`"`, `,`, CR, LF) is ASCII, and no byte of a longer scalar is.
///
/// As ``CSVReader`` reads every record before any is mapped, a syntax error anywhere is reported
/// before a row the mapping refuses: after the first such row the rest is only checked.
struct AstropyCSVReader {
    let bytes: UnsafeBufferPointer<UInt8>
    let name: String
    var index = 0
    /// The line of `index`.
    var line = 1
    var strings = SharedStrings()

    /// Where one field's text is: bytes of the input (`start`, `count`), or of `scratch` when it is not
    /// a run of the input (a doubled quote inside, or a CR skipped between its bytes).
    struct Field {
        var start = 0
        var count = 0
        var inScratch = false
    }

    var fields: [Field] = []
    var scratch: [UInt8] = []

    init(bytes: UnsafeBufferPointer<UInt8>, name: String) {
        self.bytes = bytes
        self.name = name
    }

    /// Reads the next record into ``fields``; its first line, or `nil` at the end of the input.
    mutating func next() throws -> Int? {
        guard index < bytes.count else { return nil }
        fields.removeAll(keepingCapacity: true)
        scratch.removeAll(keepingCapacity: true)
        let recordLine = line
        var field = Field()
        var inQuotes = false
        var quoteLine = 0
        var afterQuote = false
        /// Adds the byte at `at` to the field: a run of the input while it stays one.
        func append(_ b: UInt8, at: Int) {
            if field.inScratch {
                scratch.append(b)
                field.count += 1
            } else if field.count == 0 {
                field.start = at
                field.count = 1
            } else if field.start + field.count == at {
                field.count += 1
            } else {
                let from = scratch.count
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[field.start..<(field.start + field.count)]))
                scratch.append(b)
                field = Field(start: from, count: field.count + 1, inScratch: true)
            }
        }
        while index < bytes.count {
            let b = bytes[index]
            if inQuotes {
                if b == UInt8(ascii: "\"") {
                    if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\"") {
                        append(b, at: index)
                        index += 2
                    } else {
                        inQuotes = false
                        afterQuote = true
                        index += 1
                    }
                } else {
                    if b == 0x0A { line += 1 }
                    append(b, at: index)
                    index += 1
                }
                continue
            }
            switch b {
            case UInt8(ascii: ","):
                fields.append(field)
                field = Field()
                afterQuote = false
            case 0x0D:
                break
            case 0x0A:
                fields.append(field)
                index += 1
                line += 1
                return recordLine
            case UInt8(ascii: "\""):
                guard field.count == 0, !afterQuote else {
                    throw HaulError(.invalidCatalog, "\(name):\(line): a quote inside an unquoted field: expected the whole field in quotes, with quotes doubled (\"\")")
                }
                inQuotes = true
                quoteLine = line
            default:
                if afterQuote {
                    throw HaulError(.invalidCatalog, "\(name):\(line): text after a closing quote: expected a comma or the end of the line")
                }
                append(b, at: index)
            }
            index += 1
        }
        if inQuotes {
            throw HaulError(.invalidCatalog, "\(name):\(quoteLine): a quoted field is never closed: expected a closing quote")
        }
        // The input ends without a line break: the record counts if it holds anything.
        guard field.count > 0 || !fields.isEmpty || afterQuote else { return nil }
        fields.append(field)
        return recordLine
    }

    /// A field of the record last read, as text.
    func text(_ i: Int) -> String {
        let f = fields[i]
        if f.inScratch { return scratch.withUnsafeBufferPointer { String(decoding: $0[f.start..<(f.start + f.count)], as: UTF8.self) } }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[f.start..<(f.start + f.count)]), as: UTF8.self)
    }

    /// A field of the record last read, as text shared with earlier rows that had the same (`slot`:
    /// which column it is, so that a column's last value is tried first).
    mutating func sharedText(_ i: Int, slot: Int) -> String {
        let f = fields[i]
        if f.inScratch { return text(i) }
        return strings.string(UnsafeBufferPointer(rebasing: bytes[f.start..<(f.start + f.count)]), field: slot)
    }
}
