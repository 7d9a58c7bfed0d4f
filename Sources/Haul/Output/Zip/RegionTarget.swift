import CHaulSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The region of a ZIP entry as segments see it.
final class RegionTarget: PositionalTarget {
    let region: ZipRegion
    let budget: MemoryBudget
    let segmentBlockSize: Int
    let workers: WorkerPool
    var needsCRC: Bool { true }

    init(region: ZipRegion, staging: ZipStaging) {
        self.region = region
        budget = staging.budget
        segmentBlockSize = staging.blockSize
        workers = staging.workers
    }

    func write(_ bytes: UnsafeRawBufferPointer, productOffset offset: Int64) throws {
        try region.write(bytes, at: offset)
    }
}
