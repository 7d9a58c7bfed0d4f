#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The temporary file of a ``FileSink``, as its body and its segments write into it.
final class FileTarget: PositionalTarget {
    let fd: Int32
    /// The final name, which messages give (a full disk names the file the user asked for).
    let path: String
    let budget: MemoryBudget
    let segmentBlockSize: Int
    let workers: WorkerPool
    /// Checksummed as written (on the file's queue, in order), so that the manifest states every file's
    /// CRC-32 without reading it back.
    var needsCRC: Bool { true }

    init(fd: Int32, path: String, budget: MemoryBudget, segmentBlockSize: Int, workers: WorkerPool) {
        self.workers = workers
        self.fd = fd
        self.path = path
        self.budget = budget
        self.segmentBlockSize = segmentBlockSize
    }

    func write(_ bytes: UnsafeRawBufferPointer, productOffset offset: Int64) throws {
        try FileIO.pwriteAll(fd, bytes, at: offset, what: path)
    }
}
