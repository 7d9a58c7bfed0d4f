import CCurl
import Synchronization

/// One HTTP GET attempt as the engine runs it.
public struct AttemptRequest: Sendable {
    public var url: String
    /// Ask for the body from this byte on (`Range: bytes=N-`); 0 for the whole body.
    public var rangeStart: Int64 = 0
    /// The last byte to ask for (`Range: bytes=N-M`), for one segment of a product; `nil` for the rest.
    public var rangeEnd: Int64?
    /// A validator (`ETag` or `Last-Modified`) from the earlier attempt, sent as `If-Range`.
    public var ifRange: String?
    /// The size the catalog states: a response that disagrees ends at once as a size mismatch.
    public var expectedSize: Int64?
    /// Extra request headers (`Name: value`).
    public var headers: [String] = []
    /// Headers sent only to this URL's origin (scheme, host and port): a redirect to another origin is
    /// followed without them.
    public var originHeaders: [String] = []

    public init(url: String, rangeStart: Int64 = 0, rangeEnd: Int64? = nil, ifRange: String? = nil, expectedSize: Int64? = nil, headers: [String] = []) {
        self.url = url
        self.rangeStart = rangeStart
        self.rangeEnd = rangeEnd
        self.ifRange = ifRange
        self.expectedSize = expectedSize
        self.headers = headers
    }
}
