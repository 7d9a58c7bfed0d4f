import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file an earlier run left complete, and what that run recorded of it.
struct CompleteFile {
    var size: Int64
    var note: String
    var crc32: UInt32?
    /// The archive's `Last-Modified` and `ETag` for it, from the earlier manifest.
    var lastModified: Int64?
    var etag: String?
    /// Where the earlier run had it from, when its manifest says.
    var source: FileSource? = nil
    /// The file's own time (set from `Last-Modified` when it was written): asked about when the earlier
    /// manifest has no validator.
    var fileTime: Int64?

    /// The headers of a conditional request to the archive for a newer version: `If-None-Match` with
    /// the ETag, and `If-Modified-Since` with the time (the server decides by the ETag when it has one).
    var conditions: [String] {
        var headers: [String] = []
        // An ETag the bucket gave is S3's (an MD5), never the archive's: asked by time alone.
        if let etag, source != .cloud { headers.append("If-None-Match: \(etag)") }
        if let time = lastModified ?? fileTime { headers.append("If-Modified-Since: \(HTTPDate.format(time))") }
        return headers
    }
}
