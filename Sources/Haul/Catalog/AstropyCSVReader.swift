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

    /// Where the first record that starts at or after `from` starts, in bytes read from their start
    /// without an error up to there: just past the first line break at or after `from` that is outside
    /// quotes, as every `"` before it tells (a field's opening and closing quote, a doubled quote two);
    /// `nil` when there is none before the end. Bytes with an error before it give a wrong place, but
    /// the reader of the bytes before it meets that error first.
    static func recordStart(in bytes: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        var quotes = 0
        var i = 0
        // The quotes before `from`, eight bytes at a time.
        while i + 8 <= from {
            let word = UnsafeRawPointer(bytes.baseAddress! + i).loadUnaligned(as: UInt64.self)
            let x = word ^ (SWAR.ones &* UInt64(UInt8(ascii: "\"")))
            // A byte's high bit set when it is a quote: exact for every byte (no borrow crosses bytes).
            quotes &+= (((x & ~SWAR.highs) &+ ~SWAR.highs | x) & SWAR.highs ^ SWAR.highs).nonzeroBitCount
            i += 8
        }
        while i < from {
            if bytes[i] == UInt8(ascii: "\"") { quotes += 1 }
            i += 1
        }
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") { quotes += 1 } else if b == 0x0A, quotes & 1 == 0 { return i + 1 < bytes.count ? i + 1 : nil }
            i += 1
        }
        return nil
    }

    /// How many line breaks (LF) `bytes` hold: the lines ``line`` counts over them.
    static func lineBreaks(in bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var count = 0
        var i = 0
        while i + 8 <= bytes.count {
            let word = UnsafeRawPointer(bytes.baseAddress! + i).loadUnaligned(as: UInt64.self)
            let x = word ^ (SWAR.ones &* 0x0A)
            count += (((x & ~SWAR.highs) &+ ~SWAR.highs | x) & SWAR.highs ^ SWAR.highs).nonzeroBitCount
            i += 8
        }
        while i < bytes.count {
            if bytes[i] == 0x0A { count += 1 }
            i += 1
        }
        return count
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
