#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A function that receives lines of libcurl's trace (``Configuration/trace``).
package struct TraceHandler: Sendable, Hashable {
    private final class Box: Sendable {
        let body: @Sendable (String) -> Void
        init(_ body: @escaping @Sendable (String) -> Void) { self.body = body }
    }
    private let box: Box

    /// - Parameter body: Called with one line at a time (no line break), on the engine's thread.
    package init(_ body: @escaping @Sendable (String) -> Void) { box = Box(body) }

    func callAsFunction(_ line: String) { box.body(line) }

    package static func == (a: TraceHandler, b: TraceHandler) -> Bool { a.box === b.box }
    package func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(box)) }
}
