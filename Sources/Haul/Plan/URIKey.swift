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
        var text = uri
        let plain: Int? = text.withUTF8 { bytes in
            var hash: UInt64 = 0x9E37_79B9_7F4A_7C15
            for b in bytes where b >= 0x80 || b == UInt8(ascii: "K") || b == UInt8(ascii: ";") || b == UInt8(ascii: "`") {
                return nil
            }
            var i = 0
            while i + 8 <= bytes.count {
                hash = (hash ^ UnsafeRawPointer(bytes.baseAddress! + i).loadUnaligned(as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
                hash ^= hash >> 32
                i += 8
            }
            var tail: UInt64 = 0
            while i < bytes.count {
                tail = tail << 8 | UInt64(bytes[i])
                i += 1
            }
            hash = (hash ^ tail ^ UInt64(bytes.count)) &* 0xC4CE_B9FE_1A85_EC53
            return Int(truncatingIfNeeded: hash ^ hash >> 29)
        }
        return plain ?? uri.hashValue
    }

    static func == (a: URIKey, b: URIKey) -> Bool { a.hash == b.hash && a.uri == b.uri }

    func hash(into hasher: inout Hasher) { hasher.combine(hash) }
}
