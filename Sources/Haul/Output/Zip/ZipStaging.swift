import CHaulSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What every entry sink of one bundle shares.
struct ZipStaging: Sendable {
    let compression: DownloadTarget.Compression
    let deflater: ChunkDeflater
    let budget: MemoryBudget
    /// Bytes a chunk collects before it is checksummed or compressed on a worker.
    let blockSize: Int
    /// An entry keeps its output in memory up to this many bytes (as the budget charges them), then
    /// spills it to a spool file; it spills sooner when the budget's staged memory is at its limit.
    let memoryThreshold: Int
    /// The folder of spool files (the output's folder, so the final copy stays on one file system).
    let spoolFolder: String
    /// The download's threads: chunks are checksummed, compressed and spilled there (``WorkerPool``).
    let workers: WorkerPool
}

extension ZipStaging {
    /// What the entries of a bundle written with `parallel` transfers in flight share.
    init(compression: DownloadTarget.Compression, budget: MemoryBudget, parallel: Int, spoolFolder: String, workers: WorkerPool) {
        let blockSize = budget.blockSize(parallel: parallel)
        self.init(
            compression: compression, deflater: ChunkDeflater(level: compression.level), budget: budget,
            blockSize: blockSize,
            // Entries held in memory take at most half the budget, so in-flight blocks always have room
            // to drain and a full budget can only pause transfers, never deadlock them.
            memoryThreshold: max(blockSize, budget.limit / (2 * max(1, parallel))),
            spoolFolder: spoolFolder,
            workers: workers
        )
    }
}
