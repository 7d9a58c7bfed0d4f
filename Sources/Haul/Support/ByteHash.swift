/// The quick, non-cryptographic hash of bytes that the plan's tables and caches key on: eight bytes a
/// step (multiply, fold the high half down), then one a step for the tail (FNV-1a's prime).
///
/// One function for every table, so that two tables keyed on the same bytes agree, and so that a
/// change to the mixing is made once. Not for anything written out: its values may change.
enum ByteHash {
    static let seed: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// `h` with the bytes `count` from `base` mixed in.
    @inline(__always)
    static func mix(_ h: UInt64, _ base: UnsafeRawPointer?, _ count: Int) -> UInt64 {
        guard let base, count > 0 else { return h }
        var h = h
        var i = 0
        while i + 8 <= count {
            h = (h ^ (base + i).loadUnaligned(as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 32
            i += 8
        }
        while i < count {
            h = (h ^ UInt64((base + i).load(as: UInt8.self))) &* 0x100_0000_01B3
            i += 1
        }
        return h
    }
}
