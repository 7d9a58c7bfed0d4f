#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes `start..<end` of a product, written at their offsets into a ``PositionalTarget``: one segment
/// fetched over its own connection, or a whole file (the body of a ``FileSink``, `end` unbounded).
///
/// Each chunk is copied once, into a block paid for in the ``MemoryBudget`` (``BlockFiller``, so a
/// transfer refused memory holds none); full blocks go to a serial lane of the download's threads, which checksums them in order
/// (when the target needs a CRC) and writes them at their offsets, so the engine thread never waits on
/// the disk; with too much in flight the transfer pauses until the queue has drained to half.
final class SegmentSink: TransferSink, @unchecked Sendable {
    let start: Int64
    let end: Int64
    let target: any PositionalTarget
    /// Its blocks, checksummed and written in order on the target's worker threads.
    private let queue: SerialLane

    private struct Shared {
        var gate: PauseGate
        var error: HaulError?
        var waker = SinkWaker {}
        /// The CRC-32 of bytes `start..<crcEnd`, as written in order.
        var crc: UInt32 = 0
        var crcEnd: Int64
    }
    private let shared: Locked<Shared>
    // Engine thread only (and the finishing task once the transfer has ended).
    private var filler: BlockFiller
    private var waker = SinkWaker {}
    /// Whether anything went to ``queue`` (a block, or a checksum restart).
    private var queued = false

    init(start: Int64, end: Int64, target: any PositionalTarget) {
        self.start = start
        self.end = end
        self.target = target
        queue = SerialLane(on: target.blocks.workers)
        filler = BlockFiller(blockSize: target.blocks.size, budget: target.blocks.budget)
        filler.position = start
        shared = Locked(Shared(gate: PauseGate(highWater: 4 * filler.blockSize), crcEnd: start))
    }

    deinit { filler.drop() }

    /// Bytes of the segment written so far, contiguous from its start: where a retry resumes.
    var position: Int64 { filler.position }

    /// A body starts at `offset`: where the bytes reached (a resumed transfer), or `start` (a run that
    /// starts over: the bytes are checksummed in order, so nothing in between will do); the CRC then
    /// restarts on the queue, after the blocks already there.
    func begin(offset: Int64, waker: SinkWaker) throws {
        self.waker = waker
        shared.withLock { $0.waker = waker }
        if let (block, at) = filler.take() { write(block, at: at) }
        guard offset != filler.position else { return }
        // The bytes are checksummed in order: a run that does not go on from where they reached starts over.
        guard offset == start else {
            throw HaulError(.output, "the server sent byte \(offset) where bytes \(start)-\(end - 1) were at \(filler.position)")
        }
        filler.position = offset
        let start = self.start
        queued = true
        queue.async { [shared] in shared.withLock { s in s.crc = 0; s.crcEnd = start } }
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> SinkWrite {
        let verdict = shared.withLock { s -> SinkWrite? in
            if let error = s.error { return .failed(error) }
            if !s.gate.admits() { return .pause }
            return nil
        }
        if let verdict { return verdict }
        let copied = filler.copy(bytes, waker: waker) { block, offset in write(block, at: offset) }
        return copied ? .accepted : .pause
    }

    /// On the segment's queue, in order: checksum, write, free.
    private func write(_ block: Buffer, at offset: Int64) {
        let count = block.length
        queued = true
        shared.withLock { $0.gate.took(count) }
        queue.async { [self] in
            var error: HaulError?
            let crc = CRC32.of(block.bytes)
            do {
                try target.write(block.bytes, productOffset: offset)
            } catch let e {
                error = HaulError.wrapping(e, while: "writing bytes \(offset)-\(offset + Int64(count) - 1)")
            }
            PageMemory.free(block.pointer)
            target.blocks.budget.release(block.pointer.count)
            let wake = shared.withLock { s -> SinkWaker? in
                s.gate.drained(count)
                // Blocks come in order; a resumed transfer goes on from where the written bytes end.
                if offset == s.crcEnd {
                    s.crc = s.crcEnd == start ? crc : CRC32.combine(s.crc, crc, lengthOfB: Int64(count))
                    s.crcEnd += Int64(count)
                } else if error == nil && s.error == nil {
                    s.error = HaulError(.output, "segment \(start)-\(end - 1): a block at \(offset) after \(s.crcEnd)")
                }
                if let error, s.error == nil { s.error = error }
                return s.gate.wakeIsDue(failed: s.error != nil) ? s.waker : nil
            }
            wake?.wake()
        }
    }

    /// Writes what is left and waits for every write. Call once the segment's last attempt has ended.
    /// - Returns: The segment's CRC-32. - Throws: the write error, if any.
    func finish() async throws -> UInt32 {
        if let (block, at) = filler.take() { write(block, at: at) }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in queue.async { c.resume() } }
        return try shared.withLock { s in
            if let error = s.error { throw error }
            return s.crc
        }
    }

    /// Instead of ``finish()``, for a body that never filled a block (most small files): its one block,
    /// where it goes, for the caller to checksum, write and free (``BlockFiller``'s budget) in the same
    /// job as the file's last steps, without a hop to the queue and back first. `nil` when anything
    /// went to the queue, or nothing arrived: then ``finish()``. Call once the transfer has ended.
    ///
    /// The block holds the whole body from ``start``, so its CRC-32 is the body's: a block leaves the
    /// filler only through ``write(_:at:)`` (which sets ``queued``), and a restart queues too.
    func takeWhole() -> (block: Buffer, at: Int64)? {
        guard !queued else { return nil }
        return filler.take()
    }

    /// The error that stopped the writes (a full disk), if any.
    var writeError: HaulError? { shared.withLock { $0.error } }

    /// Drops the partly filled block and waits for the writes in flight.
    func discard() async {
        filler.drop()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in queue.async { c.resume() } }
    }
}
