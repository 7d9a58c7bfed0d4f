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

    /// The hash of a plain ASCII URI; `nil` for any other (one with a byte beyond ASCII, `K`, `;` or `` ` ``).
    private static func plainHash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        ByteHash.plain(bytes, fold: 0, stops: (UInt8(ascii: ";"), UInt8(ascii: "`")), also: UInt8(ascii: "K"))
    }

    static func == (a: URIKey, b: URIKey) -> Bool { a.hash == b.hash && a.uri == b.uri }

    func hash(into hasher: inout Hasher) { hasher.combine(hash) }
}
