import Foundation
import Haul
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The connections open now, and those still waiting for their request's head (oldest first).
final class OpenConnections: Sendable {
    private struct State {
        var count = 0
        var waiting: [(id: ObjectIdentifier, channel: any Channel, since: NIODeadline)] = []
    }
    private let state = Locked(State())

    var count: Int { state.withLock { $0.count } }

    func opened(_ channel: any Channel) {
        state.withLock {
            $0.count += 1
            $0.waiting.append((ObjectIdentifier(channel), channel, .now()))
        }
    }

    func closed(_ channel: any Channel) {
        state.withLock {
            $0.count -= 1
            let id = ObjectIdentifier(channel)
            $0.waiting.removeAll { $0.id == id }
        }
    }

    /// The connection's request head has arrived.
    func headArrived(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        state.withLock { $0.waiting.removeAll { $0.id == id } }
    }

    /// The connection that has waited longest for its head, when that is at least `age`.
    func longestWaiting(atLeast age: TimeAmount) -> (any Channel)? {
        state.withLock { state in
            guard let first = state.waiting.first, first.since + age <= .now() else { return nil }
            state.waiting.removeFirst()
            return first.channel
        }
    }
}
