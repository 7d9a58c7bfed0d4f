import Foundation
/// The bytes the loopback archive serves for a URI: deterministic, any size, nothing on disk.
///
/// A product starts with a 2,880-byte FITS primary header naming it, followed by big-endian 16-bit
/// "pixels": sky background with Gaussian noise, which deflates to about 0.78 of its size, like
/// real detector images. The pixels come from a pool of pre-generated 64 KiB blocks; which block
/// comes where depends on a hash of the URI, so different products have different bytes.
///
/// The other kinds span what an archive serves, from incompressible to all zeros (none but `.fits` and
/// `.floats` has a header):
/// - `.random`: uniformly random bytes, which do not compress at all, like products that are compressed
///   already (`.fits.fz`, `.gz`, `.jpg`);
/// - `.floats`: a FITS header, then big-endian 32-bit floats with Gaussian noise (about 0.85);
/// - `.text`: repeating lines of text with counters (under 0.1);
/// - `.ramp`: big-endian 16-bit ramps, a quarter of each block zero padding: the shape of data-quality
///   arrays and masks (under 0.01);
/// - `.zeros`: nothing but zero bytes (about 0.001);
/// - `.mixed`: the others in turn, one 64 KiB block each, so compressibility changes within one file.
public struct ArchiveContent: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case fits
        case random
        case floats
        case text
        case ramp
        case zeros
        case mixed
    }

    public let uri: String
    public let size: Int64
    public let kind: Kind
    public let version: Int
    let seed: UInt64
    let header: [UInt8]

    public static let blockSize = 65_536
    static let headerSize = 2_880

    /// - Parameter version: Another version of the same product (reprocessed under the same name): other
    ///   pixels, the same header.
    public init(uri: String, size: Int64, kind: Kind = .fits, version: Int = 0) {
        self.uri = uri
        self.size = max(0, size)
        self.kind = kind
        self.version = version
        self.seed = Self.hash(uri) &+ UInt64(truncatingIfNeeded: version) &* 0x9E37_79B9_7F4A_7C15
        self.header = kind == .fits || kind == .floats ? Self.fitsHeader(uri: uri, size: max(0, size), bitpix: kind == .floats ? -32 : 16) : []
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
            let block = self.block(blockNumber)
            block.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[within..<within + n])) }
            position += Int64(n)
        }
    }

    // MARK: Generation

    /// The pool block that is block `number` of this product.
    private func block(_ number: Int64) -> [UInt8] {
        var kind = self.kind
        if kind == .mixed {
            let kinds: [Kind] = [.zeros, .ramp, .text, .floats, .random, .fits]
            kind = kinds[Int(UInt64(number) % UInt64(kinds.count))]
        }
        let pool: [[UInt8]]
        switch kind {
        case .fits: pool = Self.pool
        case .random: pool = Self.randomPool
        case .floats: pool = Self.floatPool
        case .text: pool = Self.textPool
        case .ramp: pool = Self.rampPool
        case .zeros, .mixed: return Self.zeroBlock
        }
        return pool[Int((seed &+ UInt64(number) &* 0x9E37_79B9) % UInt64(pool.count))]
    }

    static let zeroBlock = [UInt8](repeating: 0, count: blockSize)

    /// 8 blocks of big-endian 16-bit ramps (0, 1, 2… from a different start each), the last quarter zeros.
    static let rampPool: [[UInt8]] = (0..<8).map { k in
        var block = [UInt8](repeating: 0, count: blockSize)
        for i in 0..<(blockSize * 3 / 8) {
            let value = UInt16((k * 4_096 + i) % 32_768)
            block[2 * i] = UInt8(value >> 8)
            block[2 * i + 1] = UInt8(value & 0xFF)
        }
        return block
    }

    /// 8 blocks of text lines, as a log or an ASCII table: the same words, different counters.
    static let textPool: [[UInt8]] = (0..<8).map { k in
        var text: [UInt8] = []
        var line = 0
        while text.count < blockSize {
            text += Array("row \(k * 10_000 + line) exposure=jw02736001001_02101_\(String(line % 100).leftPadding(5)) filter=F200W flux=\(line % 977).5 status=OK\n".utf8)
            line += 1
        }
        return Array(text.prefix(blockSize))
    }

    /// 16 blocks of big-endian 32-bit floats, Gaussian noise around 1.0: calibrated images.
    static let floatPool: [[UInt8]] = {
        var random = SplitMix64(seed: 0x464C_4F41)
        return (0..<16).map { _ in
            var block = [UInt8](repeating: 0, count: blockSize)
            for i in 0..<(blockSize / 4) {
                let u1 = max(Double(random.next() >> 11) / Double(1 << 53), 1e-12)
                let u2 = Double(random.next() >> 11) / Double(1 << 53)
                let g = (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
                let bits = Float(1.0 + 0.05 * g).bitPattern.bigEndian
                withUnsafeBytes(of: bits) { raw in for j in 0..<4 { block[4 * i + j] = raw[j] } }
            }
            return block
        }
    }()

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

    static func fitsHeader(uri: String, size: Int64, bitpix: Int = 16) -> [UInt8] {
        let name = uri.split(separator: "/").last.map(String.init) ?? uri
        let pixels = max(0, (size - Int64(headerSize)) / Int64(abs(bitpix) / 8))
        func card(_ keyword: String, _ value: String, _ comment: String = "") -> String {
            var line = keyword.padding(8) + "= " + value.leftPadding(20)
            if !comment.isEmpty { line += " / " + comment }
            return line.padding(80)
        }
        let safeName = String(name.unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 && $0 != "'" }.map(Character.init).prefix(60))
        var cards = [
            card("SIMPLE", "T", "conforms to FITS standard"),
            card("BITPIX", String(bitpix), bitpix == 16 ? "16-bit signed integers" : "IEEE single precision"),
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
