import CHaulSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension DownloadTarget {
    /// A destination for a streamed archive that cannot seek: standard output, a socket, a program's buffer.
    ///
    /// ``write(_:)`` is called on the bundle's writer queue, in order, and may block.
    public protocol ByteStream: AnyObject, Sendable {
        /// Writes all of `bytes`, or throws.
        func write(_ bytes: UnsafeRawBufferPointer) throws
    }
}
