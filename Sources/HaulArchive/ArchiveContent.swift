import Foundation
/// The bytes the loopback archive serves for a URI: deterministic, any size, nothing on disk.
///
/// A product starts with a 2,880-byte FITS primary header naming it, followed by big-endian 16-bit
/// "pixels": sky background with Gaussian noise, which deflates to about 0.78 of its size, like
/// real detector images. The pixels come from a pool of pre-generated 64 KiB blocks; which block
/// comes where depends on a hash of the URI, so different products have different bytes.
///
/// `.random` content is uniformly random bytes with no header, which does not compress at all, like
/// products that are compressed already (`.fits.fz`, `.gz`, `.jpg`).
public struct ArchiveContent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case fits
        case random
    }

    public let uri: String
    public let size: Int64
    public let kind: Kind
    let seed: UInt64
    let header: [UInt8]

    public static let blockSize = 65_536
    static let headerSize = 2_880

    public init(uri: String, size: Int64, kind: Kind = .fits) {
        self.uri = uri
        self.size = max(0, size)
        self.kind = kind
        self.seed = Self.hash(uri)
        self.header = kind == .fits ? Self.fitsHeader(uri: uri, size: max(0, size)) : []
    }

    /// Bytes `range` of the product (clamped to its size).
    public func bytes(_ range: Range<Int64>) -> [UInt8] {
        let lower = max(0, min(range.lowerBound, size))
        let upper = max(lower, min(range.upperBound, size))
        var out = [UInt8]()
        out.reserveCapacity(Int(upper - lower))
        forEachSlice(lower..<upper) { out.append(contentsOf: $0) }
        return out
    }

    /// The whole product.
    public var allBytes: [UInt8] { bytes(0..<size) }

    /// Calls `body` with consecutive slices that together are bytes `range`, without copying the pool.
    public func forEachSlice(_ range: Range<Int64>, _ body: (UnsafeRawBufferPointer) -> Void) {
        var position = range.lowerBound
        while position < range.upperBound {
            if position < Int64(header.count) {
                let end = min(range.upperBound, Int64(header.count))
                header[Int(position)..<Int(end)].withUnsafeBytes(body)
                position = end
                continue
            }
            let blockNumber = position / Int64(Self.blockSize)
            let within = Int(position % Int64(Self.blockSize))
            let n = Int(min(Int64(Self.blockSize - within), range.upperBound - position))
            let pool = kind == .fits ? Self.pool : Self.randomPool
            let block = pool[Int((seed &+ UInt64(blockNumber) &* 0x9E37_79B9) % UInt64(pool.count))]
            block.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[within..<within + n])) }
            position += Int64(n)
        }
    }

    // MARK: Generation

    /// 32 blocks of noisy 16-bit pixels, made once per process from a fixed seed.
    static let pool: [[UInt8]] = {
        var random = SplitMix64(seed: 0x4841_554C)
        return (0..<32).map { _ in
            var block = [UInt8](repeating: 0, count: blockSize)
            var i = 0
            while i < blockSize {
                // Box–Muller: two Gaussian samples per pair of uniforms.
                let u1 = max(Double(random.next() >> 11) / Double(1 << 53), 1e-12)
                let u2 = Double(random.next() >> 11) / Double(1 << 53)
                let r = (-2 * log(u1)).squareRoot() * 300
                for g in [r * cos(2 * .pi * u2), r * sin(2 * .pi * u2)] where i < blockSize {
                    let pixel = UInt16(bitPattern: Int16(clamping: Int(12_000 + g)))
                    block[i] = UInt8(pixel >> 8)
                    block[i + 1] = UInt8(pixel & 0xFF)
                    i += 2
                }
            }
            return block
        }
    }()

    /// 32 blocks of uniformly random bytes.
    static let randomPool: [[UInt8]] = {
        var random = SplitMix64(seed: 0x5241_4E44)
        return (0..<32).map { _ in
            var block = [UInt8](repeating: 0, count: blockSize)
            block.withUnsafeMutableBytes { raw in
                for i in 0..<(blockSize / 8) { raw.storeBytes(of: random.next(), toByteOffset: i * 8, as: UInt64.self) }
            }
            return block
        }
    }()

    static func fitsHeader(uri: String, size: Int64) -> [UInt8] {
        let name = uri.split(separator: "/").last.map(String.init) ?? uri
        let pixels = max(0, (size - Int64(headerSize)) / 2)
        func card(_ keyword: String, _ value: String, _ comment: String = "") -> String {
            var line = keyword.padding(8) + "= " + value.leftPadding(20)
            if !comment.isEmpty { line += " / " + comment }
            return line.padding(80)
        }
        let safeName = String(name.unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 && $0 != "'" }.map(Character.init).prefix(60))
        var cards = [
            card("SIMPLE", "T", "conforms to FITS standard"),
            card("BITPIX", "16", "16-bit signed integers"),
            card("NAXIS", "1"),
            card("NAXIS1", String(pixels)),
            card("ORIGIN", "'Haul loopback archive'"),
            card("FILENAME", "'\(safeName)'"),
            card("BUNIT", "'DN'"),
        ]
        cards.append("END".padding(80))
        var text = Array(cards.joined().utf8)
        text += [UInt8](repeating: UInt8(ascii: " "), count: headerSize - text.count)
        return text
    }

    /// FNV-1a, 64 bits.
    static func hash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in s.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return h
    }
}

/// A small, fast, deterministic generator (Steele, Lea and Flood's SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? String(prefix(width)) : self + String(repeating: " ", count: width - count)
    }
    func leftPadding(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
