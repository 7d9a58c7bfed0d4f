/// What one host (`host:port`) of a bench run did.
package struct HostReport: Sendable {
    package var host: String
    /// Fetches of its URLs, and how they ended.
    package var requests = 0
    package var ok = 0
    package var failed = 0
    /// Body bytes received from it, of every attempt.
    package var bytes: Int64 = 0
    package var retries = 0
    package var connectionsOpened = 0
    package var connectionsReused = 0
    package var ttfb = LatencyHistogram()
    package var total = LatencyHistogram()

    package init(host: String) {
        self.host = host
    }
}
