/// A forward-only XML scanner for VOTable documents: elements, attributes, text with entities, CDATA;
/// comments and processing instructions skipped; a DOCTYPE refused. Line numbers for messages.
struct XMLScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    let name: String
    var index = 0
    var line = 1
    /// Open elements, to check that each end tag closes the last.
    var open: [String] = []

    enum Event {
        /// An element's start: its local name (without a namespace prefix), attributes, whether it is
        /// empty (`<X/>`), its line.
        case start(String, [String: String], Bool, Int)
        case end(String, Int)
        /// Character data between tags: where it lies, and whether it holds an `&` or CDATA to decode.
        case text(Range<Int>, Bool)
    }

    init(bytes: UnsafeBufferPointer<UInt8>, name: String) {
        self.bytes = bytes
        self.name = name
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
    }

    func fail(_ reason: String) -> HaulError {
        HaulError(.invalidCatalog, "\(name):\(line): malformed XML: \(reason)")
    }

    func isSpace(_ range: Range<Int>) -> Bool {
        range.allSatisfy { bytes[$0] == 0x20 || bytes[$0] == 0x09 || bytes[$0] == 0x0A || bytes[$0] == 0x0D }
    }

    mutating func advance() {
        if bytes[index] == 0x0A { line += 1 }
        index += 1
    }

    func starts(_ text: String, at i: Int) -> Bool {
        var j = i
        for b in text.utf8 {
            guard j < bytes.count, bytes[j] == b else { return false }
            j += 1
        }
        return true
    }

    /// Steps past `terminator`, counting lines; fails with `reason` at the end of the document.
    mutating func skip(past terminator: String, _ reason: String) throws {
        while index < bytes.count {
            if starts(terminator, at: index) { index += terminator.utf8.count; return }
            advance()
        }
        throw fail(reason)
    }

    mutating func next() throws -> Event? {
        while index < bytes.count {
            if bytes[index] != UInt8(ascii: "<") {
                let start = index
                var decode = false
                while index < bytes.count, bytes[index] != UInt8(ascii: "<") {
                    if bytes[index] == UInt8(ascii: "&") { decode = true }
                    advance()
                }
                return .text(start..<index, decode)
            }
            if starts("<!--", at: index) {
                try skip(past: "-->", "a comment is never closed with -->")
            } else if starts("<![CDATA[", at: index) {
                let start = index
                try skip(past: "]]>", "a CDATA section is never closed with ]]>")
                return .text(start..<index, true)
            } else if starts("<?", at: index) {
                try skip(past: "?>", "a processing instruction is never closed with ?>")
            } else if starts("<!", at: index) {
                throw HaulError(.invalidCatalog, "\(name):\(line): a DOCTYPE or other <! declaration is not supported in a VOTable")
            } else if starts("</", at: index) {
                index += 2
                let element = try elementName()
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ">") else { throw fail("expected > to end </\(element.prefix(40))") }
                index += 1
                guard let last = open.popLast(), last == element else {
                    throw fail("</\(element.prefix(40))> closes no open <\(element.prefix(40))>")
                }
                return .end(local(element), line)
            } else {
                let tagLine = line
                index += 1
                let element = try elementName()
                var attributes: [String: String] = [:]
                while true {
                    skipSpace()
                    guard index < bytes.count else { throw fail("the document ends inside <\(element.prefix(40))>") }
                    if bytes[index] == UInt8(ascii: ">") {
                        index += 1
                        open.append(element)
                        guard open.count <= 64 else { throw fail("elements nested more than 64 deep") }
                        return .start(local(element), attributes, false, tagLine)
                    }
                    if starts("/>", at: index) {
                        index += 2
                        return .start(local(element), attributes, true, tagLine)
                    }
                    let key = try elementName()
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else { throw fail("expected = after the attribute \(key.prefix(40))") }
                    index += 1
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") else {
                        throw fail("expected a quoted value for the attribute \(key.prefix(40))")
                    }
                    let quote = bytes[index]
                    index += 1
                    let start = index
                    while index < bytes.count, bytes[index] != quote {
                        if bytes[index] == UInt8(ascii: "<") { throw fail("< in the value of the attribute \(key.prefix(40))") }
                        advance()
                    }
                    guard index < bytes.count else { throw fail("the value of the attribute \(key.prefix(40)) is never closed") }
                    attributes[local(key)] = try decode(start..<index)
                    index += 1
                }
            }
        }
        if let last = open.last { throw fail("the document ends before </\(last.prefix(40))>") }
        return nil
    }

    /// An element's local name: `vot:TABLE` is `TABLE`.
    func local(_ name: String) -> String {
        guard let colon = name.lastIndex(of: ":") else { return name }
        return String(name[name.index(after: colon)...])
    }

    mutating func skipSpace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D { advance() }
    }

    mutating func elementName() throws -> String {
        let start = index
        while index < bytes.count {
            let b = bytes[index]
            if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == UInt8(ascii: ">") || b == UInt8(ascii: "/") || b == UInt8(ascii: "=") { break }
            index += 1
        }
        guard index > start, index - start <= 256 else { throw fail("expected a name") }
        guard let s = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self) else { throw fail("a name that is not UTF-8") }
        return s
    }

    /// Text with its references (`&amp;`, `&#x41;`) and CDATA sections decoded.
    func decode(_ range: Range<Int>) throws -> String {
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var i = range.lowerBound
        while i < range.upperBound {
            let b = bytes[i]
            if b == UInt8(ascii: "<"), starts("<![CDATA[", at: i) {
                i += 9
                while i < range.upperBound, !starts("]]>", at: i) { out.append(bytes[i]); i += 1 }
                i += 3
                continue
            }
            guard b == UInt8(ascii: "&") else { out.append(b); i += 1; continue }
            guard let semicolon = (i..<min(range.upperBound, i + 12)).first(where: { bytes[$0] == UInt8(ascii: ";") }) else {
                throw fail("an & that starts no reference (write &amp;)")
            }
            let reference = String(decoding: UnsafeBufferPointer(rebasing: bytes[(i + 1)..<semicolon]), as: UTF8.self)
            switch reference {
            case "amp": out.append(UInt8(ascii: "&"))
            case "lt": out.append(UInt8(ascii: "<"))
            case "gt": out.append(UInt8(ascii: ">"))
            case "quot": out.append(UInt8(ascii: "\""))
            case "apos": out.append(UInt8(ascii: "'"))
            default:
                var value: UInt32?
                if reference.hasPrefix("#x") { value = UInt32(reference.dropFirst(2), radix: 16) } else if reference.hasPrefix("#") { value = UInt32(reference.dropFirst()) }
                guard let value, let scalar = Unicode.Scalar(value) else { throw fail("unknown reference &\(reference.prefix(12));") }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            }
            i = semicolon + 1
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw fail("text that is not UTF-8") }
        return s
    }

    /// The text of an element just opened, up to its end tag; a child element is an error.
    mutating func textContent(of element: String, line: Int) throws -> String {
        var text = ""
        while let event = try next() {
            switch event {
            case .text(let range, let encoded):
                if encoded { text += try decode(range) } else {
                    guard let s = String(validating: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self) else { throw fail("text that is not UTF-8") }
                    text += s
                }
            case .end: return text
            case .start(let child, _, _, _):
                throw fail("<\(child.prefix(40))> inside <\(element)>: expected text")
            }
        }
        throw fail("the document ends inside <\(element)>")
    }

    /// The base64 text of a STREAM just opened, decoded, up to its end tag. Decoding never holds more
    /// than three quarters of the text's bytes.
    mutating func base64Text(_ streamLine: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        var quad: UInt32 = 0
        var have = 0
        var padding = 0
        var position = 0 // Decoded bytes so far, for messages.
        while index < bytes.count, bytes[index] != UInt8(ascii: "<") {
            let b = bytes[index]
            let value: UInt32
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(b - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(b - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(b - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "/"): value = 63
            case UInt8(ascii: "="):
                padding += 1
                advance()
                continue
            case 0x20, 0x09, 0x0A, 0x0D:
                advance()
                continue
            default:
                throw HaulError(.invalidCatalog, "\(name):\(line): BINARY2 stream: the byte 0x\(String(b, radix: 16, uppercase: true)) is not base64 (after \(position) decoded bytes)")
            }
            guard padding == 0 else {
                throw HaulError(.invalidCatalog, "\(name):\(line): BINARY2 stream: base64 text after = padding (after \(position) decoded bytes)")
            }
            if out.isEmpty { out.reserveCapacity((bytes.count - index) / 4 * 3) }
            quad = quad << 6 | value
            have += 1
            if have == 4 {
                out.append(UInt8(truncatingIfNeeded: quad >> 16))
                out.append(UInt8(truncatingIfNeeded: quad >> 8))
                out.append(UInt8(truncatingIfNeeded: quad))
                position += 3
                quad = 0
                have = 0
            }
            advance()
        }
        switch (have, padding) {
        case (0, 0): break
        case (2, 2), (2, 0): out.append(UInt8(truncatingIfNeeded: quad >> 4))
        case (3, 1), (3, 0):
            out.append(UInt8(truncatingIfNeeded: quad >> 10))
            out.append(UInt8(truncatingIfNeeded: quad >> 2))
        default:
            throw HaulError(.invalidCatalog, "\(name):\(line): BINARY2 stream: the base64 text ends inside a group of four characters (after \(position) decoded bytes)")
        }
        guard let event = try next(), case .end(let element, _) = event, element == "STREAM" else {
            throw HaulError(.invalidCatalog, "\(name):\(line): BINARY2 stream: expected </STREAM> after the base64 text")
        }
        return out
    }
}
