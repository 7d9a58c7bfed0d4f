/// Checks that a name from a catalog can only ever land inside the output's root.
///
/// Rejected: empty names, absolute paths (`/x`, `\x`, `C:…`), `.` or `..` components (with `/` or `\`
/// as separator, since a bundle may be unpacked on Windows), NUL and other control characters, and
/// components longer than a file system allows. Inner `/` separate folders and are kept.
public enum SafePath {
    /// Why a name is unsafe, or `nil` when it is safe.
    public static func problem(in name: String, what: String) -> String? {
        if name.isEmpty { return "\(what) is empty" }
        if isPlainSafe(name) { return nil }
        if let c = name.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F || (0x80...0x9F).contains($0.value) }) {
            return "\(what) contains the control character U+\(hex4(c.value))"
        }
        // Separators are the bytes `/` and `\`, as a file system splits a path, never Swift's characters:
        // `"/\u{301}"` is one Character, so `hasPrefix("/")` or `split(separator: "/")` would let
        // `/\u{301}etc` and `../\u{301}x` through as one harmless-looking component.
        let bytes = Array(name.utf8)
        if bytes[0] == UInt8(ascii: "/") || bytes[0] == UInt8(ascii: "\\") { return "\(what) is an absolute path" }
        let scalars = Array(name.unicodeScalars)
        if scalars.count >= 2, scalars[1] == ":", scalars[0].properties.isASCIIHexDigit || ("A"..."Z").contains(scalars[0]) || ("a"..."z").contains(scalars[0]) {
            return "\(what) is an absolute (drive) path"
        }
        let components = bytes.split(omittingEmptySubsequences: false) { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\\") }
        for component in components {
            if component.elementsEqual("..".utf8) { return "\(what) climbs out of its folder (..)" }
            if component.elementsEqual(".".utf8) { return "\(what) has a . component" }
            if component.count > 255 { return "\(what) has a component longer than 255 bytes" }
        }
        if components.last?.isEmpty == true { return "\(what) ends in a separator" }
        if components.contains(where: \.isEmpty) { return "\(what) has an empty component" }
        return nil
    }

    /// A one-pass check that settles the common case: printable ASCII, not absolute, no drive letter,
    /// no empty, `.` or `..` component, no component over 255 bytes. Anything else takes the full check.
    static func isPlainSafe(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { bytes in
            guard let first = bytes.first, first != UInt8(ascii: "/"), first != UInt8(ascii: "\\") else { return false }
            if bytes.count >= 2, bytes[1] == UInt8(ascii: ":") { return false }
            var componentStart = 0
            var i = 0
            while i <= bytes.count {
                let b = i < bytes.count ? bytes[i] : UInt8(ascii: "/")
                if b == UInt8(ascii: "/") || b == UInt8(ascii: "\\") {
                    let length = i - componentStart
                    if length == 0 || length > 255 { return false }
                    if bytes[componentStart] == UInt8(ascii: "."), length <= 2, length == 1 || bytes[componentStart + 1] == UInt8(ascii: ".") { return false }
                    componentStart = i + 1
                } else if b < 0x20 || b >= 0x7F {
                    return false
                }
                i += 1
            }
            return true
        }
    }

    private static func hex4(_ v: UInt32) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }
}
