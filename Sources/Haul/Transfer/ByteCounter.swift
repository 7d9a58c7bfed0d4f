import CCurl
import Synchronization

/// A shared count of bytes received, updated from the engine thread and read by progress.
package final class ByteCounter: Sendable {
    private let value = Atomic<Int64>(0)
    package init() {}
    package func add(_ n: Int64) { value.wrappingAdd(n, ordering: .relaxed) }
    package var total: Int64 { value.load(ordering: .relaxed) }
}
