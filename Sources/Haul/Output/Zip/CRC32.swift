import CZlib
#if canImport(CDeflate)
import CDeflate
#endif

/// CRC-32 (ISO-HDLC, the polynomial ZIP and gzip use), over every byte a ZIP entry holds.
///
/// On Linux the checksum of data is libdeflate's, which folds 64 bytes at a time with carry-less
/// multiplication where the processor has it: Debian 12's zlib (1.2.13) has only the table-driven
/// `crc32_z`, which cost about a fifth of the CPU of a stored ZIP. Elsewhere, and for ``combine(_:_:lengthOfB:)``
/// (which libdeflate lacks), zlib's. Both compute the same function: the tests hold them to each other.
enum CRC32 {
    /// Which library computes ``of(_:continuing:)``: "libdeflate" or "zlib".
    #if canImport(CDeflate)
    static let implementation = "libdeflate"
    #else
    static let implementation = "zlib"
    #endif

    /// The CRC-32 of `bytes`, continuing `crc` (the CRC of the bytes before them; 0 to start).
    static func of(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        // An empty buffer may have no address, and both libraries answer a null one with 0, not `crc`.
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
        #if canImport(CDeflate)
        return cdeflate_crc32(crc, base, bytes.count)
        #else
        return UInt32(czlib_crc32(uLong(crc), base, bytes.count))
        #endif
    }

    /// zlib's CRC-32 of `bytes`, continuing `crc`: the reference ``of(_:continuing:)`` is tested against.
    static func zlib(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
        return UInt32(czlib_crc32(uLong(crc), base, bytes.count))
    }

    /// The CRC of A followed by B, from the CRCs of A and B and B's length.
    static func combine(_ a: UInt32, _ b: UInt32, lengthOfB: Int64) -> UInt32 {
        UInt32(czlib_crc32_combine(uLong(a), uLong(b), Int(lengthOfB)))
    }
}
