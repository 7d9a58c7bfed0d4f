/// Checks that a name from a catalog can only ever land inside the output's root, under the name it
/// shows, on any system the folder or bundle is unpacked on.
///
/// Refused (the product's row says `FAILED: unsafe path: …` with the reason; nothing is requested):
/// - empty names, absolute paths (`/x`, `\x`, `C:…`), `.` or `..` components (with `/` or `\` as
///   separator, since a bundle may be unpacked on Windows), empty components, a trailing separator;
/// - NUL and other control characters (C0, DEL, C1);
/// - bidirectional controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069): they make a name
///   display in another order than it has (`evil\u{202E}stif.exe` shows as `evilexe.fits`);
/// - Windows device names as a component, with any extension or case (`CON`, `prn.fits`, `COM1`,
///   `LPT9.txt`, `CONIN$` …): Windows opens the device instead of a file;
/// - a component ending in a dot or a space, which Windows drops, so two names would become one;
/// - a component longer than 255 bytes (what Linux, macOS and Windows file systems allow), and a name
///   longer than ``maxNameBytes`` in all.
///
/// Kept: any other Unicode (non-ASCII names are common), and `<>:"|?*`, which Linux and macOS allow and
/// Windows unpackers (7-Zip, Python's `zipfile`, Info-ZIP) replace. Inner `/` separate folders.
/// Nothing is renamed: a name is written as the catalog has it, or not at all, so the manifest's
/// `File` column is always the real path.
package enum SafePath {
    /// The longest name (a file name, or a dataset folder) in UTF-8 bytes: with the root and the
    /// dataset it stays well inside Linux's 4,096-byte path limit.
    package static let maxNameBytes = 1_024

    /// Why a name is unsafe, or `nil` when it is safe.
    package static func problem(in name: String, what: String) -> String? {
        if name.isEmpty { return "\(what) is empty" }
        if isPlainSafe(name) { return nil }
        return checkedProblem(in: name, what: what)
    }

    /// ``problem(in:what:)`` of a name that is not empty, by the full check, without
    /// ``isPlainSafe(_:)``'s shortcut (which tests hold to it).
    static func checkedProblem(in name: String, what: String) -> String? {
        if let c = name.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F || (0x80...0x9F).contains($0.value) }) {
            return "\(what) contains the control character U+\(hex4(c.value))"
        }
        if let c = name.unicodeScalars.first(where: isBidiControl) {
            return "\(what) contains the bidirectional control character U+\(hex4(c.value)), which shows the name in another order than it has"
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
            if component.count > 255 { return "\(what) has a component of \(component.count) bytes, longer than the 255 a file system allows" }
            let text = String(decoding: component, as: UTF8.self)
            if let device = windowsDevice(text) {
                return "\(what) uses the Windows device name \(device), which cannot be a file on Windows"
            }
            if component.last == UInt8(ascii: ".") || component.last == UInt8(ascii: " ") {
                return "\(what) has a component ending in a dot or a space, which Windows drops"
            }
        }
        if components.last?.isEmpty == true { return "\(what) ends in a separator" }
        if components.contains(where: \.isEmpty) { return "\(what) has an empty component" }
        if name.utf8.count > maxNameBytes { return "\(what) is \(name.utf8.count) bytes long, more than the \(maxNameBytes) a name may have" }
        return nil
    }

    static func isBidiControl(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    /// The Windows device name a component is (its part before the first dot, trailing spaces
    /// ignored, any case), or `nil`.
    static func windowsDevice<S: StringProtocol>(_ component: S) -> String? {
        // Every device name is at most 7 scalars, all ASCII; upper-casing never makes fewer scalars, and
        // no other scalars are canonically equivalent to ASCII letters. So a stem with more than 7
        // scalars that are not spaces (the stem only grows past the first "." scalar, when a mark
        // follows it) names no device: a long name is answered without upper-casing it.
        var kept = 0
        for scalar in component.unicodeScalars {
            if scalar == "." { break }
            if scalar != " " {
                kept += 1
                if kept > 7 { return nil }
            }
        }
        var stem = component.prefix { $0 != "." }
        while stem.last == " " { stem = stem.dropLast() }
        let upper = stem.uppercased()
        switch upper {
        case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$": return upper
        default: break
        }
        let scalars = Array(upper.unicodeScalars)
        if scalars.count == 4, upper.hasPrefix("COM") || upper.hasPrefix("LPT"),
           ("0"..."9").contains(scalars[3]) || ["\u{B9}", "\u{B2}", "\u{B3}"].contains(scalars[3]) {
            return upper
        }
        return nil
    }

    /// A one-pass check that settles the common case: no control character (C0, DEL, C1) or
    /// bidirectional control, not absolute, no drive letter, no empty, `.` or `..` component, no
    /// component over 255 bytes or ending in a dot or space, nothing that could be a Windows device
    /// name, at most ``maxNameBytes``. Anything else takes the full check. Names beyond ASCII are
    /// settled here too, in their bytes: a million of them took the full check's scalar arrays, split
    /// and strings, a third of the plan's time on the unicode shape of Benchmarks/select-shapes.sh.
    static func isPlainSafe(_ name: String) -> Bool {
        var name = name
        return name.withUTF8(isPlainSafe(bytes:))
    }

    /// ``isPlainSafe(_:)`` of a name given as its UTF-8 bytes (valid UTF-8).
    static func isPlainSafe(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = bytes.first, first != UInt8(ascii: "/"), first != UInt8(ascii: "\\") else { return false }
        if bytes.count > maxNameBytes { return false }
        // A drive letter: the full check decides (a second scalar `:` after a first beyond ASCII is none).
        if bytes.count >= 2, bytes[1] == UInt8(ascii: ":") { return false }
        var componentStart = 0
        var stemEnd: Int?
        // The scalars of the component's stem (before its first dot) that are not spaces, as
        // ``windowsDevice(_:)`` counts them, and whether they are all ASCII.
        var stemScalars = 0
        var stemASCII = true
        var i = 0
        while i <= bytes.count {
            // Eight bytes at a time past printable ASCII that is not a separator, dot or space: each is
            // one scalar of the stem, or nothing to count after its dot.
            if i + 8 <= bytes.count {
                let word = UnsafeRawPointer(bytes.baseAddress! + i).loadUnaligned(as: UInt64.self)
                let controls = (word &- SWAR.ones &* 0x20) & ~word & SWAR.highs
                if word & SWAR.highs == 0, controls == 0, !SWAR.has(word, 0x7F), !SWAR.has(word, UInt8(ascii: "/")),
                   !SWAR.has(word, UInt8(ascii: "\\")), !SWAR.has(word, UInt8(ascii: ".")), !SWAR.has(word, UInt8(ascii: " ")) {
                    if stemEnd == nil { stemScalars += 8 }
                    i += 8
                    continue
                }
            }
            let b = i < bytes.count ? bytes[i] : UInt8(ascii: "/")
            if b == UInt8(ascii: "/") || b == UInt8(ascii: "\\") {
                let length = i - componentStart
                if length == 0 || length > 255 { return false }
                if bytes[componentStart] == UInt8(ascii: "."), length <= 2, length == 1 || bytes[componentStart + 1] == UInt8(ascii: ".") { return false }
                let last = bytes[i - 1]
                if last == UInt8(ascii: ".") || last == UInt8(ascii: " ") { return false }
                // CON, PRN, AUX, NUL, COMn, LPTn, CONIN$, CONOUT$ (before any dot, spaces after): an
                // ASCII stem of 3 to 7 such scalars starting with one of these letters, or any stem beyond
                // ASCII of at most 7 (some scalars upper-case to ASCII letters: `ı` to `I`; `¹` ends
                // `COM¹`), takes the full check.
                if stemASCII ? (3...7).contains(stemScalars) && "CPANLcpanl".utf8.contains(bytes[componentStart]) : stemScalars <= 7 {
                    return false
                }
                componentStart = i + 1
                stemEnd = nil
                stemScalars = 0
                stemASCII = true
            } else if b < 0x20 || b == 0x7F {
                return false
            } else if b >= 0x80 {
                // Refused scalars beyond ASCII, by their bytes: C1 controls (U+0080–U+009F: C2 80–9F) and
                // the bidirectional controls (U+061C: D8 9C; U+200E, U+200F, U+202A–U+202E: E2 80 8E, 8F,
                // AA–AE; U+2066–U+2069: E2 81 A6–A9).
                let next = i + 1 < bytes.count ? bytes[i + 1] : 0
                let third = i + 2 < bytes.count ? bytes[i + 2] : 0
                switch b {
                case 0xC2 where next <= 0x9F: return false
                case 0xD8 where next == 0x9C: return false
                case 0xE2 where next == 0x80 && (third == 0x8E || third == 0x8F || (0xAA...0xAE).contains(third)): return false
                case 0xE2 where next == 0x81 && (0xA6...0xA9).contains(third): return false
                default: break
                }
                if stemEnd == nil {
                    stemASCII = false
                    // A scalar's lead byte (not a continuation byte).
                    if b & 0xC0 != 0x80 { stemScalars += 1 }
                }
            } else if stemEnd == nil {
                if b == UInt8(ascii: ".") {
                    stemEnd = i
                } else if b != UInt8(ascii: " ") {
                    stemScalars += 1
                }
            }
            i += 1
        }
        return true
    }

    private static func hex4(_ v: UInt32) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }
}
