import CCurl
import Synchronization

/// What one attempt did.
package struct AttemptOutcome: Sendable {
    /// Why an attempt was stopped by Haul rather than by the network.
    package enum Abort: Sendable {
        /// The response declares a length other than the catalog's size, or grew past it.
        case sizeMismatch(expected: Int64, actual: Int64)
        /// A 206 answer for another range than asked.
        case rangeMismatch
        /// A 206 answer whose validator is not the `If-Range` sent: the product changed on the server and
        /// the server sent a range of the new one anyway (it does not honour `If-Range`).
        case changedOnServer
        /// The sink failed.
        case sink(any Error)
    }

    /// The byte the request asked the body from (`Range`), 0 for the whole body.
    package var rangeStart: Int64 = 0
    /// libcurl's result code (`CURLE_OK` is 0) and its message.
    package var curlCode: Int32 = 0
    package var curlMessage: String = ""
    /// The final HTTP status, 0 when none arrived.
    package var status: Int = 0
    /// Where in the product the body started, and how many body bytes the sink took.
    package var offset: Int64 = 0
    package var received: Int64 = 0
    /// The product's full length as the response states it, when it does.
    package var totalLength: Int64?
    package var acceptRanges = false
    /// A validator to resume with (`ETag`, else `Last-Modified`).
    package var validator: String?
    /// A 2xx response's `ETag`, as sent (weak ones too).
    package var etag: String?
    /// `Retry-After`, in seconds.
    package var retryAfter: Int64?
    /// `Last-Modified`, as Unix seconds.
    package var lastModified: Int64?
    /// A 2xx response's `Content-Encoding` (other than `identity`): the body was stored as sent, never
    /// decoded, so its length is the encoded length.
    package var contentEncoding: String?
    /// A 2xx response's `Content-Type`, when it sent one.
    package var contentType: String?
    /// The first bytes (up to ``errorBodyLimit``) of a response that is not 2xx: an S3 error's XML
    /// (``S3Error``) says there why, and the reason quotes it.
    package var errorBody: [UInt8] = []
    /// How much of an error body is kept.
    static let errorBodyLimit = 4096
    /// The system's error number of a failed connection (`ECONNREFUSED`…), 0 when none.
    package var osErrno: Int32 = 0
    package var abort: Abort?
    package var cancelled = false
    /// Whether a 2xx body started and the sink was told where (`begin(offset:)`).
    package var bodyStarted = false
    /// libcurl's clock of the attempt (its redirects included), from the start of the attempt: when the
    /// first response byte arrived (`CURLINFO_STARTTRANSFER_TIME_T`; `nil` when none did) and when it
    /// ended (`CURLINFO_TOTAL_TIME_T`).
    package var firstByteSeconds: Double?
    package var totalSeconds: Double = 0
    /// When the attempt ended, read on the engine thread as it ended: a measurement that places
    /// libcurl's times on the caller's clock starts from here, not from when the caller's task ran
    /// again, which a busy machine can delay by seconds.
    package var ended: ContinuousClock.Instant?
    /// Connections the attempt opened (`CURLINFO_NUM_CONNECTS`): 0 when it reused one, or made none.
    package var connectionsOpened = 0
    /// Whether the bytes the sink now holds are the product's first `offset + received` bytes.
    package var end: Int64 { offset + received }
}
