#if canImport(Glibc)
import Glibc
#endif

/// A stream that takes part of a stored bundle only, up to and including byte ``lastByte``: a file
/// whose entry starts after it is not fetched (and the bundle's end is not written).
package protocol StoredBundlePart: DownloadTarget.ByteStream {
    var lastByte: UInt64 { get }
}
