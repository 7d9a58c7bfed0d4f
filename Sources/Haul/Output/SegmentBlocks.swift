/// What the segments of a ``PositionalTarget`` collect and write their blocks with: the memory budget
/// that pays for each block, the blocks' size (a ``PageMemory`` size class), and the download's threads,
/// where each segment's blocks are checksummed and written in order (``SegmentSink``).
///
/// Every target takes these from the output that owns it (a folder's ``FileSink``, a ZIP's
/// ``ZipStaging``), so a segment's blocks are paid for and processed as the whole file's are.
struct SegmentBlocks: Sendable {
    let budget: MemoryBudget
    /// Bytes in each block.
    let size: Int
    let workers: WorkerPool

    init(budget: MemoryBudget, size: Int, workers: WorkerPool) {
        self.budget = budget
        self.size = size
        self.workers = workers
    }

    /// A ZIP entry's: its staging's budget, blocks and threads.
    init(_ staging: ZipStaging) {
        self.init(budget: staging.budget, size: staging.blockSize, workers: staging.workers)
    }
}
