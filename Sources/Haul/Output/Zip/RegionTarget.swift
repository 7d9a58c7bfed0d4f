/// The region of a ZIP entry as segments see it.
final class RegionTarget: PositionalTarget {
    let region: ZipRegion
    let blocks: SegmentBlocks

    init(region: ZipRegion, staging: ZipStaging) {
        self.region = region
        blocks = SegmentBlocks(staging)
    }

    func write(_ bytes: UnsafeRawBufferPointer, productOffset offset: Int64) throws {
        try region.write(bytes, at: offset)
    }
}
