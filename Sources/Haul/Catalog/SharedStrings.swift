import Foundation

/// Strings that rows repeat, made once: each field's last string, then a small table by hash of the
/// bytes, the newest string in each slot. Strings of up to 15 bytes are stored inline by Swift and
/// need no sharing.
struct SharedStrings {
    private var table = [String?](repeating: nil, count: 4096)
    private var last = [String?](repeating: nil, count: RowField.allCases.count)

    mutating func string(_ bytes: UnsafeBufferPointer<UInt8>, field: Int) -> String {
        guard bytes.count > 15, bytes.count <= 256 else { return String(decoding: bytes, as: UTF8.self) }
        if let known = Self.same(last[field], bytes) { return known }
        let hash = ByteHash.mix(ByteHash.seed, UnsafeRawPointer(bytes.baseAddress), bytes.count)
        let slot = Int(truncatingIfNeeded: hash ^ (hash >> 29)) & (table.count - 1)
        let made = Self.same(table[slot], bytes) ?? String(decoding: bytes, as: UTF8.self)
        table[slot] = made
        last[field] = made
        return made
    }

    private static func same(_ known: String?, _ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        guard var known, known.utf8.count == bytes.count else { return nil }
        return known.withUTF8 { memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 } ? known : nil
    }
}
