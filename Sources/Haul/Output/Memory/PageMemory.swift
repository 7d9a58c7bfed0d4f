#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The data path's buffers (blocks, compressed chunks), mapped straight from the kernel in whole pages
/// and kept in a bounded pool of freed buffers for reuse.
///
/// Through malloc, glibc's adaptive mmap threshold soon serves such sizes from per-thread arenas that
/// keep freed memory: with 256 transfers of 16 MiB, peak resident memory was 334 MiB through malloc and
/// 120 MiB mapped like this. Unmapping every freed block instead cost a page fault per 4 KiB on reuse
/// (store mode went from 0.58 s to 1.06 s for 2,000 × 256 KiB); the pool keeps pages that are already
/// resident. It is small because every pooled byte is resident: with 128 MiB, 256 × 32 MiB at
/// --parallel 256 peaked at 264 MiB; with 16 MiB, 221 MiB.
enum PageMemory {
    private struct Pool {
        var free: [Int: [Mapped]] = [:]
        var bytes = 0
    }
    private static let pool = Locked(Pool())
    /// A mapped buffer as the pool holds it (only one owner at a time).
    private struct Mapped: @unchecked Sendable { let buffer: UnsafeMutableRawBufferPointer }
    /// The most bytes of freed buffers kept for reuse.
    static let poolLimit = 16 << 20

    /// The size a buffer of `count` bytes really has: whole pages, at least one.
    static func sizeClass(_ count: Int) -> Int {
        max(4096, (count + 4095) / 4096 * 4096)
    }

    /// A buffer of ``sizeClass(_:)`` bytes (its `count`), at least `count`.
    static func allocate(_ count: Int) -> UnsafeMutableRawBufferPointer {
        let size = sizeClass(count)
        let reused = pool.withLock { p -> Mapped? in
            guard let mapped = p.free[size]?.popLast() else { return nil }
            p.bytes -= size
            return mapped
        }
        if let reused { return reused.buffer }
        let pointer = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let pointer, pointer != MAP_FAILED else { fatalError("out of memory: cannot map \(size) bytes") }
        return UnsafeMutableRawBufferPointer(start: pointer, count: size)
    }

    static func free(_ buffer: UnsafeMutableRawBufferPointer) {
        guard buffer.count > 0 else { return }  // ``Buffer/none``
        let mapped = Mapped(buffer: buffer)
        let kept = pool.withLock { p -> Bool in
            guard p.bytes + mapped.buffer.count <= poolLimit else { return false }
            p.free[mapped.buffer.count, default: []].append(mapped)
            p.bytes += buffer.count
            return true
        }
        if !kept { munmap(buffer.baseAddress, buffer.count) }
    }
}
