import CCurl
import Synchronization

/// A shared count of bytes received, updated from the engine thread and read by progress.
public final class ByteCounter: Sendable {
    private let value = Atomic<Int64>(0)
    public init() {}
    public func add(_ n: Int64) { value.wrappingAdd(n, ordering: .relaxed) }
    public var total: Int64 { value.load(ordering: .relaxed) }
}
