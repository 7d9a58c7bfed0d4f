import Foundation

/// A product URI as a set of URIs compares it (Swift's string equality), with the row it was first
/// seen in. The hash of a plain ASCII URI is taken once, eight bytes at a time; any other URI (or one
/// with a `K`, `;` or `` ` ``, which a few other characters normalise to) is hashed as a `String`.
/// The two kinds never compare equal (see ``PathKey``), so mixing the hashes keeps `==` and `hash` in step.
struct URIKey: Hashable {
    let uri: String
    let row: Int
    let hash: Int

    init(_ uri: String, row: Int) {
        self.uri = uri
        self.row = row
        hash = Self.hash(uri)
    }

    /// The hash of a URI, equal for equal URIs (Swift's string equality).
    static func hash(_ uri: String) -> Int {
        // The bytes in place (a `var` copy to call `withUTF8` would retain the string).
        if let hash = uri.utf8.withContiguousStorageIfAvailable(plainHash) { return hash ?? uri.hashValue }
        var text = uri
        return text.withUTF8(plainHash) ?? uri.hashValue
    }

    /// The hash of a URI given as its UTF-8 bytes, equal to ``hash(_:)`` of the string they spell.
    static func hash(bytes: UnsafeBufferPointer<UInt8>) -> Int {
        plainHash(bytes) ?? String(decoding: bytes, as: UTF8.self).hashValue
    }

    /// Whether two URIs given as bytes are one (Swift's string equality): plain ones byte for byte.
    static func same(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        if a.count == b.count, a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 { return true }
        if isPlain(a), isPlain(b) { return false }
        return String(decoding: a, as: UTF8.self) == String(decoding: b, as: UTF8.self)
    }

    private static func isPlain(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        !bytes.contains { $0 >= 0x80 || $0 == UInt8(ascii: "K") || $0 == UInt8(ascii: ";") || $0 == UInt8(ascii: "`") }
    }

    /// The hash of a plain ASCII URI; `nil` for any other.
    private static func plainHash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var hash: UInt64 = 0x9E37_79B9_7F4A_7C15
        // Eight bytes at a time: plain when none has the high bit or is `K`, `;` or `` ` ``.
        var i = 0
        while i + 8 <= bytes.count {
            let word = UnsafeRawPointer(bytes.baseAddress! + i).loadUnaligned(as: UInt64.self)
            if word & SWAR.highs != 0 || SWAR.has(word, UInt8(ascii: "K")) || SWAR.has(word, UInt8(ascii: ";"))
                || SWAR.has(word, UInt8(ascii: "`")) {
                return nil
            }
            hash = (hash ^ word) &* 0xFF51_AFD7_ED55_8CCD
            hash ^= hash >> 32
            i += 8
        }
        var tail: UInt64 = 0
        while i < bytes.count {
            let b = bytes[i]
            if b >= 0x80 || b == UInt8(ascii: "K") || b == UInt8(ascii: ";") || b == UInt8(ascii: "`") { return nil }
            tail = tail << 8 | UInt64(b)
            i += 1
        }
        hash = (hash ^ tail ^ UInt64(bytes.count)) &* 0xC4CE_B9FE_1A85_EC53
        return Int(truncatingIfNeeded: hash ^ hash >> 29)
    }

    static func == (a: URIKey, b: URIKey) -> Bool { a.hash == b.hash && a.uri == b.uri }

    func hash(into hasher: inout Hasher) { hasher.combine(hash) }
}

/// Questions about the eight bytes of a word at once.
enum SWAR {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Whether a byte of `word` is `byte` (exact: a zero byte of `word ^ byte…` sets its high bit, and
    /// no other byte's does unless one below it is zero too).
    @inline(__always)
    static func has(_ word: UInt64, _ byte: UInt8) -> Bool {
        let x = word ^ (ones &* UInt64(byte))
        return (x &- ones) & ~x & highs != 0
    }
}
