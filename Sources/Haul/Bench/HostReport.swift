/// What one host (`host:port`) of a bench run did.
public struct HostReport: Sendable {
    public var host: String
    /// Fetches of its URLs, and how they ended.
    public var requests = 0
    public var ok = 0
    public var failed = 0
    /// Body bytes received from it, of every attempt.
    public var bytes: Int64 = 0
    public var retries = 0
    public var connectionsOpened = 0
    public var connectionsReused = 0
    public var ttfb = LatencyHistogram()
    public var total = LatencyHistogram()

    public init(host: String) {
        self.host = host
    }
}
