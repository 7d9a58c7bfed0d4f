import CHaulSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One product on its way into a ZIP entry.
///
/// On the engine thread a received chunk is copied once, into a block. A full block goes to a worker
/// that computes its CRC-32 and, when the entry is deflated, compresses it on its own (a raw deflate
/// chunk ending in a sync flush), so all cores compress even when one file dominates. Finished chunks
/// are put back in order: their CRCs combine with `crc32_combine`, and their output stays in memory
/// (staged, in the budget's terms) up to ``ZipStaging/memoryThreshold`` and while the budget's staged
/// memory has room, beyond which the entry spills to an unnamed spool file. Output is charged for the
/// pages it occupies (``Buffer/compacted(budget:)``), and the spill rule reads the same figures, so an
/// entry that compresses to almost nothing holds almost nothing.
/// Nothing reaches the archive until ``finish(size:)`` has the whole, checked entry.
///
/// With `auto`, the first chunk is compressed as a trial and the others wait for it: deflate is kept
/// when it shrinks the chunk below ``DownloadTarget/Compression/worthwhileRatio``, else the entry is stored.
final class ZipEntrySink: TransferSink, @unchecked Sendable {
    enum Mode: Sendable { case store, deflate, undecided }

    let staging: ZipStaging
    private let initialMode: Mode
    var initialModeIsStore: Bool { initialMode == .store }

    /// Where a big stored entry may go straight into a file archive, written once in its final place.
    struct Placement: Sendable {
        let writer: ZipWriter
        /// The entry's name in the archive, and the time its placeholder header carries.
        let name: String
        let modified: Int64
    }
    let placement: Placement?
    /// Writes into the entry's region, one at a time, tagged with the generation they belong to: a
    /// restart or a discard takes this lock to move the generation on, so no write of an older body
    /// lands after it (in the region, or in space given back).
    struct RegionWrites {
        var generation = 0
        var headerWritten = false
    }
    let regionWrites = Locked(RegionWrites())

    // Engine thread only (and the finishing task once the transfer has ended).
    private var filler: BlockFiller
    private var nextIndex = 0
    private var waker = SinkWaker {}

    struct Shared {
        var generation = 0
        var mode: Mode
        /// Chunks waiting for `auto`'s decision.
        var held: [Chunk] = []
        /// Finished chunks not yet in order.
        var finished: [Int: Piece] = [:]
        var assembled = 0
        var submitted = 0
        /// Input bytes submitted and not yet assembled, against the pause threshold.
        var gate: PauseGate
        var crc: UInt32 = 0
        var uncompressed: Int64 = 0
        var compressed: Int64 = 0
        /// Output kept in memory, and the bytes the budget holds for it as staged.
        var memory: [Buffer] = []
        var memoryBytes = 0
        var spool: SpoolFile?
        var spoolLength: Int64 = 0
        var spoolWrites = 0
        var error: HaulError?
        var waiters: [CheckedContinuation<Void, Never>] = []
        /// Waiters released under the lock, resumed by ``withShared(_:)`` once it is dropped.
        var due: [CheckedContinuation<Void, Never>] = []
        /// The transfer's waker, for the worker that drains a paused entry.
        var waker = SinkWaker {}
        /// Set by ``assemble(_:)`` when the paused transfer may go on; acted on outside the lock.
        var wakeDue = false
        /// The region the entry is written into, when it is placed rather than staged.
        var region: ZipRegion?
        /// Whether the entry arrives as segments (``SegmentableSink``), which checksum and place it.
        var segmented = false

        var settled: Bool { held.isEmpty && assembled == submitted && spoolWrites == 0 }
    }
    /// Only through ``withShared(_:)``.
    let shared: Locked<Shared>

    /// - Parameters:
    ///   - filename: The product's name, which `auto` looks at for compressed types.
    ///   - placement: Where a big stored entry of known size may be written in place (a file archive).
    init(staging: ZipStaging, filename: String, placement: Placement? = nil) {
        self.staging = staging
        self.placement = placement
        let mode: Mode
        switch staging.compression.mode {
        case .store: mode = .store
        case .deflate: mode = .deflate
        case .auto: mode = DownloadTarget.Compression.isCompressedType(filename) ? .store : .undecided
        }
        initialMode = mode
        filler = BlockFiller(blockSize: staging.blockSize, budget: staging.budget)
        shared = Locked(Shared(mode: mode, gate: PauseGate(highWater: 4 * staging.blockSize)))
    }

    deinit {
        filler.drop()
        withShared { s in Self.drop(&s, budget: staging.budget) }
    }

    // MARK: TransferSink (engine thread)

    func begin(offset: Int64, waker: SinkWaker) throws {
        self.waker = waker
        withShared { $0.waker = waker }
        if offset == filler.position { return }
        guard offset == 0 else {
            throw HaulError(.output, "cannot resume an entry at byte \(offset) of \(filler.position)")
        }
        // The server sent the body again from the start: forget what arrived.
        filler.drop()
        filler.position = 0
        nextIndex = 0
        withShared { s in
            Self.drop(&s, budget: staging.budget)
            s.generation += 1
            s.mode = initialMode
            s.assembled = 0
            s.submitted = 0
            s.gate.reset()
            s.crc = 0
            s.uncompressed = 0
            s.compressed = 0
            s.spoolLength = 0
        }
        // The region's writes learn of the new generation from its first chunk (see process(_:)):
        // the engine thread never waits here for a write in progress.
    }

    /// Places the entry in a region of the archive when it is stored, bigger than it may keep in memory,
    /// and its length is known: then its bytes are written once, in their final place, never staged or
    /// spooled. Smaller entries, deflated ones and streams are staged as before.
    func begin(offset: Int64, totalLength: Int64?, waker: SinkWaker) throws {
        try begin(offset: offset, waker: waker)
        guard offset == 0, let placement, let totalLength, totalLength > staging.memoryThreshold else { return }
        withShared { s in
            guard s.region == nil, s.mode == .store, s.spool == nil, s.memory.isEmpty else { return }
            s.region = placement.writer.reserve(name: placement.name, size: UInt64(totalLength), modified: placement.modified)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> SinkWrite {
        let verdict = withShared { s -> SinkWrite? in
            if let error = s.error { return .failed(error) }
            if !s.gate.admits() { return .pause }
            return nil
        }
        if let verdict { return verdict }
        let copied = filler.copy(bytes, waker: waker) { block, offset in submit(block, at: offset, final: false) }
        return copied ? .accepted : .pause
    }


    /// The error that stopped the entry (a spool file on a full disk), if any.
    var writeError: HaulError? { withShared { $0.error } }

    // MARK: Finishing

    /// Waits for every chunk, then hands over the entry's data and checksum.
    ///
    /// Call once the transfer has ended with all `size` bytes. - Throws: ``HaulError`` (`output`).
    func finish(size: Int64) async throws -> ZipStaged {
        if withShared({ $0.segmented }) { return try finishSegments(size: size) }
        submitLast()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let ready = withShared { s -> Bool in
                if s.settled || s.error != nil { return true }
                s.waiters.append(c)
                return false
            }
            if ready { c.resume() }
        }
        return try withShared { s in
            if let error = s.error { throw error }
            guard s.uncompressed == size else {
                throw HaulError(.output, "entry holds \(s.uncompressed) bytes, expected \(size)")
            }
            let staged = ZipStaged(
                method: s.mode == .deflate ? .deflated : .stored, crc32: s.crc,
                uncompressedSize: UInt64(s.uncompressed), compressedSize: UInt64(s.region == nil ? s.compressed : s.uncompressed),
                memory: s.memory, staged: s.memoryBytes, spool: s.spool, budget: staging.budget, region: s.region
            )
            s.memory = []
            s.memoryBytes = 0
            s.spool = nil
            return staged
        }
    }

    /// The entry written by segments: its region, and the CRC they combined.
    private func finishSegments(size: Int64) throws -> ZipStaged {
        try withShared { s in
            if let error = s.error { throw error }
            guard s.region != nil || s.spool != nil, s.uncompressed == size else {
                throw HaulError(.output, "entry holds \(s.uncompressed) bytes, expected \(size)")
            }
            return ZipStaged(method: .stored, crc32: s.crc, uncompressedSize: UInt64(size), compressedSize: UInt64(size),
                             memory: [], staged: 0, spool: s.region == nil ? s.spool : nil, budget: staging.budget, region: s.region)
        }
    }

    /// Moves what the entry holds in memory to its spool file now: the watchdog's recovery, which
    /// frees staged memory without waiting for the transfer to end. Later pieces follow to the spool.
    func spillNow() {
        let work = withShared { s -> SpoolWork? in
            guard s.spool == nil, s.error == nil, !s.memory.isEmpty else { return nil }
            let buffers = startSpilling(&s)
            guard let spool = s.spool, s.error == nil else {
                for buffer in buffers { release(buffer) }
                resumeWaitersIfSettled(&s)
                return nil
            }
            let work = SpoolWork(spool: spool, offset: s.spoolLength, buffers: buffers, generation: s.generation)
            s.spoolLength += Int64(buffers.reduce(0) { $0 + $1.length })
            s.spoolWrites += 1
            return work
        }
        if let work { staging.workers.async { [self] in spill(work) } }
    }

    /// Drops what the entry holds. Call once the transfer has ended.
    func discard() {
        filler.drop()
        let (region, generation) = withShared { s -> (ZipRegion?, Int) in
            Self.drop(&s, budget: staging.budget)
            s.generation += 1
            defer { s.region = nil }
            return (s.region, s.generation)
        }
        // After this, no write of this entry reaches the region (one in progress is waited for, on
        // this task: the transfer has ended, so the engine thread never waits here).
        regionWrites.withLock { $0.generation = max($0.generation, generation) }
        if let region { placement?.writer.abandon(region) }
    }

    // MARK: Chunks

    /// A block of input at its place in the entry.
    struct Chunk: @unchecked Sendable {
        var index: Int
        var generation: Int
        var input: Buffer
        var final: Bool
        /// Where the chunk's first byte is in the product.
        var offset: Int64
    }

    /// A chunk's result: its CRC, input length, and the bytes it adds to the entry.
    struct Piece: @unchecked Sendable {
        var crc: UInt32
        var inputLength: Int
        var output: Buffer
    }

    /// Hands the partly filled block, or an empty one, to a worker as the final chunk (a deflated
    /// entry's last chunk is the one that ends the deflate stream).
    private func submitLast() {
        if let (block, offset) = filler.take() {
            submit(block, at: offset, final: true)
        } else {
            let empty = Buffer(pointer: PageMemory.allocate(1), length: 0)
            staging.budget.forceReserve(empty.pointer.count)
            submit(empty, at: filler.position, final: true)
        }
    }

    /// Hands a block to a worker, or holds it while `auto` has not decided.
    private func submit(_ buffer: Buffer, at offset: Int64, final: Bool) {
        let index = nextIndex
        nextIndex += 1
        let chunk = withShared { s -> Chunk? in
            let chunk = Chunk(index: index, generation: s.generation, input: buffer, final: final, offset: offset)
            s.submitted += 1
            s.gate.took(buffer.length)
            if s.mode == .undecided && index > 0 {
                s.held.append(chunk)
                return nil
            }
            return chunk
        }
        if let chunk { schedule(chunk) }
    }

    private func schedule(_ chunk: Chunk) {
        staging.workers.async { [self] in process(chunk) }
    }

    /// Worker: checksum and, as the mode says, compress one chunk.
    private func process(_ chunk: Chunk) {
        let input = UnsafeRawBufferPointer(rebasing: chunk.input.pointer[0..<chunk.input.length])
        let crc = CRC32.of(input)
        let (mode, generation, region) = withShared { ($0.mode, $0.generation, $0.region) }
        guard generation == chunk.generation else { return release(chunk.input) }
        let piece: Piece
        var decided: Mode?
        var placingError: HaulError?
        switch mode {
        case .store where region != nil:
            // Straight to its final place in the archive (the placeholder header first, once).
            // Held across the write, by workers and the finishing task only, never the engine thread:
            // a newer body's first write moves the generation on, so an older write still queued is
            // refused and one in progress ends before it.
            regionWrites.withLock { r in
                if r.generation < chunk.generation { r.generation = chunk.generation }
                guard r.generation == chunk.generation, let region else { return }
                do {
                    if !r.headerWritten {
                        try region.placeholder.withUnsafeBytes { try region.output.write($0, at: region.entry.offset) }
                        r.headerWritten = true
                    }
                    try region.write(input, at: chunk.offset)
                } catch {
                    placingError = HaulError.wrapping(error, while: "writing \(region.output.name)")
                }
            }
            release(chunk.input)
            piece = Piece(crc: crc, inputLength: chunk.input.length, output: .none)
        case .store:
            piece = Piece(crc: crc, inputLength: chunk.input.length, output: chunk.input.compacted(budget: staging.budget))
        case .deflate, .undecided:
            let (output, length) = staging.deflater.compress(input, final: chunk.final)
            staging.budget.forceReserve(output.count)
            let compressed = Buffer(pointer: output, length: length)
            if mode == .undecided && Double(length) >= DownloadTarget.Compression.worthwhileRatio * Double(chunk.input.length) {
                release(compressed)
                piece = Piece(crc: crc, inputLength: chunk.input.length, output: chunk.input.compacted(budget: staging.budget))
                decided = .store
            } else {
                release(chunk.input)
                piece = Piece(crc: crc, inputLength: chunk.input.length, output: compressed.compacted(budget: staging.budget))
                if mode == .undecided { decided = .deflate }
            }
        }
        var released: [Chunk] = []
        let (taken, work, wake) = withShared { s -> (Bool, SpoolWork?, SinkWaker?) in
            guard s.generation == chunk.generation else { return (false, nil, nil) }
            if let placingError, s.error == nil { s.error = placingError }
            if let decided {
                s.mode = decided
                released = s.held
                s.held = []
            }
            s.finished[chunk.index] = piece
            let work = assemble(&s)
            defer { s.wakeDue = false }
            return (true, work, s.wakeDue ? s.waker : nil)
        }
        if !taken { release(piece.output) }
        wake?.wake()
        for held in released { schedule(held) }
        if let work { spill(work) }
    }

    /// Bytes to append to the spool file at an offset reserved for them.
    private struct SpoolWork: @unchecked Sendable {
        var spool: SpoolFile
        var offset: Int64
        var buffers: [Buffer]
        var generation: Int
    }

    /// Puts finished chunks in order; returns what must go to the spool (written outside the lock).
    ///
    /// A piece stays in memory only while the entry's own staged bytes stay within its threshold and
    /// the budget agrees to stage it (rule 1 of ``MemoryBudget``); otherwise the entry spills: what it
    /// held and every later piece go to its spool file, memory that drains.
    private func assemble(_ s: inout Shared) -> SpoolWork? {
        var toSpool: [Buffer] = []
        while let piece = s.finished.removeValue(forKey: s.assembled) {
            s.crc = s.assembled == 0 ? piece.crc : CRC32.combine(s.crc, piece.crc, lengthOfB: Int64(piece.inputLength))
            s.uncompressed += Int64(piece.inputLength)
            s.compressed += Int64(piece.output.length)
            s.assembled += 1
            s.gate.drained(piece.inputLength)
            if s.error != nil {
                release(piece.output)
                continue
            }
            // Written in place already: nothing to keep.
            if piece.output.pointer.count == 0 && piece.output.length == 0 && s.region != nil { continue }
            if s.spool == nil {
                let charge = piece.output.pointer.count
                if s.memoryBytes + charge <= staging.memoryThreshold && staging.budget.stage(charge) {
                    s.memory.append(piece.output)
                    s.memoryBytes += charge
                    continue
                }
                toSpool = startSpilling(&s) + toSpool
            }
            toSpool.append(piece.output)
        }
        if s.gate.wakeIsDue(failed: s.error != nil) { s.wakeDue = true }
        var work: SpoolWork?
        if let spool = s.spool, s.error == nil, !toSpool.isEmpty {
            let length = toSpool.reduce(0) { $0 + $1.length }
            work = SpoolWork(spool: spool, offset: s.spoolLength, buffers: toSpool, generation: s.generation)
            s.spoolLength += Int64(length)
            s.spoolWrites += 1
        } else {
            for buffer in toSpool { release(buffer) }
        }
        resumeWaitersIfSettled(&s)
        return work
    }

    /// Opens the entry's spool file (or records why it cannot) and takes what the entry held in memory
    /// off its staged bytes: those buffers, now moving memory, are to be written to the spool.
    private func startSpilling(_ s: inout Shared) -> [Buffer] {
        do {
            s.spool = try SpoolFile(folder: staging.spoolFolder)
        } catch {
            s.error = HaulError.wrapping(error, while: "creating a spool file in \(staging.spoolFolder)")
        }
        staging.budget.unstage(s.memoryBytes)
        defer {
            s.memory = []
            s.memoryBytes = 0
        }
        return s.memory
    }

    private func spill(_ work: SpoolWork) {
        var error: HaulError?
        do {
            try work.spool.write(work.buffers, at: work.offset)
        } catch let e {
            error = HaulError.wrapping(e, while: "writing a spool file in \(work.spool.folder)")
        }
        for buffer in work.buffers { release(buffer) }
        let wake = withShared { s -> SinkWaker? in
            guard s.generation == work.generation else { return nil }
            s.spoolWrites -= 1
            resumeWaitersIfSettled(&s)
            guard let error else { return nil }
            if s.error == nil { s.error = error }
            resumeWaitersIfSettled(&s)
            // A paused transfer learns of the error from its next write.
            return s.gate.wakeIsDue(failed: true) ? s.waker : nil
        }
        wake?.wake()
    }

    private func resumeWaitersIfSettled(_ s: inout Shared) {
        guard !s.waiters.isEmpty, s.settled || s.error != nil else { return }
        s.due += s.waiters
        s.waiters = []
    }

    /// Runs `body` with the shared state under its lock, then resumes the waiters it released, after
    /// the lock is dropped: a continuation is never resumed under a lock.
    func withShared<R>(_ body: (inout Shared) throws -> R) rethrows -> R {
        var due: [CheckedContinuation<Void, Never>] = []
        let result = try shared.withLock { s in
            defer {
                due = s.due
                s.due = []
            }
            return try body(&s)
        }
        for waiter in due { waiter.resume() }
        return result
    }

    private func release(_ buffer: Buffer) {
        staging.budget.release(buffer.pointer.count)
        PageMemory.free(buffer.pointer)
    }

    /// Frees everything an entry holds (on reset, discard, or deinit).
    private static func drop(_ s: inout Shared, budget: MemoryBudget) {
        budget.unstage(s.memoryBytes)
        for buffer in s.memory { budget.release(buffer.pointer.count); PageMemory.free(buffer.pointer) }
        for chunk in s.held { budget.release(chunk.input.pointer.count); PageMemory.free(chunk.input.pointer) }
        for piece in s.finished.values { budget.release(piece.output.pointer.count); PageMemory.free(piece.output.pointer) }
        s.memory = []
        s.memoryBytes = 0
        s.held = []
        s.finished = [:]
        s.spool = nil
        s.spoolWrites = 0
        s.due += s.waiters
        s.waiters = []
    }
}
