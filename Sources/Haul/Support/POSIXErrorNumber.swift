#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A POSIX error number with its text, kept as the underlying error of a ``HaulError``.
package struct POSIXErrorNumber: Error, Sendable, CustomStringConvertible {
    package let number: Int32
    package init(_ number: Int32) { self.number = number }
    package var description: String { String(cString: strerror(number)) }
}
