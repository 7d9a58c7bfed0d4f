import Foundation
@testable import Haul
import Testing

/// The collision check lowers every path beyond plain ASCII (``PathKey``) a scalar at a time in bytes
/// (``PathKey/lowercased(_:)``), where it called `String.lowercased()`: the two must give the same
/// scalars for every string, or two paths that clash on a case-insensitive file system would be missed.
@Suite("Path keys: lowered as String.lowercased() lowers")
struct PathKeyTests {
    static func lowered(_ text: String) -> String {
        var text = text
        return text.withUTF8(PathKey.lowercased)
    }

    @Test("Every scalar alone, as lowercased() lowers it")
    func everyScalar() {
        var wrong: [String] = []
        for value in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let text = String(scalar)
            if Array(Self.lowered(text).unicodeScalars) != Array(text.lowercased().unicodeScalars) {
                wrong.append(String(value, radix: 16))
            }
        }
        #expect(wrong.isEmpty, "lowered otherwise: U+\(wrong.prefix(20).joined(separator: ", U+"))")
    }

    @Test("Strings of scalars whose lowering depends on more than themselves, if any would: sigma at the end, dotted I, Kelvin, combining marks")
    func strings() {
        let pool: [String] = [
            "A", "z", "/", "_", ".", "1", " ", "Σ", "σ", "ς", "İ", "I", "\u{307}", "\u{301}", "K", "\u{212A}", "ẞ", "ß", "ǅ", "Ǆ",
            "Ω", "\u{2126}", "東", "京", "É", "e", "Å", "\u{37E}", "\u{1FEF}", "Ł", "ﬃ", "\u{10400}", "\u{1E900}", "Ⅻ", "Ⓐ",
        ]
        var state: UInt64 = 11
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33) % n
        }
        for _ in 0..<50_000 {
            let text = (0..<next(12)).map { _ in pool[next(pool.count)] }.joined()
            #expect(Array(Self.lowered(text).unicodeScalars) == Array(text.lowercased().unicodeScalars), "\(text.unicodeScalars.map { String($0.value, radix: 16) })")
        }
    }

    @Test("Paths that differ only in case beyond ASCII are one key, with one hash")
    func keys() {
        let pairs: [(String?, String, String?, String)] = [
            ("Ωmega", "Céline_X.FITS", "ωMEGA", "céline_x.fits"), (nil, "ÅNGSTRÖM.fits", nil, "ångström.FITS"),
            ("東京", "Ł_a.fits", "東京", "ł_A.fits"), ("d", "\u{212A}elvin_é", "d", "kelvin_É"), (nil, "e\u{301}", nil, "\u{C9}"),
        ]
        for (f1, n1, f2, n2) in pairs {
            let a = PathKey(folder: f1, name: n1)
            let b = PathKey(folder: f2, name: n2)
            #expect(a == b, "\(n1) \(n2)")
            #expect(a.hash == b.hash, "\(n1) \(n2)")
        }
        #expect(PathKey(folder: "Ωmega", name: "a.fits") != PathKey(folder: "Ωmega", name: "b.fits"))
    }

    @Test("The Kelvin sign lowers to ASCII k: a path with it is one key with the plain ASCII path, whichever way it is made")
    func kelvinMeetsASCII() {
        let pairs: [(String?, String, String?, String)] = [
            (nil, "\u{212A}elvin.fits", nil, "KELVIN.fits"), ("d", "\u{212A}.fits", "D", "k.FITS"),
            ("\u{212A}", "x.fits", "k", "X.fits"), (nil, "d/\u{212A}", "d", "K"),
        ]
        for (f1, n1, f2, n2) in pairs {
            let a = PathKey(folder: f1, name: n1), b = PathKey(folder: f2, name: n2)
            #expect(a == b && b == a, "\(n1) \(n2)")
            #expect(a.hash == b.hash, "\(n1) \(n2)")
            // The byte-wise hash, which the catalog readers use without a String, agrees.
            var name = n2
            #expect(name.withUTF8 { PathKey.hash(folder: f2, name: $0) } == a.hash)
            #expect(Set([a, b]).count == 1)
        }
        #expect(PathKey(folder: nil, name: "\u{212A}elvin.fits") != PathKey(folder: nil, name: "kelvin.fit"))
        #expect(PathKey(folder: nil, name: "\u{212A}elvin_\u{E9}") != PathKey(folder: nil, name: "kelvin_e"))
    }
}
