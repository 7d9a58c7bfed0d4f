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
    ///   - cloud: Where the bucket has products (``Engine/cloudLocations(_:entries:)``), by entry, and
    ///     the policy: under `auto` a product with a URL there is fetched from the bucket, anonymously,
    ///     as a download fetches it, the rest from the archive; under `cloud` the rest are left out.
    /// - Returns: The targets, and the products left out with why (under `cloud` only).
    package func benchTargets(
        configuration: Configuration, credentials: Credentials? = nil, cloud: (locations: [Int: CloudLocation], policy: SourcePolicy)? = nil
    ) -> (targets: [BenchTarget], leftOut: [(uri: String, reason: String)]) {
        var targets: [BenchTarget] = []
        var leftOut: [(uri: String, reason: String)] = []
        for (index, entry) in entries.enumerated() {
            guard case .download = entry.disposition else { continue }
            if let cloud, cloud.policy != .archive {
                switch cloud.locations[index] {
                case .url(let url)?:
                    // Anonymous: neither the token nor an archive-bound header goes to the bucket.
                    let headers = RequestHeaders(url: url, configuration: configuration)
                    targets.append(BenchTarget(url: url, expectedSize: entry.product.size, headers: headers.everywhere, originHeaders: headers.originBound))
                    continue
                case .absent(let why)? where cloud.policy == .cloud && entry.product.access != .exclusive:
                    leftOut.append((entry.product.uri, why))
                    continue
                default:
                    break
                }
            }
            let url = entry.url
            let headers = RequestHeaders(url: url, configuration: configuration, adding: credentials?.headers(for: url) ?? [])
            targets.append(BenchTarget(url: url, expectedSize: entry.product.size, headers: headers.everywhere, originHeaders: headers.originBound))
        }
        return (targets, leftOut)
    }

    /// For comparing the archive with its copy in the bucket on equal terms: each product the bucket
    /// has (a URL in `locations`), as a target on the archive and as one on the bucket, in the plan's
    /// order; the products it lacks are in neither list, and are returned with why.
    package func benchTargetPairs(
        configuration: Configuration, credentials: Credentials? = nil, locations: [Int: CloudLocation]
    ) -> (archive: [BenchTarget], cloud: [BenchTarget], leftOut: [(uri: String, reason: String)]) {
        var archive: [BenchTarget] = [], cloud: [BenchTarget] = []
        var leftOut: [(uri: String, reason: String)] = []
        for (index, entry) in entries.enumerated() {
            guard case .download = entry.disposition else { continue }
            switch locations[index] {
            case .url(let url)?:
                let there = RequestHeaders(url: url, configuration: configuration)
                cloud.append(BenchTarget(url: url, expectedSize: entry.product.size, headers: there.everywhere, originHeaders: there.originBound))
                let here = RequestHeaders(url: entry.url, configuration: configuration, adding: credentials?.headers(for: entry.url) ?? [])
                archive.append(BenchTarget(url: entry.url, expectedSize: entry.product.size, headers: here.everywhere, originHeaders: here.originBound))
            case .absent(let why)?:
                leftOut.append((entry.product.uri, why))
            case nil:
                leftOut.append((entry.product.uri, "not looked up"))
            }
        }
        return (archive, cloud, leftOut)
    }
}
