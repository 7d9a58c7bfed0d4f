/// Turns product URIs into the URLs they are fetched from, as MAST's download endpoints take them.
///
/// - `mast:X` → `{archive}/api/v0.1/Download/file?uri=mast:X`, percent-escaped except `:` and `/`.
/// - a missions-search relative `uri` → `{archive}/search/{mission}/api/v0.1/retrieve_product?product_name={uri}`,
///   the whole `uri` percent-escaped.
/// - `http(s)://` URLs are used as they are.
/// - `s3://BUCKET/KEY` (a public bucket, read anonymously) → the object's HTTPS URL, or its URL under
///   the bucket's endpoint when one is set (`--endpoint-url`).
public struct URLResolver: Sendable, Hashable {
    /// The missions whose search API serves products.
    public enum Mission: String, Sendable, CaseIterable {
        case hst, jwst, roman
    }

    /// The archive's base URL, without a trailing slash.
    public let archive: String
    public let mission: Mission
    /// MAST's public bucket and where it is reached (`--endpoint-url`): `s3://` URLs, and the keys
    /// the path lookup gives, become URLs there.
    package var bucket = CloudBucket()

    /// The archive used when none is configured.
    public static let defaultArchive = "https://mast.stsci.edu"

    /// - Parameters:
    ///   - archive: `http(s)://host[:port][/path]`; `nil` reads `HAUL_ARCHIVE`, then uses ``defaultArchive``.
    ///   - mission: The missions-search mission.
    ///   - environment: The process's environment, where `HAUL_ARCHIVE` is read when `archive` is `nil`.
    /// - Throws: ``HaulError`` (`invalidArgument`) when the archive is not an http(s) URL.
    public init(archive: String? = nil, mission: Mission = .hst, environment: [String: String] = [:]) throws {
        var base = archive ?? environment["HAUL_ARCHIVE"] ?? Self.defaultArchive
        base = base.trimmingSpaces()
        while base.hasSuffix("/") { base.removeLast() }
        let lower = base.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), base.count > 8,
              !base.contains(where: { $0 == "?" || $0 == "#" || $0.isWhitespace }) else {
            throw HaulError(.invalidArgument, "--archive: expected an http:// or https:// URL such as \(Self.defaultArchive), found \"\(base)\"")
        }
        self.archive = base
        self.mission = mission
    }

    /// The URL to fetch a product URI from.
    public func url(for uri: String) -> String {
        let lower = uri.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") { return uri }
        if let (name, key) = CloudBucket.parse(s3: uri) { return bucket.url(bucket: name, key: key) }
        if lower.hasPrefix("mast:") {
            return "\(archive)/api/v0.1/Download/file?uri=\(Self.escape(uri, keeping: ":/"))"
        }
        return "\(archive)/search/\(mission.rawValue)/api/v0.1/retrieve_product?product_name=\(Self.escape(uri, keeping: ""))"
    }

    /// Whether `uri` is an object of a public bucket (`s3://`), fetched from the cloud without lookup.
    package static func isS3(_ uri: String) -> Bool { CloudBucket.parse(s3: uri) != nil }

    /// Percent-escapes everything but RFC 3986's unreserved characters and `keeping`.
    package static func escape(_ s: String, keeping: String) -> String {
        let keep = Array(keeping.utf8)
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 16)
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            default:
                if keep.contains(byte) {
                    out.append(byte)
                } else {
                    out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
