import CCurl
import Synchronization

/// One HTTP GET attempt as the engine runs it.
package struct AttemptRequest: Sendable {
    package var url: String
    /// Ask for the body from this byte on (`Range: bytes=N-`); 0 for the whole body.
    package var rangeStart: Int64 = 0
    /// The last byte to ask for (`Range: bytes=N-M`), for one segment of a product; `nil` for the rest.
    package var rangeEnd: Int64?
    /// A validator (`ETag` or `Last-Modified`) from the earlier attempt, sent as `If-Range`.
    package var ifRange: String?
    /// The size the catalog states: a response that disagrees ends at once as a size mismatch.
    package var expectedSize: Int64?
    /// Extra request headers (`Name: value`).
    package var headers: [String] = []
    /// Headers sent only to this URL's origin (scheme, host and port): a redirect to another origin is
    /// followed without them.
    package var originHeaders: [String] = []

    package init(url: String, rangeStart: Int64 = 0, rangeEnd: Int64? = nil, ifRange: String? = nil, expectedSize: Int64? = nil, headers: [String] = []) {
        self.url = url
        self.rangeStart = rangeStart
        self.rangeEnd = rangeEnd
        self.ifRange = ifRange
        self.expectedSize = expectedSize
        self.headers = headers
    }
}
