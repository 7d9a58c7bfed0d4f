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

    @Test("Each scalar below U+0300 is its own NFC, alone and between letters: the lowered bytes are hashed as they are")
    func belowCombiningMarksIsComposed() {
        for value in UInt32(0x80)..<0x300 {
            let text = "a\(Unicode.Scalar(value)!)b\(Unicode.Scalar(value)!)"
            #expect(Array(text.precomposedStringWithCanonicalMapping.utf8) == Array(text.utf8), "U+\(String(value, radix: 16))")
        }
    }

    @Test("The scalars the hash takes to stay in a string's NFC are starters, each its own NFC")
    func survivors() {
        var wrong: [String] = []
        for value in UInt32(0x300)...0xFFFF {
            guard let scalar = Unicode.Scalar(value), PathKey.survivesComposition(scalar) else { continue }
            let text = String(scalar)
            if scalar.properties.canonicalCombiningClass != .notReordered || text.precomposedStringWithCanonicalMapping != text
                || Array(text.precomposedStringWithCanonicalMapping.unicodeScalars) != [scalar] {
                wrong.append(String(value, radix: 16))
            }
        }
        #expect(wrong.isEmpty, "U+\(wrong.prefix(20).joined(separator: ", U+"))")
    }

    @Test("Paths equal as strings have one hash, by every way of taking it; canonically equivalent spellings included")
    func equalPathsHashAlike() {
        let pairs: [(String, String)] = [
            ("e\u{301}.fits", "\u{E9}.FITS"), ("A\u{30A}ngstr\u{F6}m", "\u{212B}NGSTRÖM"), ("a;b", "a\u{37E}b"), ("x`", "x\u{1FEF}"),
            ("\u{1E69}", "s\u{323}\u{307}"), ("\u{1E69}", "s\u{307}\u{323}"), ("\u{AC00}", "\u{1100}\u{1161}"), ("Ω", "\u{2126}"), ("\u{AC01}", "\u{AC00}\u{11A8}"),
            ("\u{3070}", "\u{306F}\u{3099}"), ("\u{439}", "\u{438}\u{306}"), ("\u{3AC}", "\u{3B1}\u{301}"), ("東\u{E9}", "東e\u{301}"),
        ]
        for (x, y) in pairs {
            #expect(x.lowercased() == y.lowercased())
            let a = PathKey(folder: "d", name: x), b = PathKey(folder: "D", name: y)
            #expect(a == b && a.hash == b.hash, "\(x) \(y)")
            #expect(PathKey.hashOnly(folder: "d", name: x) == a.hash && PathKey.hashOnly(folder: "D", name: y) == a.hash, "\(x) \(y)")
        }
        // Random strings of a pool: any two equal once lowered (Swift's `==`) have one hash.
        let pool = ["a", "A", "e", "E", "\u{301}", "\u{E9}", "\u{C9}", ";", "\u{37E}", "`", "\u{1FEF}", "k", "\u{212A}", "s", "\u{323}", "\u{307}",
                    "\u{1E69}", "\u{1100}", "\u{1161}", "\u{AC00}", "\u{11A8}", "\u{AC01}", "İ", "i", "ß", "東", "/", ".", "\u{3B1}", "\u{3AC}",
                    "\u{306F}", "\u{3099}", "\u{3070}", "\u{438}", "\u{306}", "\u{439}", "\u{F900}", "\u{8C48}"]
        var state: UInt64 = 7
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33) % n
        }
        var byLowered: [String: Int] = [:]
        for _ in 0..<20_000 {
            let name = (0..<(1 + next(4))).map { _ in pool[next(pool.count)] }.joined()
            let key = PathKey(folder: nil, name: name)
            #expect(PathKey.hashOnly(folder: nil, name: name) == key.hash, "\(name.unicodeScalars.map { String($0.value, radix: 16) })")
            if let known = byLowered[name.lowercased()] {
                #expect(known == key.hash, "\(name.unicodeScalars.map { String($0.value, radix: 16) })")
            } else {
                byLowered[name.lowercased()] = key.hash
            }
        }
    }
}
