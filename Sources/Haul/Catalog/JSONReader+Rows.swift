import Foundation

// Product rows read one at a time, straight from the bytes: a row's members are checked as the tree
// reader checks them (same messages, same offsets, same depth limit), but only the fields a product
// needs are noted, as where their values lie; nothing is built for the others. A field becomes a
// `JSONValue` only when the row mapping asks for it, and a string that rows repeat (a dataset, a
// collection, a product type) is made once and shared. A million-row catalog is read in one pass and
// never held as a tree.

/// A member name of product rows, seen before (``JSONReader/Parser/rowField(at:)``): where its bytes are
/// in the parser's ``JSONReader/Parser/knownBytes``, and the field it names.
struct KnownName {
    var start: Int
    var count: Int
    var field: RowField?
    /// Its ``key(_:)``.
    var key: UInt64

    /// The key of the name whose bytes start at `name` (8 of them readable): its first 8 bytes, or
    /// those before the first `"` among them (a name's end), the rest zero.
    @inline(__always)
    static func key(_ name: UnsafeRawPointer) -> UInt64 {
        let word = name.loadUnaligned(as: UInt64.self)
        // The lowest byte equal to `"`, exactly (``SWAR/has(_:_:)``).
        let x = word ^ (SWAR.ones &* UInt64(UInt8(ascii: "\"")))
        let quotes = (x &- SWAR.ones) & ~x & SWAR.highs
        guard quotes != 0 else { return word }
        let before = quotes.trailingZeroBitCount >> 3
        return before == 0 ? 0 : word & (UInt64.max >> (64 - 8 * before))
    }

    /// A key's slot in the parser's table of 256.
    @inline(__always)
    static func slot(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 56) }
}

extension JSONReader.Parser {
    /// Reads a product row object at `index` (a `{`) at nesting `depth`, noting in `slots` where each
    /// ``RowField``'s value lies (the last of repeated members, as ``JSONObject`` looks it up).
    mutating func readRow(depth: Int, into slots: inout [RowSlot]) throws(JSONSyntaxError) {
        guard depth < JSONReader.maximumDepth else { throw fail("nested more than \(JSONReader.maximumDepth) deep") }
        for i in slots.indices { slots[i].kind = .absent }
        decoded.removeAll(keepingCapacity: true)
        var position = 0
        try members { parser throws(JSONSyntaxError) in
            defer { position += 1 }
            return try parser.rowField(at: position)
        } value: { parser, field throws(JSONSyntaxError) in
            if let field {
                try parser.noteValue(depth: depth + 1, in: &slots[field.rawValue])
            } else {
                try parser.skipValue(depth: depth + 1)
            }
        }
    }

    /// The field a member name at `index` names, or `nil`; steps past the name. The name last seen at
    /// this position is tried first, then the names seen before by their first bytes, as bytes: the
    /// same bytes, without escapes, are the same valid name.
    mutating func rowField(at position: Int) throws(JSONSyntaxError) -> RowField? {
        // The name's key (``KnownName/key(_:)``): a known name it is has the same, so one with another
        // key is passed over without comparing its bytes.
        let keyed = index + 1 + 8 <= bytes.count
        let key = keyed ? KnownName.key(UnsafeRawPointer(bytes.baseAddress! + index + 1)) : 0
        if position < rowNames.count, rowNames[position] >= 0 {
            let k = Int(rowNames[position])
            if !keyed || knownNames[k].key == key, let end = knownName(k, keyed: keyed) {
                index = end + 1
                return knownNames[k].field
            }
        }
        // A name seen before at another position: no new name is made.
        if keyed {
            var slot = KnownName.slot(key)
            while knownSlots[slot] != 0 {
                let k = Int(knownSlots[slot]) - 1
                if knownNames[k].key == key, let end = knownName(k, keyed: true) { return named(k, end: end, at: position) }
                slot = (slot + 1) & (knownSlots.count - 1)
            }
        } else {
            for k in knownNames.indices {
                if let end = knownName(k, keyed: false) { return named(k, end: end, at: position) }
            }
        }
        let start = index + 1
        let plain = try scanString()
        guard plain else {
            let text = String(decoding: scratch, as: UTF8.self)
            return RowField.allCases.first { $0.key == text }.flatMap { $0.isDetail && !keepsDetails ? nil : $0 }
        }
        let name = UnsafeBufferPointer(rebasing: bytes[start..<(index - 1)])
        var found: RowField?
        if name.allSatisfy({ $0 < 0x80 }) {
            for (i, key) in RowField.keys.enumerated() where key.count == name.count
                && key.withUnsafeBufferPointer({ memcmp($0.baseAddress!, name.baseAddress!, name.count) }) == 0 {
                found = RowField(rawValue: i)
                break
            }
        } else {
            // Compared as strings, as the tree's lookup compares them (canonical equivalence).
            let text = String(decoding: name, as: UTF8.self)
            found = RowField.allCases.first { $0.key == text }
        }
        if let field = found, field.isDetail, !keepsDetails { found = nil }
        var known = -1
        if knownNames.count < 64, name.count <= 256 {
            // Its key as the lookup above makes it from the document's bytes: its first 8 bytes, or all
            // of a shorter one (the lookup stops at the closing quote).
            var padded: UInt64 = 0
            withUnsafeMutableBytes(of: &padded) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(name).prefix(8))) }
            known = knownNames.count
            knownNames.append(KnownName(start: knownBytes.count, count: name.count, field: found, key: padded))
            knownBytes.append(contentsOf: name)
            var slot = KnownName.slot(padded)
            while knownSlots[slot] != 0 { slot = (slot + 1) & (knownSlots.count - 1) }
            knownSlots[slot] = UInt8(known + 1)
        }
        if position < 64 {
            while rowNames.count <= position { rowNames.append(-1) }
            rowNames[position] = Int8(known)
        }
        return found
    }

    /// Where known name `k` ends (its closing quote) when it is the name at `index`.
    ///
    /// - Parameter keyed: Whether the name at `index` has the key of `k` (``KnownName/key(_:)``): its
    ///   first 8 bytes (those before a quote) are then `k`'s, and only the rest are compared, a word at a
    ///   time. A name of 8 bytes or fewer is then known by its closing quote alone (a name's bytes are
    ///   never a quote or zero). `memcmp` for every member of every row was a call per member, 3% of
    ///   `select`'s samples (perf, a million rows).
    @inline(__always)
    private func knownName(_ k: Int, keyed: Bool) -> Int? {
        let known = knownNames[k]
        let end = index + 1 + known.count
        guard end < bytes.count, bytes[end] == UInt8(ascii: "\"") else { return nil }
        guard known.count > 0 else { return end }
        let from = keyed ? 8 : 0
        guard known.count > from else { return end }
        let same = knownBytes.withUnsafeBufferPointer { knownBytes in
            let a = UnsafeRawPointer(bytes.baseAddress! + index + 1)
            let b = UnsafeRawPointer(knownBytes.baseAddress! + known.start)
            var i = from
            while i + 8 <= known.count {
                if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
                i += 8
            }
            while i < known.count {
                if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
                i += 1
            }
            return true
        }
        return same ? end : nil
    }

    /// Steps past known name `k`, which ends at `end`, noting it at `position`; its field.
    @inline(__always)
    private mutating func named(_ k: Int, end: Int, at position: Int) -> RowField? {
        index = end + 1
        if position < 64 {
            while rowNames.count <= position { rowNames.append(-1) }
            rowNames[position] = Int8(k)
        }
        return knownNames[k].field
    }

    /// Checks the value at `index` as ``value(depth:)`` would and notes where it lies.
    mutating func noteValue(depth: Int, in slot: inout RowSlot) throws(JSONSyntaxError) {
        skipSpace()
        slot.start = index
        guard index < bytes.count else { throw fail("the document ends where a value was expected") }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            slot.plain = try scanString()
            slot.kind = .string
            slot.end = index
            if !slot.plain {
                slot.decodedStart = decoded.count
                decoded.append(contentsOf: scratch)
                slot.decodedEnd = decoded.count
            }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            guard case .number(let d, let integer) = try number() else { return }
            slot.kind = .number
            slot.number = d
            slot.integer = integer
            slot.end = index
        case UInt8(ascii: "n"):
            try literal("null")
            slot.kind = .null
            slot.end = index
        case let b:
            try skipValue(depth: depth)
            slot.kind = b == UInt8(ascii: "{") ? .object : b == UInt8(ascii: "[") ? .array : .bool
            slot.end = index
        }
    }

    /// A noted value as the tree reader would have built it; `nil` when the row has no such member.
    /// Its bytes were checked when the row was read, so building it cannot fail.
    mutating func value(of slot: RowSlot, field: Int, shared: Bool) -> JSONValue? {
        switch slot.kind {
        case .absent: return nil
        case .null: return .null
        case .number: return .number(slot.number, integer: slot.integer)
        case .string where slot.plain:
            let text = UnsafeBufferPointer(rebasing: bytes[(slot.start + 1)..<(slot.end - 1)])
            return .string(shared ? strings.string(text, field: field) : String(decoding: text, as: UTF8.self))
        case .string:
            // Decoded as the row was read: the same text the string's second reading made, shared as
            // the same bytes without escapes would be.
            let decoded = decoded
            return decoded.withUnsafeBufferPointer { all in
                let text = UnsafeBufferPointer(rebasing: all[slot.decodedStart..<slot.decodedEnd])
                return .string(shared ? strings.string(text, field: field) : String(decoding: text, as: UTF8.self))
            }
        default:
            let saved = index
            defer { index = saved }
            index = slot.start
            return try? value(depth: 0)
        }
    }

    /// A value the CAOM mapping makes from several members (a group's: the dataset, a product's
    /// names), by the mapping's own accessor `body`, from the members of `fields` that `slots` noted:
    /// they are put in `values` for the call only, every other member of `values` left `nil`.
    /// - Returns: `nil` when `body` throws (the row is then mapped as any other, whose error it gives).
    mutating func caomValue<T>(
        _ fields: [RowField], slots: UnsafeBufferPointer<RowSlot>, values: inout [JSONValue?], details: DetailsTable?,
        _ body: (JSONRow) throws -> T
    ) -> T? {
        for field in fields {
            values[field.rawValue] = value(of: slots[field.rawValue], field: field.rawValue, shared: field.repeats)
        }
        defer { for field in fields { values[field.rawValue] = nil } }
        var row = JSONRow(fields: values, origin: "", path: "", index: 0, name: "")
        row.details = details
        return try? body(row)
    }
}
