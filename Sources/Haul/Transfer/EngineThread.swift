#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which thread is an engine's: marked by the engine thread when it starts, and checked in debug builds
/// at every entry point that only the engine thread may run (libcurl handles, a transfer's state, the
/// socket and timer callbacks). Ownership is asserted, not only stated, as NIO asserts it with
/// `preconditionInEventLoop`.
enum EngineThread {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let rc = pthread_key_create(&key, nil)
        precondition(rc == 0, "pthread_key_create failed: \(rc)")
        return key
    }()

    /// Marks the calling thread as the engine thread of `core`. Called once, first thing on that thread.
    static func mark(_ core: AnyObject) {
        _ = pthread_setspecific(key, Unmanaged.passUnretained(core).toOpaque())
    }

    /// The core whose engine thread this is, as a pointer; `nil` on any other thread.
    static var current: UnsafeMutableRawPointer? { pthread_getspecific(key) }
}

/// Stops a debug build when the caller is not on `core`'s engine thread (or, without `core`, on
/// any engine thread). Costs nothing in a release build.
@inline(__always)
func assertOnEngineThread(_ core: AnyObject? = nil, _ function: StaticString = #function) {
    assert({
        guard let current = EngineThread.current else { return false }
        return core.map { current == Unmanaged.passUnretained($0).toOpaque() } ?? true
    }(), "\(function) runs on the engine thread only")
}
