#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Appends whole entries to an archive in the order they complete, then writes its central directory.
///
/// Every append is one entry whose bytes all arrived and were checked. In a file, a big stored entry
/// whose size is known is instead written straight into a region reserved for it (``reserve(name:size:modified:)``),
/// its local header marked as arriving until every byte is there (``ZipFormat/regionExtraID``). So the
/// file is, at every moment, complete entries, regions marked as arriving, and at most one entry being
/// appended: a run after a crash keeps the complete entries and skips the marked regions (``ZipResume``).
/// A region or an append given up is a hole that ``finish(trailing:afterFailure:)`` removes. Appends run
/// on one serial queue, off the engine thread. The central directory lists entries in catalog order
/// (`key`), whatever order they completed in.
///
/// Given an order (a ``StoredBundle``), appends go out in that order instead: an entry that completes
/// early waits, staged, for those before it, and ``admit(_:)`` keeps a transfer from starting more than
/// a window of entries past the first unwritten one, so the entries waiting stay few. The first
/// unwritten entry is always admitted, and transfers are handed out in that order (``RunOutput/order``),
/// so it always has a transfer of its own and the wait always ends.
final class ZipWriter: @unchecked Sendable {
    /// A thread of its own: its writes may wait on a slow reader (a pipe, a browser), and that wait
    /// must hold up no other work of the download (``WorkerPool``).
    private let queue = WorkerPool(name: "haul-zip-write", threads: 1)
    // Touched only on `queue`.
    private let output: ArchiveOutput
    private var central: [(key: Int, entry: ZipEntry)]
    /// Where each kept entry lies (header and data), by key: an entry written later with the same key
    /// replaces it (``replaceKept(_:)``).
    private var keptSpans: [Int: ArchiveOutput.Hole]
    private let failureState = Locked<HaulError?>(nil)

    /// The order entries are written in, when one is imposed.
    struct Order {
        /// Keys in the order they are written, and each key's position among them.
        var keys: [Int]
        var positions: [Int: Int]
        /// The position of the first key not yet written.
        var next: Int
        /// How many positions from ``next`` on may be fetching or waiting at once.
        var window: Int
        /// Called on the queue with the entries whose turn has come (keys and entries, in order), just
        /// before the first one's first byte goes out: the run of consecutive entries already complete,
        /// written one after the other without waiting for anything else (so one flush of their records
        /// covers them all: ``StoredBundle/record(_:)``).
        var onWrite: @Sendable ([(Int, ZipEntry)]) -> Void
    }
    private struct OrderState {
        var order: Order
        /// Entries complete before their turn.
        var waiting: [Int: (ZipEntry, ZipStaged)] = [:]
        /// Transfers waiting to start, by ticket: their position, and how to wake them (`false`: give up).
        var admits: [Int: (position: Int, continuation: CheckedContinuation<Bool, Never>)] = [:]
        var cancelledTickets: Set<Int> = []
        var tickets = 0
        var stopped = false
    }
    private let ordered: Locked<OrderState>?

    /// - Parameters:
    ///   - kept: Entries already in the output (from an earlier run, or sent before a resumed stream's
    ///     start), by catalog order.
    ///   - keptSpans: Where each of them lies, header and data, by key.
    ///   - order: The order appends go out in, when imposed.
    init(output: ArchiveOutput, kept: [(key: Int, entry: ZipEntry)] = [], keptSpans: [Int: ArchiveOutput.Hole] = [:], order: Order? = nil) {
        self.output = output
        self.central = kept
        self.keptSpans = keptSpans
        ordered = order.map { Locked(OrderState(order: $0)) }
    }

    /// With an order: waits until the entry `key` may start fetching (its position within the window
    /// past the first unwritten entry). - Returns: `false` when the writer stopped or the task was
    /// cancelled: the entry is not to be fetched.
    func admit(_ key: Int) async -> Bool {
        guard let ordered else { return true }
        let ticket = ordered.withLock { s -> Int? in
            guard let position = s.order.positions[key], !s.stopped, position >= s.order.next + s.order.window else { return nil }
            s.tickets += 1
            return s.tickets
        }
        guard let ticket else { return ordered.withLock { !$0.stopped } }
        let position = ordered.withLock { $0.order.positions[key]! }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                let now = ordered.withLock { s -> Bool? in
                    if s.cancelledTickets.remove(ticket) != nil || s.stopped { return false }
                    if position < s.order.next + s.order.window { return true }
                    s.admits[ticket] = (position, c)
                    return nil
                }
                if let now { c.resume(returning: now) }
            }
        } onCancel: {
            let waiting = ordered.withLock { s -> CheckedContinuation<Bool, Never>? in
                guard let admit = s.admits.removeValue(forKey: ticket) else {
                    s.cancelledTickets.insert(ticket)
                    return nil
                }
                return admit.continuation
            }
            waiting?.resume(returning: false)
        }
    }

    /// With an order: wakes every transfer waiting to start, to give up (the run is ending).
    func stopAdmitting() {
        guard let ordered else { return }
        let waiting = ordered.withLock { s -> [CheckedContinuation<Bool, Never>] in
            s.stopped = true
            defer { s.admits = [:] }
            return s.admits.values.map(\.continuation)
        }
        for c in waiting { c.resume(returning: false) }
    }

    /// On the queue: writes the waiting entries whose turn has come, and admits the transfers the
    /// window now has room for.
    private func drainInOrder(_ ordered: Locked<OrderState>) throws {
        while true {
            // Every entry whose turn has come, in order: those complete from the first unwritten one on.
            let (due, order) = ordered.withLock { s -> ([(key: Int, entry: ZipEntry, staged: ZipStaged)], Order) in
                var due: [(key: Int, entry: ZipEntry, staged: ZipStaged)] = []
                var position = s.order.next
                while position < s.order.keys.count, let (entry, staged) = s.waiting.removeValue(forKey: s.order.keys[position]) {
                    due.append((s.order.keys[position], entry, staged))
                    position += 1
                }
                return (due, s.order)
            }
            guard !due.isEmpty else { return }
            order.onWrite(due.map { ($0.key, $0.entry) })
            for (key, entry, staged) in due {
                do {
                    try write(entry, staged, key: key)
                } catch {
                    stopAdmitting()
                    throw error
                }
                let woken = ordered.withLock { s -> [CheckedContinuation<Bool, Never>] in
                    s.order.next += 1
                    let limit = s.order.next + s.order.window
                    let ready = s.admits.filter { $0.value.position < limit }
                    for ticket in ready.keys { s.admits[ticket] = nil }
                    return ready.values.map(\.continuation)
                }
                for c in woken { c.resume(returning: true) }
            }
        }
    }

    /// Where the next byte goes (a stream: how many bytes it has taken).
    var position: UInt64 { output.position }

    /// Whether entries can be written into reserved regions (a file, not a stream).
    var placesRegions: Bool { output.isFile }

    /// Reserves a region for a stored entry of `size` bytes at the end of the file. Takes a lock, no I/O:
    /// callable from the engine thread. The caller writes ``ZipRegion/placeholder`` at its offset, then
    /// the data, then ``complete(_:crc32:modified:key:)`` or ``abandon(_:)``.
    func reserve(name: String, size: UInt64, modified: Int64) -> ZipRegion {
        var entry = ZipEntry(name: name, method: .stored, crc32: 0, compressedSize: size, uncompressedSize: size, modified: modified)
        entry.region = 0
        let header = entry.localHeader()
        entry.offset = output.reserve(UInt64(header.count) + size)
        return ZipRegion(entry: entry, headerLength: header.count, output: output)
    }

    /// Marks a region whole: its final header (CRC-32, time, marker 1; the same length) over the
    /// placeholder, and the entry in the central directory.
    func complete(_ region: ZipRegion, crc32: UInt32, modified: Int64, key: Int) async throws {
        try await onQueue { [self] in
            if let failure { throw failure }
            var entry = region.entry
            entry.crc32 = crc32
            if Int32(exactly: modified) != nil { entry.modified = modified }  // a time that keeps the header's length
            entry.region = 1
            let header = entry.localHeader()
            precondition(header.count == region.headerLength, "a region's header changed length")
            try record { try header.withUnsafeBytes { try output.write($0, at: entry.offset) } }
            replaceKept(key)
            central.append((key, entry))
        }
    }

    /// On the queue, once a new version of a kept entry is whole: the old one leaves the central
    /// directory, and its bytes become a hole the finish removes, so that the archive holds one entry
    /// of that name and a streaming reader meets only the new one.
    private func replaceKept(_ key: Int) {
        guard let span = keptSpans.removeValue(forKey: key) else { return }
        central.removeAll { $0.key == key && $0.entry.offset == span.offset }
        output.giveBack(span.offset, span.length)
    }

    /// Gives a region up: its transfer failed. The finish removes it.
    func abandon(_ region: ZipRegion) {
        output.giveBack(region.entry.offset, UInt64(region.headerLength) + region.entry.compressedSize)
    }

    /// The output error that stopped the writer, if any: every later append fails with it.
    var failure: HaulError? { failureState.withLock { $0 } }

    /// Appends an entry at the end of the archive (its offset is set here).
    func append(_ entry: ZipEntry, _ staged: ZipStaged, key: Int) async throws {
        try await onQueue { [self] in
            guard let ordered else { return try write(entry, staged, key: key) }
            if let failure { throw failure }
            ordered.withLock { $0.waiting[key] = (entry, staged) }
            try drainInOrder(ordered)
        }
    }

    /// Appends the last entries (the manifests), then the central directory and the end records.
    ///
    /// - Parameter afterFailure: Try even though an append failed (it was cut off, so the archive ends
    ///   with a whole entry): after a full disk, what completed can still make a valid archive.
    /// - Returns: The archive's size.
    func finish(trailing: [(ZipEntry, ZipStaged)], afterFailure: Bool = false) async throws -> UInt64 {
        try await onQueue { [self] in
            if afterFailure { failureState.withLock { $0 = nil } }
            var key = Int.max - trailing.count
            for (entry, staged) in trailing {
                try write(entry, staged, key: key)
                key += 1
            }
            // Every transfer has ended: remove the regions given up, so the entries follow each other
            // as a streaming reader expects.
            try record { try output.compact(&central) }
            central.sort { $0.key < $1.key }
            let directoryOffset = output.position
            var directory: [UInt8] = []
            directory.reserveCapacity(min(central.count, 10_000) * 100)
            for (_, entry) in central {
                directory += entry.centralHeader()
                if directory.count >= 1 << 20 {
                    try record { try output.appendBytes(directory) }
                    directory.removeAll(keepingCapacity: true)
                }
            }
            try record { try output.appendBytes(directory) }
            let directorySize = output.position - directoryOffset
            try record {
                try output.appendBytes(ZipEntry.endRecords(
                    count: UInt64(central.count), directoryOffset: directoryOffset, directorySize: directorySize
                ))
            }
            // Nothing after the end records (a write a full disk cut short may have left bytes beyond).
            output.truncate(to: output.position)
            return output.position
        }
    }

    /// On the queue: one entry, local header then data.
    private func write(_ entry: ZipEntry, _ staged: ZipStaged, key: Int) throws {
        if let failure { throw failure }
        var entry = entry
        try record { entry.offset = try output.append(entry.localHeader(), staged) }
        staged.releaseMemory()
        replaceKept(key)
        central.append((key, entry))
    }

    /// Runs an output write; its failure stops the writer for good.
    private func record(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as HaulError {
            failureState.withLock { $0 = error }
            throw error
        }
    }

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result(catching: body)) }
        }
    }
}
