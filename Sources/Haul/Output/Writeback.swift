import CHaulSystem
import Synchronization

/// Starts the kernel writing a file's data to the disk while the run is still fetching, so that the
/// flush that makes a file or archive durable (`fsync` before its rename) finds almost nothing left.
///
/// Without it the kernel holds written pages until its own background threshold (a tenth of memory
/// by default), and a run of a few gigabytes ends with all of them dirty: the final `fsync` then
/// writes them at disk speed after the last byte has arrived. Started every ``interval`` bytes, the
/// writing overlaps the transfers, and durability costs what the disk cannot keep up with, not the
/// whole write again. Only a hint: `sync_file_range` guarantees nothing, so the `fsync` stays, and
/// nothing here can leave a partial file under a final name.
final class Writeback: Sendable {
    /// Bytes written between two hints: large enough that the hint is a rare call, small enough that
    /// the disk starts early.
    static let interval: Int64 = 16 << 20

    private let fd: Int32
    private let pending = Atomic<Int64>(0)

    init(fd: Int32) {
        self.fd = fd
    }

    /// Notes `count` bytes written (from any thread); every ``interval`` bytes, starts the writeback
    /// of everything the file holds dirty. It does not wait for the disk, unless the disk's queue is
    /// full (then it waits as a write would).
    func wrote(_ count: Int) {
        let total = pending.wrappingAdd(Int64(count), ordering: .relaxed).newValue
        // One of the writers past the mark resets it and gives the hint; a writer that lost the race
        // leaves it to the next.
        guard total >= Self.interval, pending.compareExchange(expected: total, desired: 0, ordering: .relaxed).exchanged else { return }
        _ = csystem_start_writeback(fd)
    }
}
