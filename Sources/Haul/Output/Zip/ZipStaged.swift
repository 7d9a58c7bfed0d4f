import CHaulSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An entry's data, complete and checked, ready to be appended to the archive.
final class ZipStaged: @unchecked Sendable {
    let method: ZipEntry.Method
    let crc32: UInt32
    let uncompressedSize: UInt64
    let compressedSize: UInt64
    /// The data: these buffers in order, or the spool file's first ``compressedSize`` bytes.
    private(set) var memory: [Buffer]
    let spool: SpoolFile?
    private let budget: MemoryBudget
    /// The bytes of ``memory`` the budget holds as staged.
    private var staged: Int
    /// Set when the data is already in place in the archive: only its header is left to write.
    let region: ZipRegion?

    init(method: ZipEntry.Method, crc32: UInt32, uncompressedSize: UInt64, compressedSize: UInt64,
         memory: [Buffer], staged: Int, spool: SpoolFile?, budget: MemoryBudget, region: ZipRegion? = nil) {
        self.region = region
        self.method = method
        self.crc32 = crc32
        self.uncompressedSize = uncompressedSize
        self.compressedSize = compressedSize
        self.memory = memory
        self.staged = staged
        self.spool = spool
        self.budget = budget
    }

    deinit { releaseMemory() }

    /// Frees the buffers once written.
    func releaseMemory() {
        for buffer in memory { PageMemory.free(buffer.pointer) }
        budget.release(memory.reduce(0) { $0 + $1.pointer.count }, staged: staged)
        memory = []
        staged = 0
    }
}
