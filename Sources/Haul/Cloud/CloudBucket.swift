/// The public S3 bucket MAST keeps its public products in, and how to address its objects anonymously.
///
/// Without an endpoint, objects are addressed over HTTPS, virtual-hosted style, as AWS serves them:
/// `https://stpubdata.s3.us-east-1.amazonaws.com/KEY`. With one (`--endpoint-url`, as the AWS tools
/// name it: a mirror, a local S3 server), path style, as those tools address a custom endpoint:
/// `ENDPOINT/BUCKET/KEY`. No request is ever signed and no token or header meant for the archive is sent.
package struct CloudBucket: Sendable, Hashable {
    /// The bucket MAST's lookups give keys in.
    package var name: String
    /// Its region (only the virtual-hosted host name uses it).
    package var region: String
    /// `http(s)://host[:port][/path]`, without a trailing slash; `nil` for AWS itself.
    package var endpoint: String?

    /// MAST's bucket.
    package static let mast = "stpubdata"

    package init(name: String = CloudBucket.mast, region: String = "us-east-1", endpoint: String? = nil) {
        self.name = name
        self.region = region
        self.endpoint = endpoint
    }

    /// Checks an `--endpoint-url` value: an http(s) URL without query, fragment or spaces.
    ///
    /// - Throws: ``HaulError`` (`invalidArgument`) naming the option and what was found.
    package static func endpoint(_ text: String) throws -> String {
        var base = text.trimmingSpaces()
        while base.hasSuffix("/") { base.removeLast() }
        let lower = base.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), base.count > 8,
              !base.contains(where: { $0 == "?" || $0 == "#" || $0.isWhitespace }) else {
            throw HaulError(.invalidArgument, "--endpoint-url: expected an http:// or https:// URL such as http://127.0.0.1:9000, found \"\(text)\"")
        }
        return base
    }

    /// The HTTPS (or endpoint) URL of an object of this bucket.
    package func url(key: String) -> String { url(bucket: name, key: key) }

    /// The URL of an object of any bucket, addressed as this one's are (the endpoint, or AWS).
    package func url(bucket: String, key: String) -> String {
        let path = URLResolver.escape(key, keeping: "/")
        if let endpoint { return "\(endpoint)/\(bucket)/\(path)" }
        // A bucket whose name is no DNS label (dots, capitals) cannot be a host name: path style.
        if bucket.contains(".") || bucket != bucket.lowercased() {
            return "https://s3.\(region).amazonaws.com/\(bucket)/\(path)"
        }
        return bucket == name ? "https://\(bucket).s3.\(region).amazonaws.com/\(path)" : "https://\(bucket).s3.amazonaws.com/\(path)"
    }

    /// The bucket and key of an `s3://BUCKET/KEY` URL, or `nil` when `uri` is none.
    package static func parse(s3 uri: String) -> (bucket: String, key: String)? {
        guard uri.count > 5, uri.prefix(5).lowercased() == "s3://" else { return nil }
        let rest = uri.dropFirst(5)
        guard let slash = rest.firstIndex(of: "/"), slash != rest.startIndex else { return nil }
        let key = rest[rest.index(after: slash)...]
        guard !key.isEmpty else { return nil }
        return (String(rest[..<slash]), String(key))
    }
}
