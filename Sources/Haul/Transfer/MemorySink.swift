import Foundation

/// Collects a small response body in memory (up to a limit).
final class MemorySink: TransferSink, @unchecked Sendable {
    // Touched only on the engine's thread during the transfer, read after it ends.
    private(set) var bytes: [UInt8] = []
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func begin(offset: Int64, waker: SinkWaker) throws {
        bytes.removeSubrange(min(bytes.count, Int(offset))...)
    }

    func write(_ chunk: UnsafeRawBufferPointer) -> SinkWrite {
        guard bytes.count + chunk.count <= limit else {
            return .failed(HaulError(.authentication, "the answer is longer than \(limit) bytes"))
        }
        bytes.append(contentsOf: chunk)
        return .accepted
    }
}
