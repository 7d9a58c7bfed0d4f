import Foundation

/// The HTTP field readers the loopback archive (`HaulArchive`) and `haul serve` (`HaulServe`) share, so
/// both servers read a `Range` or a query by one rule. Dates are ``HTTPDate``.
package enum HTTPFields {
    /// A `Range` header of one range: `bytes=N-`, `bytes=N-M` with `M ≥ N`, or `bytes=-N` (the last N
    /// bytes: `first` is `nil`, `last` is N); the unit in any case, spaces around the numbers allowed.
    /// `nil` for anything else (several ranges, a malformed one), which a server may answer with the
    /// whole body (RFC 9110 §14.2).
    package static func byteRange(_ value: String) -> (first: UInt64?, last: UInt64?)? {
        let value = value.trimmingCharacters(in: .whitespaces)
        guard value.lowercased().hasPrefix("bytes="), !value.contains(",") else { return nil }
        let spec = value.dropFirst(6).split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard spec.count == 2 else { return nil }
        let start = spec[0].trimmingCharacters(in: .whitespaces), end = spec[1].trimmingCharacters(in: .whitespaces)
        if start.isEmpty {
            guard let count = UInt64(end) else { return nil }
            return (nil, count)
        }
        guard let first = UInt64(start) else { return nil }
        if end.isEmpty { return (first, nil) }
        guard let last = UInt64(end), last >= first else { return nil }
        return (first, last)
    }

    /// A range's first and last bytes in a body of `length` bytes (its end cut to the body's); `nil`
    /// when none of it is in the body (416).
    package static func resolve(_ range: (first: UInt64?, last: UInt64?), length: UInt64) -> (first: UInt64, last: UInt64)? {
        guard let first = range.first else {
            // A suffix: the last N bytes, all of them when N is more.
            guard let count = range.last, count > 0, length > 0 else { return nil }
            return (length - min(count, length), length - 1)
        }
        guard first < length else { return nil }
        return (first, min(range.last ?? (length - 1), length - 1))
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
