/// A plan's entries grouped by dataset, datasets in order of first appearance, as the preview shows
/// them (``Plan/page(_:size:)``), held as a few arrays of integers: each dataset's first entry, row
/// count and bytes, and for each entry the next entry of its dataset.
///
/// A list of a million one-product observations has a million datasets: an array of entries and a
/// dictionary slot for each (``Plan/datasetGroups()``) took more than a hundred megabytes for a page
/// of a hundred rows; these arrays take about twenty.
struct PreviewGroups {
    /// Each dataset's first entry, and its last so far (where the next one is linked).
    private(set) var first: [Int32] = []
    private var last: [Int32] = []
    /// Each dataset's entries and the stated bytes of its downloads.
    private(set) var rows: [Int32] = []
    private(set) var bytes: [Int64] = []
    /// For each entry, the next entry of its dataset, or -1.
    private(set) var next: [Int32]

    /// The dataset of an entry, as ``Plan/datasetGroups()`` reads it.
    static func dataset(of entry: Plan.Entry) -> String {
        entry.edits == nil ? entry.source.products[entry.row].dataset : entry.product.dataset
    }

    /// Groups the entries. Entry indices are kept in 32 bits: a plan of two billion entries would not
    /// fit in memory (an entry alone is 48 bytes).
    ///
    /// - Parameter limit: How many datasets to keep, the first to appear: the entries of later ones are
    ///   left out (not linked, not counted). A page that ends at position `n` of the preview lies in the
    ///   first `n` datasets, each having a row at least: the first page of a million one-product
    ///   observations keeps a hundred datasets, where it kept a table of a million (tens of megabytes,
    ///   a cache miss an entry: a tenth of `select`'s time on that list).
    init(_ entries: [Plan.Entry], limit: Int = .max) {
        precondition(entries.count < Int(Int32.max))
        next = [Int32](repeating: -1, count: entries.count)
        let kept = min(entries.count, max(limit, 0))
        // Room for a dataset an entry: pages never written are never resident, and the arrays are not
        // copied as they grow (a million one-product observations are a million datasets).
        first.reserveCapacity(kept)
        last.reserveCapacity(kept)
        rows.reserveCapacity(kept)
        bytes.reserveCapacity(kept)
        // Datasets by hash: each slot the upper half of a hash and a group + 1; the dataset itself is
        // compared with the group's first entry's, so two hashes that share a half are told apart.
        var size = 16
        while size < kept * 2 { size <<= 1 }
        let mask = size - 1
        var slots = [UInt64](repeating: 0, count: size)
        // Entries and their products read in place, not copied (an entry's copy retains its source and
        // edits, a product's its four references): a third of this loop's time on a million rows.
        let source = entries.first?.source
        let products = source?.products ?? []
        products.withUnsafeBufferPointer { products in
            entries.withUnsafeBufferPointer { entries in
                /// The dataset of entry `i`, as ``dataset(of:)`` reads it.
                func datasetAt(_ i: Int) -> String {
                    entries[i].edits == nil && entries[i].source === source ? products[entries[i].row].dataset : Self.dataset(of: entries[i])
                }
                // Rows of one dataset come together in a catalog: the lookup is made once a run.
                var lastDataset: String?
                var lastGroup = -1
                for index in entries.indices {
                    let dataset = datasetAt(index)
                    var g = lastGroup
                    if lastDataset != dataset {
                        let bits = UInt64(truncatingIfNeeded: URIKey.hash(dataset))
                        let tag = bits & 0xFFFF_FFFF_0000_0000
                        var slot = Int(truncatingIfNeeded: bits ^ bits >> 32) & mask
                        g = -1
                        while slots[slot] != 0 {
                            let held = slots[slot]
                            let known = Int(held & 0xFFFF_FFFF) - 1
                            if held & 0xFFFF_FFFF_0000_0000 == tag, datasetAt(Int(first[known])) == dataset {
                                g = known
                                break
                            }
                            slot = (slot + 1) & mask
                        }
                        if g < 0, first.count < kept {
                            g = first.count
                            slots[slot] = tag | UInt64(g + 1)
                            first.append(Int32(index))
                            last.append(Int32(index))
                            rows.append(0)
                            bytes.append(0)
                        }
                        lastDataset = dataset
                        lastGroup = g
                    }
                    // A dataset past the limit: its entries are left out.
                    if g < 0 { continue }
                    if last[g] != Int32(index) { next[Int(last[g])] = Int32(index) }
                    last[g] = Int32(index)
                    rows[g] += 1
                    if case .download = entries[index].disposition {
                        // The size alone, not a copy of the whole product (``Plan/Entry/product``).
                        let size = entries[index].edits == nil && entries[index].source === source
                            ? products[entries[index].row].size : entries[index].product.size
                        bytes[g] = bytes[g].addingSize(size)
                    }
                }
            }
        }
    }
}
