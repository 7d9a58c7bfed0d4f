#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One entry's metadata: what both its local header and its central directory record say.
struct ZipEntry: Sendable, Hashable {
    enum Method: UInt16, Sendable {
        case stored = 0
        case deflated = 8
    }

    /// The UTF-8 name, `ROOT/…`.
    var name: String
    var method: Method
    var crc32: UInt32
    var compressedSize: UInt64
    var uncompressedSize: UInt64
    /// Modification time, Unix seconds.
    var modified: Int64
    /// Where the local header starts.
    var offset: UInt64 = 0
    /// General-purpose flags besides UTF-8 (deflate's speed hint).
    var extraFlags: UInt16 = 0
    /// For an entry written into a reserved region: its ``ZipFormat/regionExtraID`` state (0 arriving,
    /// 1 whole); `nil` for an entry appended whole.
    var region: UInt8?

    var flags: UInt16 { ZipFormat.utf8Flag | extraFlags }

    /// The entry for staged data, at an offset the writer sets.
    init(_ staged: ZipStaged, name: String, modified: Int64, level: Int) {
        self.init(
            name: name, method: staged.method, crc32: staged.crc32, compressedSize: staged.compressedSize,
            uncompressedSize: staged.uncompressedSize, modified: modified,
            extraFlags: staged.method == .deflated ? Self.deflateFlags(level: level) : 0
        )
    }

    init(name: String, method: Method, crc32: UInt32, compressedSize: UInt64, uncompressedSize: UInt64,
         modified: Int64, offset: UInt64 = 0, extraFlags: UInt16 = 0) {
        self.name = name
        self.method = method
        self.crc32 = crc32
        self.compressedSize = compressedSize
        self.uncompressedSize = uncompressedSize
        self.modified = modified
        self.offset = offset
        self.extraFlags = extraFlags
    }

    /// Sizes that need ZIP64 in the local header (which must then carry both).
    var sizesNeedZip64: Bool {
        compressedSize >= ZipFormat.maxClassic || uncompressedSize >= ZipFormat.maxClassic
    }

    var needsZip64: Bool { sizesNeedZip64 || offset >= ZipFormat.maxClassic }

    var versionNeeded: UInt16 { needsZip64 ? 45 : method == .deflated ? 20 : 10 }

    /// The deflate option bits (1–2) Info-ZIP sets for a compression level.
    static func deflateFlags(level: Int) -> UInt16 {
        switch level {
        case 1: 0b110     // super fast
        case 2: 0b100     // fast
        case 8, 9: 0b010  // maximum
        default: 0
        }
    }

    // MARK: Encoding

    /// The local file header, name and extra fields included; the entry's data follows it.
    func localHeader() -> [UInt8] {
        var w = ByteWriter()
        let name = Array(self.name.utf8)
        let zip64 = sizesNeedZip64
        var extra = ByteWriter()
        if zip64 {
            extra.u16(ZipFormat.zip64ExtraID)
            extra.u16(16)
            extra.u64(uncompressedSize)
            extra.u64(compressedSize)
        }
        appendTimestamp(to: &extra)
        if let region {
            extra.u16(ZipFormat.regionExtraID)
            extra.u16(1)
            extra.bytes.append(region)
        }
        w.u32(ZipFormat.localSignature)
        appendCommonFields(to: &w, bigCompressed: zip64, bigUncompressed: zip64, nameLength: name.count, extraLength: extra.bytes.count)
        w.bytes += name
        w.bytes += extra.bytes
        return w.bytes
    }

    /// The central directory record.
    func centralHeader() -> [UInt8] {
        var w = ByteWriter()
        let name = Array(self.name.utf8)
        let bigUncompressed = uncompressedSize >= ZipFormat.maxClassic
        let bigCompressed = compressedSize >= ZipFormat.maxClassic
        let bigOffset = offset >= ZipFormat.maxClassic
        var extra = ByteWriter()
        if bigUncompressed || bigCompressed || bigOffset {
            // Only the fields whose classic value is 0xFFFFFFFF, in this order (APPNOTE 4.5.3).
            extra.u16(ZipFormat.zip64ExtraID)
            extra.u16(UInt16(8 * ((bigUncompressed ? 1 : 0) + (bigCompressed ? 1 : 0) + (bigOffset ? 1 : 0))))
            if bigUncompressed { extra.u64(uncompressedSize) }
            if bigCompressed { extra.u64(compressedSize) }
            if bigOffset { extra.u64(offset) }
        }
        appendTimestamp(to: &extra)
        w.u32(ZipFormat.centralSignature)
        w.u16(ZipFormat.versionMadeBy)
        appendCommonFields(to: &w, bigCompressed: bigCompressed, bigUncompressed: bigUncompressed, nameLength: name.count, extraLength: extra.bytes.count)
        w.u16(0)  // comment
        w.u16(0)  // disk number
        w.u16(0)  // internal attributes
        w.u32(ZipFormat.externalAttributes)
        w.u32(bigOffset ? UInt32.max : UInt32(offset))
        w.bytes += name
        w.bytes += extra.bytes
        return w.bytes
    }

    /// The fields both headers share, from "version needed" to the extra field's length; a size that
    /// is big is written as 0xFFFFFFFF, its value being in the ZIP64 field.
    private func appendCommonFields(to w: inout ByteWriter, bigCompressed: Bool, bigUncompressed: Bool, nameLength: Int, extraLength: Int) {
        let (time, date) = DOSTime.encode(modified)
        w.u16(versionNeeded)
        w.u16(flags)
        w.u16(method.rawValue)
        w.u16(time)
        w.u16(date)
        w.u32(crc32)
        w.u32(bigCompressed ? UInt32.max : UInt32(compressedSize))
        w.u32(bigUncompressed ? UInt32.max : UInt32(uncompressedSize))
        w.u16(UInt16(nameLength))
        w.u16(UInt16(extraLength))
    }

    /// The extended-timestamp field (0x5455) with the modification time, when it fits its signed 32 bits.
    private func appendTimestamp(to extra: inout ByteWriter) {
        guard let seconds = Int32(exactly: modified) else { return }
        extra.u16(ZipFormat.timestampExtraID)
        extra.u16(5)
        extra.bytes.append(1)  // modification time present
        extra.u32(UInt32(bitPattern: seconds))
    }

    /// The end of the archive: ZIP64 end record and locator when needed, then the classic end record.
    ///
    /// - Parameters:
    ///   - count: Entries in the central directory.
    ///   - directoryOffset: Where the central directory starts.
    ///   - directorySize: Its length in bytes.
    static func endRecords(count: UInt64, directoryOffset: UInt64, directorySize: UInt64) -> [UInt8] {
        var w = ByteWriter()
        let bigCount = count >= 0xFFFF
        let bigSize = directorySize >= ZipFormat.maxClassic
        let bigOffset = directoryOffset >= ZipFormat.maxClassic
        if bigCount || bigSize || bigOffset {
            let zip64EndOffset = directoryOffset + directorySize
            w.u32(ZipFormat.zip64EndSignature)
            w.u64(44)  // the record's size after this field
            w.u16(ZipFormat.versionMadeBy)
            w.u16(45)
            w.u32(0)   // this disk
            w.u32(0)   // the disk where the directory starts
            w.u64(count)
            w.u64(count)
            w.u64(directorySize)
            w.u64(directoryOffset)
            w.u32(ZipFormat.zip64LocatorSignature)
            w.u32(0)
            w.u64(zip64EndOffset)
            w.u32(1)   // disks in all
        }
        w.u32(ZipFormat.endSignature)
        w.u16(0)
        w.u16(0)
        w.u16(bigCount ? 0xFFFF : UInt16(count))
        w.u16(bigCount ? 0xFFFF : UInt16(count))
        w.u32(bigSize ? UInt32.max : UInt32(directorySize))
        w.u32(bigOffset ? UInt32.max : UInt32(directoryOffset))
        w.u16(0)  // comment
        return w.bytes
    }
}
