#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The records of a ZIP archive (PKWARE APPNOTE 6.3.10), as Haul writes them.
///
/// Every entry is written whole, once its bytes arrived and were checked, so its local header already
/// holds the CRC-32 and both sizes: no data descriptors are needed, even on a pipe. ZIP64 fields appear
/// exactly where a size, an offset or the entry count does not fit the classic fields, in the local
/// header too (macOS's Archive Utility reads sizes from there), with version needed 4.5.
enum ZipFormat {
    static let localSignature: UInt32 = 0x0403_4B50
    static let centralSignature: UInt32 = 0x0201_4B50
    static let endSignature: UInt32 = 0x0605_4B50
    static let zip64EndSignature: UInt32 = 0x0606_4B50
    static let zip64LocatorSignature: UInt32 = 0x0706_4B50

    static let zip64ExtraID: UInt16 = 0x0001
    static let timestampExtraID: UInt16 = 0x5455
    /// Haul's own extra field ("HL"), one byte, in the local header of an entry written into a region
    /// reserved for it: 0 while its bytes are arriving, 1 once whole. A run after a crash skips a region
    /// still marked 0 and keeps the entries after it. Readers ignore extra fields they do not know
    /// (APPNOTE 4.5.1: IDs above 31 are free for third parties).
    static let regionExtraID: UInt16 = 0x4C48

    /// Bit 11: names are UTF-8.
    static let utf8Flag: UInt16 = 1 << 11
    /// Bit 3: sizes and CRC follow the data. Haul never sets it; an archive with it is not resumable.
    static let dataDescriptorFlag: UInt16 = 1 << 3

    /// "Made by" Unix (3), APPNOTE 6.3, so readers honour the Unix mode in the external attributes.
    static let versionMadeBy: UInt16 = 3 << 8 | 63
    /// A regular file, rw-r--r--.
    static let externalAttributes: UInt32 = UInt32(0o100644) << 16

    static let localHeaderSize = 30
    static let centralHeaderSize = 46
    static let maxClassic: UInt64 = 0xFFFF_FFFF
}
