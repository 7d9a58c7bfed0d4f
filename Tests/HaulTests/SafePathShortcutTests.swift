import Foundation
@testable import Haul
import Testing

/// ``SafePath/isPlainSafe(bytes:)`` settles most names in one pass over their bytes, names beyond ASCII
/// included: it may send a safe name to the full check, never pass one the full check refuses.
@Suite("SafePath: the one-pass check passes only what the full check passes")
struct SafePathShortcutTests {
    @Test("Random names of pieces the full check looks for: controls, bidirectional marks, devices, dots, drives")
    func neverPassesWhatTheFullCheckRefuses() {
        let pool = [
            "a", "Z", "é", "東", "ı", "ſ", "ß", "\u{B9}", "\u{B2}", " ", ".", "..", "/", "\\", ":", "$", "CON", "con", "COM", "LPT", "nul", "AUX", "PRN",
            "CONIN", "conout", "\u{202E}", "\u{202A}", "\u{2029}", "\u{2066}", "\u{2069}", "\u{206A}", "\u{200E}", "\u{200F}", "\u{200D}",
            "\u{61C}", "\u{61B}", "\u{85}", "\u{9F}", "\u{A0}", "\u{80}", "\u{7F}", "\u{1}", "\u{301}", "x.fits",
            // Runs of eight bytes and more, which the check passes a word at a time.
            "abcdefgh", "jw01000000000001_01101", "ABCDEFGHIJKLMNOP", "_nircam_", "~!@#$%^&*()-+=", "x\u{7F}abcdefghijk",
        ]
        var state: UInt64 = 3
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33) % n
        }
        var passed = 0
        for _ in 0..<100_000 {
            let name = (0..<(1 + next(7))).map { _ in pool[next(pool.count)] }.joined()
            if SafePath.isPlainSafe(name) {
                passed += 1
                #expect(SafePath.checkedProblem(in: name, what: "name") == nil, "\(name.unicodeScalars.map { String($0.value, radix: 16) })")
            }
        }
        #expect(passed > 1_000)
    }

    @Test("Names beyond ASCII that are safe are settled in one pass; refused ones are not passed", arguments: [
        ("C\u{E9}line_jw01000000000001_01101_00000_nircam_uncal.fits", true), ("jw01000-o000000_t000_nircam_f090w_C\u{E9}line", true),
        ("東京大学_観測データ.fits", true), ("C\u{E9}line_obs/x.fits", true),
        ("C\u{E9}line/x.fits", false),
        ("CONıN$.fits", false), ("COM\u{B9}.txt", false), ("évil\u{202E}stif.exe", false), ("a\u{85}b_long_enough.fits", false),
        ("a\u{61C}b_long_enough.fits", false), ("a\u{2067}b_long_enough.fits", false), ("a\u{200F}b_long_enough.fits", false),
        ("é_long_enough.fits.", false), ("é_long_enough/../x.fits", false),
    ])
    func nonASCII(name: String, settled: Bool) {
        #expect(SafePath.isPlainSafe(name) == settled)
        #expect((SafePath.problem(in: name, what: "name") == nil) == (settled || SafePath.checkedProblem(in: name, what: "name") == nil))
    }
}
