import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a transfer into an output ended.
struct Completion {
    var status: Manifest.Status
    /// The CRC-32 of the file kept (when `ok`).
    var crc32: UInt32?
}
