import Foundation

/// The second half of a big array of product rows, read on a second thread while the reader reads the
/// first half: a million-row list is read in about half the time on two cores.
///
/// Where the second half starts cannot be known without reading the first, so it is guessed (see
/// ``candidate(in:from:)``) and checked: the reader takes these rows only when it reaches the guessed
/// byte itself, as the start of a row of the same array (``ProductListReader/readRows(_:origin:path:depth:into:ahead:stop:)``).
/// From there a reader would read exactly what this thread read, for it is the same code on the same
/// bytes at the same depth: so the products, their order and their row numbers are the ones one
/// reader makes. A wrong guess, an error or a refused row on this side costs the time spent here and
/// nothing else: the reader reads on by itself and gives its own messages.
final class RowsAhead: @unchecked Sendable {
    /// The guessed start: the first byte (a `{`) of a row.
    let start: Int
    /// What the second thread read: its rows (numbered from 0 at ``start``) and the index just past the
    /// array's `]`; `nil` when it stopped, met an error or refused a row.
    struct Tail {
        var read: ProductListReader.RowsRead
        var end: Int
    }

    /// Arrays smaller than this are read by one thread: starting one costs more than it saves. Tests set
    /// it lower, to read small lists in two halves, or to `Int.max`, to read them in one.
    @TaskLocal static var minimumBytes = 8 << 20

    /// Products a run holds (``ProductRun``); tests set fewer, so that small lists fill several.
    @TaskLocal static var runCapacity = ProductRun.standardCapacity

    /// Told, when the reader reaches the guessed start or the end of the array, whether it took the
    /// rows read ahead: for tests, which must know which way a list was read.
    @TaskLocal static var observer: (@Sendable (_ taken: Bool) -> Void)?

    private let reader: ProductListReader
    private let kind: ProductListReader.Rows
    private let origin: String
    private let path: String
    private let depth: Int
    /// Set by the reader when it will not take the rows; the thread then stops at its next check.
    private let stopped = Locked(false)
    private let runCapacity: Int
    private let observer: (@Sendable (Bool) -> Void)?
    private var tail: Tail?
    private let done = DispatchSemaphore(value: 0)

    private init(_ reader: ProductListReader, kind: ProductListReader.Rows, origin: String, path: String, depth: Int, start: Int) {
        self.reader = reader
        self.kind = kind
        self.origin = origin
        self.path = path
        self.depth = depth
        self.start = start
        // Task-local values, read here on the reader's task: the second thread does not see them.
        runCapacity = Self.runCapacity
        observer = Self.observer
    }

    /// Starts reading the rows of the array `reader` reads, from a guessed row about halfway through
    /// the bytes left; `nil` when the bytes are few, one core is all there is, or no row start is found.
    ///
    /// - Parameter from: The first row's first byte.
    static func start(
        _ reader: ProductListReader, kind: ProductListReader.Rows, origin: String, path: String, depth: Int, from: Int
    ) -> RowsAhead? {
        let bytes = reader.parser.bytes
        guard bytes.count - from >= minimumBytes, ProcessInfo.processInfo.activeProcessorCount > 1,
              let start = candidate(in: bytes, from: from) else { return nil }
        var parser = JSONReader.Parser(bytes: bytes, keepsDetails: reader.keepsDetails)
        parser.index = start
        var second = ProductListReader(
            parser: parser, name: reader.name, consumed: reader.consumed, keepsDetails: reader.keepsDetails, readsAhead: false,
            planSelection: reader.planSelection, plansDirectly: reader.plansDirectly,
            productsDirectly: reader.productsDirectly
        )
        second.releasedFrom = start
        second.released = start
        let ahead = RowsAhead(second, kind: kind, origin: origin, path: path, depth: depth, start: start)
        let thread = Thread { ahead.run() }
        // As deep as the reader may go (``JSONReader/maximumDepth`` nested values), with room to spare.
        thread.stackSize = 16 << 20
        thread.start()
        return ahead
    }

    private func run() {
        var reader = self.reader
        var read = ProductListReader.RowsRead()
        read.runs = []
        read.runCapacity = runCapacity
        // For `haul plan`, the rows kept as the reader keeps them (``PlanRows``), not as products.
        read.planRows = reader.planSelection.map(PlanRows.init)
        var none: RowsAhead?
        var result: Tail?
        do {
            try reader.readRows(kind, origin: origin, path: path, depth: depth, into: &read, ahead: &none) {
                self.stopped.withLock { $0 }
            }
            if read.error == nil, !stopped.withLock({ $0 }) { result = Tail(read: read, end: reader.parser.index) }
        } catch {
            result = nil
        }
        tail = result
        // The semaphore orders the write of `tail` before the reader's read of it.
        done.signal()
    }

    /// Waits for the second thread and gives its rows when the reader, at `index` (the start of a row),
    /// is where they start and will take them (`taken`: no row refused so far); else stops the thread
    /// and gives `nil`.
    func finish(at index: Int, taken: Bool) -> Tail? {
        guard index == start, taken else {
            cancel()
            return nil
        }
        done.wait()
        // Handed over, not kept: the reader frees each run once it has copied it.
        defer { tail = nil }
        observer?(tail != nil)
        return tail
    }

    /// Stops the second thread and waits for it: it reads the reader's bytes, which may be unmapped
    /// once the reader returns.
    func cancel() {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        done.wait()
        // Signalled once: the next wait (a second cancel) must not block.
        done.signal()
        tail = nil
        if first { observer?(false) }
    }

    /// A guess at a row's first byte about halfway from `from` to the end, or `nil`.
    ///
    /// A line break is never inside a JSON string (a string holds control characters only escaped),
    /// so a line that starts with `{` after a line ending `},` is most likely a row of the array (in a
    /// list written one row a line, or pretty-printed, always). A list written on one line has no line
    /// breaks: there `},{` is taken, which may be inside a string; the check when the reader reaches
    /// it tells.
    static func candidate(in bytes: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        let middle = from + (bytes.count - from) / 2
        let limit = min(bytes.count, middle + (4 << 20))
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A }
        /// Whether the bytes before `i` (spaces aside) end with `},`.
        func followsRow(_ i: Int) -> Bool {
            var k = i - 1
            while k > from, isSpace(bytes[k]) { k -= 1 }
            guard k > from, bytes[k] == UInt8(ascii: ",") else { return false }
            k -= 1
            while k > from, isSpace(bytes[k]) { k -= 1 }
            return k > from && bytes[k] == UInt8(ascii: "}")
        }
        var i = middle
        while i < limit {
            if bytes[i] == 0x0A {
                var j = i + 1
                while j < limit, bytes[j] == 0x20 || bytes[j] == 0x09 || bytes[j] == 0x0D { j += 1 }
                if j < limit, bytes[j] == UInt8(ascii: "{"), followsRow(j) { return j }
            }
            i += 1
        }
        i = middle
        while i < limit {
            if bytes[i] == UInt8(ascii: "{"), followsRow(i) { return i }
            i += 1
        }
        return nil
    }
}
