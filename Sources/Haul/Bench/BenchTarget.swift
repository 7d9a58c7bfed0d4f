/// One URL `haul bench` fetches: a product of a catalog, or a line of a URL list.
package struct BenchTarget: Sendable, Hashable {
    package var url: String
    /// The size the catalog states: a response of another length is an error (`size mismatch`).
    package var expectedSize: Int64?
    /// Request headers sent wherever the request goes, and those sent only to `url`'s origin
    /// (a token, `-H` headers bound to the archive).
    package var headers: [String]
    package var originHeaders: [String]

    package init(url: String, expectedSize: Int64? = nil, headers: [String] = [], originHeaders: [String] = []) {
        self.url = url
        self.expectedSize = expectedSize
        self.headers = headers
        self.originHeaders = originHeaders
    }
}

extension Plan {
    /// What `haul bench` fetches for this plan: each product it downloads (duplicates and excluded
    /// rows left out), with the headers a download would send: the engine's `-H` ones where they go,
    /// and the token to the archive only.
    ///
    /// - Parameters:
    ///   - configuration: The `-H` headers and the origin they are bound to.
    ///   - credentials: A signed-in token, when there is one.
    package func benchTargets(configuration: Configuration, credentials: Credentials? = nil) -> [BenchTarget] {
        entries.compactMap { entry in
            guard case .download = entry.disposition else { return nil }
            let url = entry.url
            let headers = RequestHeaders(url: url, configuration: configuration, adding: credentials?.headers(for: url) ?? [])
            return BenchTarget(url: url, expectedSize: entry.product.size, headers: headers.everywhere, originHeaders: headers.originBound)
        }
    }
}
