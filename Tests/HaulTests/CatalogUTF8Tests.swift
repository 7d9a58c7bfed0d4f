import Foundation
@testable import Haul
import Testing

/// The JSON reader checks every string's UTF-8 itself (``JSONReader/isValidUTF8(_:)``), a byte at a
/// time: it must accept and refuse exactly what the standard library's parser does.
@Suite("Catalogs: UTF-8 checked as the standard library checks it")
struct CatalogUTF8Tests {
    @Test("UTF-8 is checked as the standard library's parser checks it: every sequence of one to three bytes, lead bytes of four, random text")
    func utf8Validation() {
        func same(_ bytes: [UInt8]) -> Bool {
            bytes.withUnsafeBufferPointer { JSONReader.isValidUTF8($0) == JSONReader.isValidUTF8ByScalars($0) }
        }
        var failures = 0
        for a in 0...255 {
            if !same([UInt8(a)]) { failures += 1 }
            for b in 0...255 where !same([UInt8(a), UInt8(b)]) { failures += 1 }
        }
        // Three bytes from a lead byte and every second byte, with third bytes at the edges of the ranges.
        let edges: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFF]
        for a in 0xC0...0xFF {
            for b in 0...255 {
                for c in edges {
                    if !same([UInt8(a), UInt8(b), c]) { failures += 1 }
                    guard a >= 0xF0 else { continue }
                    for d in edges where !same([UInt8(a), UInt8(b), c, d]) { failures += 1 }
                }
            }
        }
        // Longer text: ASCII runs (checked eight bytes at a time) with sequences, broken or not, anywhere.
        var generator = SystemRandomNumberGenerator()
        let pieces: [[UInt8]] = [Array("plain ascii text".utf8), Array("é".utf8), Array("東".utf8), Array("😀".utf8), [0x80], [0xC3], [0xE6, 0x9D],
                                 [0xF0, 0x9F, 0x98], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF4, 0x90, 0x80, 0x80], [0xFF]]
        for _ in 0..<20_000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...8, using: &generator) { bytes += pieces[Int.random(in: 0..<pieces.count, using: &generator)] }
            if !same(bytes) { failures += 1 }
        }
        #expect(failures == 0)
        #expect(Array("Ωmega_東京_😀_é, and more than eight bytes".utf8).withUnsafeBufferPointer { JSONReader.isValidUTF8($0) })
    }

}
