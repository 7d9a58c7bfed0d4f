/// Binary table values as FITS and VOTable BINARY2 both store them: big-endian, two's complement
/// integers of 1 to 8 bytes, IEEE floats of 4 or 8.
enum BigEndian {
    /// The integer in `bytes` (at most 8), sign-extended unless `signed` is false.
    static func integer(_ bytes: UnsafeBufferPointer<UInt8>, signed: Bool = true) -> Int64 {
        var value: UInt64 = 0
        for b in bytes { value = value << 8 | UInt64(b) }
        guard signed, !bytes.isEmpty else { return Int64(bitPattern: value) }
        let shift = UInt64(64 - 8 * bytes.count)
        return Int64(bitPattern: value << shift) >> Int64(shift)
    }

    /// The float (4 bytes) or double (8 bytes) in `bytes`; `nil` for NaN, the tables' null.
    static func real(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        let bits = UInt64(bitPattern: integer(bytes, signed: false))
        let value = bytes.count == 4 ? Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits))) : Double(bitPattern: bits)
        return value.isNaN ? nil : value
    }
}
