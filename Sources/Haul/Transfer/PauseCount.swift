import CCurl
import CHaulSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How many transfers are paused, shared by the engine thread (which counts) and readers anywhere.
final class PauseCount: Sendable {
    let value = Atomic<Int>(0)
}
