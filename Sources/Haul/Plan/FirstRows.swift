import CHaulSystem

/// For each product of a list, the first row with its URI (Swift's string equality, as a `Set` of
/// URIs compares them): a row whose first row is another repeats that row's URI.
///
/// A million rows are looked up once each. A `Set` of ``URIKey`` would hold a string, a row and a hash
/// per slot (32 bytes, 64 MB for a million rows, every insert retaining a string); this table holds a
/// row and half its hash in 8 bytes and compares the URIs in the list itself, only when the halves of
/// the hashes agree.
enum FirstRows {
    static func of(_ products: [Product]) -> [Int] {
        guard products.count < Int(UInt32.max) else {
            // Past what a slot's 32-bit row can hold: the set.
            var first = [Int](repeating: 0, count: products.count)
            var seen = Set<URIKey>(minimumCapacity: products.count)
            for index in products.indices { first[index] = seen.insert(URIKey(products[index].uri, row: index)).memberAfterInsert.row }
            return first
        }
        // The URIs read in place: an array's subscript would copy each product for its URI.
        // The hashes on two threads first (``Halves``): the table's walk below is one thread's.
        return products.withUnsafeBufferPointer { products in
            let hashes = Halves.map(products.count) { URIKey.hash(products[$0].uri) }
            return hashes.withUnsafeBufferPointer { hashes in
                of(count: products.count, hash: { hashes[$0] }, same: { products[$0].uri == products[$1].uri })
            }
        }
    }

    /// The first row of each of `count` rows given by their URIs' hashes (``URIKey/hash(_:)``) and an
    /// equality of two rows' URIs, asked only when the halves of their hashes agree: the table above,
    /// for rows that are not ``Product``s (``PlanRows``). At most `UInt32.max - 1` rows.
    @inline(__always)
    static func of(count: Int, hash: (Int) -> Int, same: (_ earlier: Int, _ row: Int) -> Bool) -> [Int] {
        precondition(count < Int(UInt32.max))
        var first = [Int](repeating: 0, count: count)
        // At most half full, so a probe ends within a few slots; a power of two, so a mask finds a slot.
        var capacity = 16
        while capacity < count * 2 { capacity <<= 1 }
        let mask = capacity - 1
        // A slot: the row + 1 in the low 32 bits (0: empty), the hash's high 32 bits above.
        var slots = [UInt64](repeating: 0, count: capacity)
        // Each row's hash is taken `ahead` rows before its turn, and its slot asked of memory then
        // (``csystem_prefetch(_:)``): the table is far bigger than the caches, and its lookups no longer
        // wait for memory one after another.
        let ahead = 16
        var ring = [Int](repeating: 0, count: ahead)
        slots.withUnsafeMutableBufferPointer { slots in
            ring.withUnsafeMutableBufferPointer { ring in
                func home(_ hash: Int) -> Int {
                    Int(truncatingIfNeeded: UInt64(truncatingIfNeeded: hash) ^ UInt64(truncatingIfNeeded: hash) >> 32) & mask
                }
                func start(_ index: Int) {
                    let hash = hash(index)
                    ring[index & (ahead - 1)] = hash
                    csystem_prefetch(slots.baseAddress! + home(hash))
                }
                for index in 0..<min(ahead, count) { start(index) }
                for index in 0..<count {
                    let hash = ring[index & (ahead - 1)]
                    if index + ahead < count { start(index + ahead) }
                    let tag = UInt64(truncatingIfNeeded: hash) & 0xFFFF_FFFF_0000_0000
                    var slot = home(hash)
                    while true {
                        let held = slots[slot]
                        if held == 0 {
                            slots[slot] = tag | UInt64(index + 1)
                            first[index] = index
                            break
                        }
                        let row = Int(held & 0xFFFF_FFFF) - 1
                        if held & 0xFFFF_FFFF_0000_0000 == tag, same(row, index) {
                            first[index] = row
                            break
                        }
                        slot = (slot + 1) & mask
                    }
                }
            }
        }
        return first
    }
}
