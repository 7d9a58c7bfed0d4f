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

    /// The hash of plain ASCII bytes, eight a step; `nil` when a byte has its high bit set or is one of
    /// `stops`, or `also` (bytes that other characters normalise to: the caller hashes those as a `String`).
    /// `fold` is OR-ed into every byte first: `0x20` maps each ASCII letter's two cases together
    /// (``PathKey``, which compares case-insensitively), `0` keeps them apart (``URIKey``).
    @inline(__always)
    static func plain(_ bytes: UnsafeBufferPointer<UInt8>, fold: UInt8, stops: (UInt8, UInt8), also: UInt8? = nil) -> Int? {
        var hash = seed
        let folded = SWAR.ones &* UInt64(fold)
        var i = 0
        while i + 8 <= bytes.count {
            let word = UnsafeRawPointer(bytes.baseAddress! + i).loadUnaligned(as: UInt64.self)
            if word & SWAR.highs != 0 || SWAR.has(word, stops.0) || SWAR.has(word, stops.1) { return nil }
            if let also, SWAR.has(word, also) { return nil }
            hash = (hash ^ (word | folded)) &* 0xFF51_AFD7_ED55_8CCD
            hash ^= hash >> 32
            i += 8
        }
        var tail: UInt64 = 0
        while i < bytes.count {
            let b = bytes[i]
            if b >= 0x80 || b == stops.0 || b == stops.1 || b == also { return nil }
            tail = tail << 8 | UInt64(b | fold)
            i += 1
        }
        hash = (hash ^ tail ^ UInt64(bytes.count)) &* 0xC4CE_B9FE_1A85_EC53
        return Int(truncatingIfNeeded: hash ^ hash >> 29)
    }
}
