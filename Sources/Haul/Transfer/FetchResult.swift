import CCurl
import Foundation

/// How one product's download ended, after every attempt.
package struct FetchResult: Sendable {
    package enum Status: Sendable, Hashable {
        case ok
        /// A conditional request (`If-None-Match`, `If-Modified-Since`) was answered 304: the copy the
        /// caller has is current, and the sink holds nothing.
        case notModified
        /// Final failure; its message is the manifest's `FAILED: …` text.
        case failed(FileFailure)
        case cancelled
    }

    package var status: Status
    package var attempts: Int
    /// Bytes the sink holds (the whole product when `ok`).
    package var bytes: Int64
    /// `Last-Modified` of the last response, as Unix seconds.
    package var lastModified: Int64?
    package var seconds: Double
    /// `ETag` of the response the bytes came from (as sent, quotes and any `W/` kept).
    package var etag: String? = nil
    /// The last response's HTTP status, 0 when none arrived.
    package var httpStatus = 0
}
