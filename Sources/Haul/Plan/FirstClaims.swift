import CHaulSystem

/// The first claimer (an entry, or a manifest as `-1 - i`) of each path hash, for
/// ``Plan/resolveCollisions(_:)``: an open-addressed table of 8-byte slots, a claimer and the upper
/// half of its hash, where a `[Int: Int]` took 16 bytes a slot and a `Hasher` pass per lookup.
///
/// Two hashes with one upper half may share a claimer here. That is safe by construction: a claimer
/// found here is always compared by path before it counts (`key(first) == path`), and a path that
/// finds another path's claimer is kept in the collision check's exact set instead, as a path whose
/// hash another path had first always was. What a hash finds never changes once set: slots are only
/// added, at the end of a probe.
struct FirstClaims {
    private var slots: [UInt64]
    private let mask: Int

    /// - Parameter capacity: How many hashes will be claimed: the table is made at most half full.
    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [UInt64](repeating: 0, count: size)
        mask = size - 1
    }

    /// The claimer of `hash`; or, when it has none, `nil` after making `claimer` its claimer.
    mutating func first(_ hash: Int, else claimer: Int) -> Int? {
        let (tag, start) = split(hash)
        var slot = start
        while true {
            let held = slots[slot]
            if held == 0 {
                // Claimers are -2 (a manifest) up to an entry's index: stored plus 3, so that 0 means empty.
                // An entry's index fits in 32 bits: a plan of 4 billion entries would not fit in memory.
                slots[slot] = tag | UInt64(claimer + 3)
                return nil
            }
            if held & 0xFFFF_FFFF_0000_0000 == tag { return Int(held & 0xFFFF_FFFF) - 3 }
            slot = (slot + 1) & mask
        }
    }

    /// Asks memory for the slot where a lookup of `hash` starts (``csystem_prefetch(_:)``), some steps
    /// before the lookup.
    func prefetch(_ hash: Int) {
        slots.withUnsafeBufferPointer { csystem_prefetch($0.baseAddress! + split(hash).slot) }
    }

    /// The claimer of `hash`, if it has one.
    func first(_ hash: Int) -> Int? {
        let (tag, start) = split(hash)
        var slot = start
        while true {
            let held = slots[slot]
            if held == 0 { return nil }
            if held & 0xFFFF_FFFF_0000_0000 == tag { return Int(held & 0xFFFF_FFFF) - 3 }
            slot = (slot + 1) & mask
        }
    }

    private func split(_ hash: Int) -> (tag: UInt64, slot: Int) {
        let bits = UInt64(truncatingIfNeeded: hash)
        return (bits & 0xFFFF_FFFF_0000_0000, Int(truncatingIfNeeded: bits ^ bits >> 32) & mask)
    }
}
