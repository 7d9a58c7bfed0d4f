import Foundation

/// The HTTP field readers the loopback archive (`HaulArchive`) and `haul serve` (`HaulServe`) share, so
/// both servers read a `Range` or a query by one rule. Dates are ``HTTPDate``.
package enum HTTPFields {
    /// A `Range` header of one range from a first byte: `bytes=N-` or `bytes=N-M` with `M ≥ N` (the
    /// unit in any case, spaces around the numbers allowed). `nil` for anything else (several ranges, a
    /// suffix range, a malformed one), which a server answers with the whole body.
    package static func byteRange(_ value: String) -> (first: UInt64, last: UInt64?)? {
        let value = value.trimmingCharacters(in: .whitespaces)
        guard value.lowercased().hasPrefix("bytes="), !value.contains(",") else { return nil }
        let spec = value.dropFirst(6).split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard spec.count == 2, let first = UInt64(spec[0].trimmingCharacters(in: .whitespaces)) else { return nil }
        let end = spec[1].trimmingCharacters(in: .whitespaces)
        if end.isEmpty { return (first, nil) }
        guard let last = UInt64(end), last >= first else { return nil }
        return (first, last)
    }

    /// `name=value&…` (a query string or an `application/x-www-form-urlencoded` body) as pairs, in
    /// order: `+` is a space, `%XX` a byte. `nil` when a field is not valid percent-encoding.
    package static func formPairs(_ text: Substring) -> [(String, String)]? {
        var pairs: [(String, String)] = []
        for field in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = field.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = formDecoded(parts[0]), let value = parts.count > 1 ? formDecoded(parts[1]) : "" else { return nil }
            pairs.append((name, value))
        }
        return pairs
    }

    /// One form-encoded field: `+` is a space, `%XX` a byte; `nil` when not valid percent-encoding.
    package static func formDecoded(_ field: Substring) -> String? {
        field.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}
