import Foundation

/// Questions about the eight bytes of a word at once.
enum SWAR {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Whether a byte of `word` is `byte` (exact: a zero byte of `word ^ byte…` sets its high bit, and
    /// no other byte's does unless one below it is zero too).
    @inline(__always)
    static func has(_ word: UInt64, _ byte: UInt8) -> Bool {
        let x = word ^ (ones &* UInt64(byte))
        return (x &- ones) & ~x & highs != 0
    }
}
