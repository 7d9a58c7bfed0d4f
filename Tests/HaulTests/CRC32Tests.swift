import CZlib
@testable import Haul
import Testing

/// The CRC-32 of every entry is libdeflate's on Linux: it must be zlib's function exactly, at every
/// length and alignment its folding loops and tails distinguish, continued, combined and on big buffers.
@Suite struct CRC32Tests {
    /// Bytes that are neither periodic nor zero: a 64-bit LCG's states, eight bytes at a time.
    static func bytes(_ count: Int, seed: UInt64 = 0x4841_554C) -> [UInt8] {
        var state = seed
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            var offset = 0
            while offset < count {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let word = state ^ (state >> 29)
                withUnsafeBytes(of: word) { w in
                    let n = min(8, count - offset)
                    UnsafeMutableRawBufferPointer(rebasing: raw[offset..<offset + n]).copyMemory(from: UnsafeRawBufferPointer(rebasing: w[0..<n]))
                }
                offset += 8
            }
            initialized = count
        }
    }

    /// zlib's `crc32_z`, called directly: the reference.
    static func zlib(_ bytes: UnsafeRawBufferPointer, _ crc: UInt32 = 0) -> UInt32 {
        UInt32(czlib_crc32(uLong(crc), bytes.baseAddress, bytes.count))
    }

    @Test func linuxUsesLibdeflate() {
        #if os(Linux)
        #expect(CRC32.implementation == "libdeflate")
        #else
        #expect(CRC32.implementation == "zlib")
        #endif
    }

    @Test func knownValues() {
        #expect(Array("123456789".utf8).withUnsafeBytes { CRC32.of($0) } == 0xCBF4_3926)
        #expect(Array("The quick brown fox jumps over the lazy dog".utf8).withUnsafeBytes { CRC32.of($0) } == 0x414F_A339)
        #expect([UInt8](repeating: 0, count: 32).withUnsafeBytes { CRC32.of($0) } == 0x190A_55AD)
        #expect([UInt8]().withUnsafeBytes { CRC32.of($0) } == 0)
    }

    /// Every length from 0 to 4,096 at every offset 0–15 from a 64-byte boundary, from 0 and continuing.
    @Test func everyLengthAndAlignmentMatchesZlib() {
        let data = Self.bytes(4096 + 64 + 16)
        var mismatches: [String] = []
        data.withUnsafeBytes { all in
            let aligned = (64 - Int(bitPattern: all.baseAddress!) % 64) % 64
            for misalignment in 0..<16 {
                for length in 0...4096 {
                    let start = aligned + misalignment
                    let slice = UnsafeRawBufferPointer(rebasing: all[start..<start + length])
                    if CRC32.of(slice) != Self.zlib(slice) { mismatches.append("\(length) at +\(misalignment)") }
                    if CRC32.of(slice, continuing: 0x1234_5678) != Self.zlib(slice, 0x1234_5678) {
                        mismatches.append("\(length) at +\(misalignment), continuing")
                    }
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
    }

    /// An empty buffer (whose address may be nil) continues a CRC unchanged, rather than resetting it.
    @Test func emptyContinuesUnchanged() {
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        #expect(CRC32.of(empty, continuing: 0xDEAD_BEEF) == 0xDEAD_BEEF)
        #expect(CRC32.zlib(empty, continuing: 0xDEAD_BEEF) == 0xDEAD_BEEF)
        let data = Self.bytes(1000)
        data.withUnsafeBytes { all in
            let head = CRC32.of(UnsafeRawBufferPointer(rebasing: all[0..<1000]))
            #expect(CRC32.of(UnsafeRawBufferPointer(rebasing: all[1000...]), continuing: head) == head)
        }
    }

    /// 64 MiB + 7 bytes at an odd address, whole, in uneven pieces continued, and in pieces combined.
    @Test func bigBufferWholeContinuedAndCombined() {
        let count = (64 << 20) + 8
        let data = Self.bytes(count, seed: 7)
        data.withUnsafeBytes { all in
            let buffer = UnsafeRawBufferPointer(rebasing: all[1...])
            let reference = Self.zlib(buffer)
            #expect(CRC32.of(buffer) == reference)
            #expect(CRC32.zlib(buffer) == reference)

            var continued: UInt32 = 0
            var combined: UInt32 = 0
            var offset = 0
            var piece = 1
            while offset < buffer.count {
                let end = min(buffer.count, offset + piece)
                let part = UnsafeRawBufferPointer(rebasing: buffer[offset..<end])
                continued = CRC32.of(part, continuing: continued)
                let alone = CRC32.of(part)
                combined = offset == 0 ? alone : CRC32.combine(combined, alone, lengthOfB: Int64(part.count))
                offset = end
                piece = piece * 3 + 17  // 1, 20, 77, … up to many MiB: every tail and folding path
            }
            #expect(continued == reference)
            #expect(combined == reference)
        }
    }
}
