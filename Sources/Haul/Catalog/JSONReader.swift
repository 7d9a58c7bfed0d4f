import Foundation

// A strict RFC 8259 reader for product lists. Written here rather than using JSONSerialization, which
// boxes every row into `[String: Any]` and then costs a dynamic cast per field: on a 100,000-row CAOM
// list (80 MB) that was 1.7 s of the 3.4 s `haul select` took. No package in the allowed set parses
// JSON faster than Foundation. This reader makes one pass over the bytes, keeps an object's fields
// in order (rows have about twenty), and says where a document breaks as line:column. Product rows
// are not built as values at all (JSONReader+Rows.swift): `skipValue` and `scanString` check what
// they pass exactly as `value` and `string` would, so one set of rules and messages serves both.

enum JSONReader {
    /// The deepest nesting accepted: deeper input is refused rather than overflowing the stack.
    static let maximumDepth = 512

    static func parse(_ data: Data) throws(JSONSyntaxError) -> JSONValue {
        let result: Result<JSONValue, JSONSyntaxError> = data.withUnsafeBytes { raw in
            var parser = Parser(bytes: raw.bindMemory(to: UInt8.self))
            do throws(JSONSyntaxError) {
                if parser.bytes.starts(with: [0xEF, 0xBB, 0xBF]) { parser.index = 3 }
                let value = try parser.value(depth: 0)
                parser.skipSpace()
                guard parser.index == parser.bytes.count else { throw parser.fail("unexpected text after the JSON value") }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Line and column (from 1) of a byte offset.
    static func location(of offset: Int, in data: Data) -> (line: Int, column: Int) {
        data.withUnsafeBytes { location(of: offset, in: $0.bindMemory(to: UInt8.self)) }
    }

    /// Line and column (from 1) of a byte offset.
    ///
    /// - Parameter passed: Told, every 16 MB, how many leading bytes have been counted (a mapped file
    ///   drops them again).
    static func location(
        of offset: Int, in bytes: UnsafeBufferPointer<UInt8>, passed: ((Int) -> Void)? = nil
    ) -> (line: Int, column: Int) {
        let end = min(offset, bytes.count)
        var line = 1
        var lineStart = 0
        var from = 0
        while from < end {
            let to = min(end, from + 16 << 20)
            for i in from..<to where bytes[i] == 0x0A {
                line += 1
                lineStart = i + 1
            }
            passed?(to)
            from = to
        }
        return (line, offset - lineStart + 1)
    }

    /// Whether bytes are well-formed UTF-8 (what `String(validating:as:)` accepts), without making a string.
    ///
    /// The well-formed sequences of the Unicode standard (table 3-7), checked a byte at a time with
    /// ASCII skipped eight bytes at a time: `Unicode.UTF8.ForwardParser`, a scalar at a time, was most
    /// of the strings' scanning in a list beyond ASCII (perf, the unicode shape of
    /// Benchmarks/select-shapes.sh). JSONReaderTests hold the two equal.
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let n = bytes.count
        var i = 0
        while i < n {
            if i + 8 <= n, UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
                continue
            }
            let b = base[i]
            if b < 0x80 {
                i += 1
            } else if b < 0xC2 {
                return false
            } else if b < 0xE0 {
                guard i + 1 < n, base[i + 1] & 0xC0 == 0x80 else { return false }
                i += 2
            } else if b < 0xF0 {
                guard i + 2 < n else { return false }
                let b1 = base[i + 1]
                switch b {
                case 0xE0: guard b1 >= 0xA0, b1 <= 0xBF else { return false }
                case 0xED: guard b1 >= 0x80, b1 <= 0x9F else { return false }
                default: guard b1 & 0xC0 == 0x80 else { return false }
                }
                guard base[i + 2] & 0xC0 == 0x80 else { return false }
                i += 3
            } else if b < 0xF5 {
                guard i + 3 < n else { return false }
                let b1 = base[i + 1]
                switch b {
                case 0xF0: guard b1 >= 0x90, b1 <= 0xBF else { return false }
                case 0xF4: guard b1 >= 0x80, b1 <= 0x8F else { return false }
                default: guard b1 & 0xC0 == 0x80 else { return false }
                }
                guard base[i + 2] & 0xC0 == 0x80, base[i + 3] & 0xC0 == 0x80 else { return false }
                i += 4
            } else {
                return false
            }
        }
        return true
    }

    /// ``isValidUTF8(_:)`` as the standard library's parser answers it, a scalar at a time: the tests' oracle.
    static func isValidUTF8ByScalars(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        var scratch: [UInt8] = []
        /// The member names last seen at each position of an object: rows repeat them, so a name is
        /// made once and shared.
        var names: [String] = []
        /// Every member name of a product row seen so far (64 at most are kept) and the field it names
        /// (``readRow(depth:into:)``), its bytes in ``knownBytes``.
        var knownNames: [KnownName] = []
        var knownBytes: [UInt8] = []
        /// The known names by their first bytes (``KnownName/key(_:)``): each slot a name's index + 1, or 0.
        /// Rows whose members come in another order than the row before's find theirs here at once.
        var knownSlots = [UInt8](repeating: 0, count: 256)
        /// The known name last seen at each position of a product row (its index, or -1): rows list
        /// their members in one order, so this one is tried first.
        var rowNames: [Int8] = []
        /// The strings product rows repeat, made once.
        var strings = SharedStrings()
        /// The decoded text of the row's noted strings that have escapes (``RowSlot/decodedStart``),
        /// one after the other; emptied at each row.
        var decoded: [UInt8] = []
        /// Whether rows note the fields of ``Product/Details`` (else they are skipped like any member
        /// the mapping does not read). Given, not read from ``Catalog/keepsDetails`` here: a task-local
        /// value is not seen on the thread that reads rows ahead (``RowsAhead``).
        let keepsDetails: Bool

        init(bytes: UnsafeBufferPointer<UInt8>, keepsDetails: Bool = Catalog.keepsDetails) {
            self.bytes = bytes
            self.keepsDetails = keepsDetails
        }

        func fail(_ reason: String, at offset: Int? = nil) -> JSONSyntaxError {
            JSONSyntaxError(offset: offset ?? index, reason: reason)
        }

        mutating func skipSpace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONValue {
            skipSpace()
            guard index < bytes.count else { throw fail("the document ends where a value was expected") }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                guard depth < JSONReader.maximumDepth else { throw fail("nested more than \(JSONReader.maximumDepth) deep") }
                return .object(try object(depth: depth + 1))
            case UInt8(ascii: "["):
                guard depth < JSONReader.maximumDepth else { throw fail("nested more than \(JSONReader.maximumDepth) deep") }
                index += 1
                var items: [JSONValue] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
                while true {
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard index < bytes.count else { throw fail("an array is never closed with ]") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
                    throw fail("expected , or ] in an array")
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return try number()
            default:
                throw fail("expected a value (an object, array, string, number, true, false or null)")
            }
        }

        mutating func object(depth: Int) throws(JSONSyntaxError) -> JSONObject {
            var object = JSONObject()
            try members { parser throws(JSONSyntaxError) in
                object.keys.append(try parser.name(at: object.keys.count))
            } value: { parser, _ throws(JSONSyntaxError) in
                object.values.append(try parser.value(depth: depth))
            }
            return object
        }

        /// Steps through the object at `index` (a `{`) with the messages every reader of one gives: `name`
        /// steps past a member's name (from its opening quote), `value` past its value (after the colon),
        /// given what `name` made of the name. The one loop the tree, the skipping and the rows' readers
        /// (``readRow(depth:into:)``) share; inlined, so each is as quick as its own loop.
        @inline(__always)
        mutating func members<Name>(
            name: (inout Parser) throws(JSONSyntaxError) -> Name, value: (inout Parser, Name) throws(JSONSyntaxError) -> Void
        ) throws(JSONSyntaxError) {
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return }
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a member name in quotes") }
                let named = try name(&self)
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected : after a member name") }
                index += 1
                try value(&self, named)
                skipSpace()
                guard index < bytes.count else { throw fail("an object is never closed with }") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return }
                throw fail("expected , or } in an object")
            }
        }

        /// A member name: the one seen at this position before when the bytes are the same.
        mutating func name(at position: Int) throws(JSONSyntaxError) -> String {
            if position < names.count {
                var known = names[position]
                let matched = known.withUTF8 { k -> Bool in
                    let end = index + 1 + k.count
                    guard end < bytes.count, bytes[end] == UInt8(ascii: "\""),
                          memcmp(bytes.baseAddress! + index + 1, k.baseAddress!, k.count) == 0 else { return false }
                    // A name that needed escapes (a quote, a backslash, a control character) is read in full.
                    return !k.contains { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 < 0x20 }
                }
                if matched, !known.isEmpty {
                    index += known.utf8.count + 2
                    return known
                }
            }
            let text = try string()
            if position < 64 {
                if position < names.count { names[position] = text } else if position == names.count { names.append(text) }
            }
            return text
        }

        mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count,
                  memcmp(bytes.baseAddress! + index, word.utf8Start, count) == 0 else {
                throw fail("expected a value (an object, array, string, number, true, false or null)")
            }
            index += count
        }

        mutating func number() throws(JSONSyntaxError) -> JSONValue {
            let start = index
            var negative = false
            if bytes[index] == UInt8(ascii: "-") { negative = true; index += 1 }
            func digits() -> Int {
                let from = index
                while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
                return index - from
            }
            let intStart = index
            let intDigits = digits()
            guard intDigits > 0 else { throw fail("expected a digit", at: index) }
            if intDigits > 1, bytes[intStart] == 0x30 { throw fail("a number may not start with 0", at: intStart) }
            var integral = true
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                integral = false
                index += 1
                guard digits() > 0 else { throw fail("expected a digit after the decimal point") }
            }
            if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
                integral = false
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw fail("expected a digit in the exponent") }
            }
            if integral, intDigits <= 18 {
                var v: Int64 = 0
                for i in intStart..<(intStart + intDigits) { v = v * 10 + Int64(bytes[i] - 0x30) }
                if negative { v = -v }
                return .number(Double(v), integer: v)
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            guard let d = Double(text), d.isFinite else { throw fail("a number out of range", at: start) }
            return .number(d, integer: nil)
        }

        mutating func string() throws(JSONSyntaxError) -> String {
            let start = index + 1
            if try scanString() {
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<(index - 1)]), as: UTF8.self)
            }
            return String(decoding: scratch, as: UTF8.self)
        }

        /// Reads a string at `index` (a `"`) to just past its closing quote, checking it as ``string()``
        /// would and with the same messages, but making no `String`.
        ///
        /// - Returns: `true` when the string has no escapes: its text is the bytes between the quotes
        ///   (valid UTF-8); `false` when it has: its text is then in `scratch`, decoded.
        mutating func scanString() throws(JSONSyntaxError) -> Bool {
            let open = index
            index += 1
            let start = index
            // Fast path: no escapes; ASCII needs no validation.
            var high: UInt8 = 0
            // Eight bytes at a time past plain ASCII text: no quote, backslash, control byte or high bit.
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            while index + 8 <= bytes.count {
                let word = UnsafeRawPointer(bytes.baseAddress! + index).loadUnaligned(as: UInt64.self)
                let quote = word ^ (ones &* 0x22)
                let backslash = word ^ (ones &* 0x5C)
                let special = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | (word &- ones &* 0x20) | word
                if special & highs != 0 { break }
                index += 8
            }
            while index < bytes.count {
                let b = bytes[index]
                if b == UInt8(ascii: "\"") {
                    let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                    index += 1
                    if high >= 0x80, !JSONReader.isValidUTF8(slice) { throw fail("a string is not valid UTF-8", at: start) }
                    return true
                }
                high |= b
                if b == UInt8(ascii: "\\") { break }
                if b < 0x20 { throw fail("a control character inside a string (escape it)") }
                index += 1
            }
            guard index < bytes.count else { throw fail("a string is never closed with \"", at: open) }
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
            while index < bytes.count {
                let b = bytes[index]
                if b == UInt8(ascii: "\"") {
                    index += 1
                    let valid = scratch.withUnsafeBufferPointer { JSONReader.isValidUTF8($0) }
                    guard valid else { throw fail("a string is not valid UTF-8", at: start) }
                    return false
                }
                if b < 0x20 { throw fail("a control character inside a string (escape it)") }
                if b != UInt8(ascii: "\\") {
                    // The run of bytes up to the next quote, backslash or control byte, appended at once
                    // (a byte at a time was most of the time spent on strings with escapes).
                    let run = index
                    index += 1
                    while index < bytes.count {
                        let c = bytes[index]
                        if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c < 0x20 { break }
                        index += 1
                    }
                    scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<index]))
                    continue
                }
                guard index + 1 < bytes.count else { break }
                let e = bytes[index + 1]
                index += 2
                switch e {
                case UInt8(ascii: "\""): scratch.append(0x22)
                case UInt8(ascii: "\\"): scratch.append(0x5C)
                case UInt8(ascii: "/"): scratch.append(0x2F)
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        // A surrogate pair; a lone half becomes U+FFFD, as JavaScript would show it.
                        if index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                            let save = index
                            index += 2
                            let low = try hex4()
                            if (0xDC00...0xDFFF).contains(low) {
                                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                index = save
                                scalar = 0xFFFD
                            }
                        } else {
                            scalar = 0xFFFD
                        }
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        scalar = 0xFFFD
                    }
                    UTF8.encode(Unicode.Scalar(scalar)!) { scratch.append($0) }
                default:
                    throw fail("an unknown escape \\\(Character(Unicode.Scalar(e)))", at: index - 2)
                }
            }
            throw fail("a string is never closed with \"", at: open)
        }

        /// Checks the value at `index` as ``value(depth:)`` would, with the same messages and limits,
        /// and steps past it without building it.
        mutating func skipValue(depth: Int) throws(JSONSyntaxError) {
            skipSpace()
            guard index < bytes.count else { throw fail("the document ends where a value was expected") }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                guard depth < JSONReader.maximumDepth else { throw fail("nested more than \(JSONReader.maximumDepth) deep") }
                try members { parser throws(JSONSyntaxError) in
                    _ = try parser.scanString()
                } value: { parser, _ throws(JSONSyntaxError) in
                    try parser.skipValue(depth: depth + 1)
                }
            case UInt8(ascii: "["):
                guard depth < JSONReader.maximumDepth else { throw fail("nested more than \(JSONReader.maximumDepth) deep") }
                index += 1
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return }
                while true {
                    try skipValue(depth: depth + 1)
                    skipSpace()
                    guard index < bytes.count else { throw fail("an array is never closed with ]") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "]") { index += 1; return }
                    throw fail("expected , or ] in an array")
                }
            case UInt8(ascii: "\""): _ = try scanString()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try number()
            default:
                throw fail("expected a value (an object, array, string, number, true, false or null)")
            }
        }

        mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw fail("expected four hex digits after \\u") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let b = bytes[index]
                let d: UInt32
                switch b {
                case 0x30...0x39: d = UInt32(b - 0x30)
                case 0x41...0x46: d = UInt32(b - 0x41 + 10)
                case 0x61...0x66: d = UInt32(b - 0x61 + 10)
                default: throw fail("expected four hex digits after \\u")
                }
                v = v << 4 | d
                index += 1
            }
            return v
        }
    }
}
