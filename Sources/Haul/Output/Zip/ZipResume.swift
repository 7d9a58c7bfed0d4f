#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads an archive left by an earlier run of the same command and finds the entries worth keeping.
///
/// Local headers are read from the start. Each entry must be whole: a header Haul could have written
/// (sizes and CRC in it, no data descriptor), a name the caller accepts, and data whose length and
/// CRC-32 check (deflated data is inflated to check it). The scan stops at the first entry that is not
/// (the one a crash cut short, the previous run's manifests, or anything else), and the archive is to
/// be truncated there; everything before it is kept without being fetched again.
enum ZipResume {
    struct Result {
        var kept: [(key: Int, entry: ZipEntry)] = []
        /// Where each kept entry lies, its local header and data, by key.
        var spans: [Int: ArchiveOutput.Hole] = [:]
        /// Where the scan stopped: the first entry not kept (the earlier run's manifests, when it finished).
        var stop: UInt64 = 0
        /// Regions whose entries were still arriving, between kept entries: removed when the run finishes.
        var holes: [ArchiveOutput.Hole] = []
        /// Where the kept entries end: the archive goes on from here.
        var end: UInt64 = 0
    }

    /// - Parameters:
    ///   - accept: Given a checked entry, its catalog key when it is to be kept, or `nil` to stop.
    static func scan(fd: Int32, length: UInt64, accept: (ZipEntry) -> Int?) -> Result {
        var result = Result()
        var offset: UInt64 = 0
        while offset + UInt64(ZipFormat.localHeaderSize) <= length {
            // Subtracted, not added: a ZIP64 extra field may state any 64-bit size, and the sum would trap.
            guard let (entry, dataOffset) = readHeader(fd: fd, at: offset),
                  dataOffset <= length, entry.compressedSize <= length - dataOffset else { break }
            if entry.region == 0 {
                // A region whose bytes were still arriving: skipped, the entries after it kept.
                result.holes.append(ArchiveOutput.Hole(offset: offset, length: dataOffset + entry.compressedSize - offset))
                offset = dataOffset + entry.compressedSize
                result.end = offset
                continue
            }
            guard check(fd: fd, entry: entry, at: dataOffset),
                  let key = accept(entry)
            else { break }
            result.kept.append((key, entry))
            result.spans[key] = ArchiveOutput.Hole(offset: offset, length: dataOffset + entry.compressedSize - offset)
            offset = dataOffset + entry.compressedSize
            result.end = offset
        }
        result.stop = offset
        // Regions at the very end are simply cut off.
        while let last = result.holes.last, last.offset + last.length == result.end {
            result.end = last.offset
            result.holes.removeLast()
        }
        return result
    }

    /// The bytes of the entry named `name` among the (at most `within`) entries from `offset` on, when
    /// it is whole and checks: an earlier run's manifest, which follows its files.
    static func entryData(named name: String, fd: Int32, from offset: UInt64, length: UInt64, within: Int = 4, limit: UInt64 = 256 << 20) -> [UInt8]? {
        var offset = offset
        for _ in 0..<within {
            guard offset + UInt64(ZipFormat.localHeaderSize) <= length,
                  let (entry, dataOffset) = readHeader(fd: fd, at: offset),
                  dataOffset <= length, entry.compressedSize <= length - dataOffset else { return nil }
            guard entry.name == name else {
                offset = dataOffset + entry.compressedSize
                continue
            }
            guard entry.compressedSize <= limit, entry.uncompressedSize <= limit,
                  let data = read(fd: fd, at: dataOffset, count: Int(entry.compressedSize)) else { return nil }
            if entry.method == .stored {
                return data.withUnsafeBytes { CRC32.of($0) } == entry.crc32 ? data : nil
            }
            let inflater = RawInflater()
            var out: [UInt8] = []
            out.reserveCapacity(Int(entry.uncompressedSize))
            let fed = data.withUnsafeBytes { inflater.feed($0, made: { out.append(contentsOf: $0) }) }
            guard fed == data.count, !inflater.failed, inflater.ended, out.count == Int(entry.uncompressedSize),
                  inflater.crc == entry.crc32 else { return nil }
            return out
        }
        return nil
    }

    /// Parses the local header at `offset`. - Returns: The entry and where its data starts.
    static func readHeader(fd: Int32, at offset: UInt64) -> (ZipEntry, UInt64)? {
        guard let fixed = read(fd: fd, at: offset, count: ZipFormat.localHeaderSize) else { return nil }
        var r = ByteReader(fixed)
        guard r.u32() == ZipFormat.localSignature else { return nil }
        _ = r.u16()  // version needed
        let flags = r.u16()
        let methodValue = r.u16()
        let time = r.u16()
        let date = r.u16()
        let crc = r.u32()
        var compressed = UInt64(r.u32())
        var uncompressed = UInt64(r.u32())
        let nameLength = Int(r.u16())
        let extraLength = Int(r.u16())
        guard flags & ZipFormat.dataDescriptorFlag == 0, flags & 1 == 0,  // no descriptor, not encrypted
              let method = ZipEntry.Method(rawValue: methodValue),
              let variable = read(fd: fd, at: offset + UInt64(ZipFormat.localHeaderSize), count: nameLength + extraLength),
              // Haul writes names as UTF-8. Decoding with repair would turn other bytes into U+FFFD, which could
              // then match a plan's name and be listed in the central directory under bytes the header lacks.
              let name = String(validating: variable[0..<nameLength], as: UTF8.self)
        else { return nil }
        var modified = DOSTime.decode(time: time, date: date)
        var extra = ByteReader(Array(variable[nameLength...]))
        var region: UInt8?
        while extra.remaining >= 4 {
            let id = extra.u16()
            let size = Int(extra.u16())
            var field = ByteReader(extra.take(size))
            if id == ZipFormat.regionExtraID, size == 1 {
                region = field.u8()
            } else if id == ZipFormat.zip64ExtraID {
                if uncompressed == ZipFormat.maxClassic { uncompressed = field.u64() }
                if compressed == ZipFormat.maxClassic { compressed = field.u64() }
            } else if id == ZipFormat.timestampExtraID, size >= 5, field.u8() & 1 != 0 {
                modified = Int64(Int32(bitPattern: field.u32()))
            }
        }
        if method == .stored && compressed != uncompressed { return nil }
        var entry = ZipEntry(
            name: name, method: method, crc32: crc, compressedSize: compressed, uncompressedSize: uncompressed,
            modified: modified, offset: offset, extraFlags: flags & ~ZipFormat.utf8Flag
        )
        entry.region = region
        return (entry, offset + UInt64(ZipFormat.localHeaderSize + nameLength + extraLength))
    }

    /// Whether the entry's data is all there with its stated length and CRC-32.
    private static func check(fd: Int32, entry: ZipEntry, at dataOffset: UInt64) -> Bool {
        let size = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        let inflater = entry.method == .deflated ? RawInflater() : nil
        var crc: UInt32 = 0
        var done: UInt64 = 0
        while done < entry.compressedSize {
            let want = Int(min(UInt64(size), entry.compressedSize - done))
            let (n, _) = FileIO.readAll(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: Int64(dataOffset + done))
            guard n == want else { return false }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            if let inflater {
                guard inflater.feed(chunk) == n, !inflater.failed else { return false }
            } else {
                crc = CRC32.of(chunk, continuing: crc)
            }
            done += UInt64(n)
        }
        if let inflater {
            return inflater.ended && inflater.produced == entry.uncompressedSize && inflater.crc == entry.crc32
        }
        return crc == entry.crc32
    }

    private static func read(fd: Int32, at offset: UInt64, count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        let (n, _) = bytes.withUnsafeMutableBytes { FileIO.readAll(fd, into: $0, at: Int64(offset)) }
        return n == count ? bytes : nil
    }
}
