import CHaulSystem
import CZlib
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One ZIP from others: their entries (local header, name, extra fields and data) copied byte for byte,
/// in the kernel where the file system allows, then new entries, then one central directory.
enum ZipConcatenation {
    struct Copied {
        var entries: Int
        var bytes: Int64
        var inKernel: Bool
    }

    /// An entry of an archive's central directory, and how long its local header is.
    struct Listed {
        var entry: ZipEntry
        var localLength: UInt64
    }

    static func write(
        _ path: String, from sources: [String], skipping: Set<String>, trailing: [(String, ((String) -> Void) -> Void)], synchronize: Bool
    ) throws -> Copied {
        let part = path + ".haul-part"
        let out = open(part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard out >= 0 else { throw HaulError(.output, "cannot create \(part): \(String(cString: strerror(errno)))") }
        var closed = false
        defer { if !closed { close(out); unlink(part) } }
        var position: UInt64 = 0
        var directory: [ZipEntry] = []
        var names = Set<String>()
        var copied: Int64 = 0
        var inKernel = true
        for source in sources {
            let fd = open(source, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw HaulError(.output, "cannot open \(source): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            let listed = try list(fd, name: source)
            // Runs of entries next to each other are copied in one call.
            var run: (from: UInt64, length: UInt64)?
            func flush() throws {
                guard let r = run else { return }
                if !(try copyRange(fd, from: r.from, length: r.length, to: out, at: position, source: source, destination: part)) { inKernel = false }
                position += r.length
                copied += Int64(r.length)
                run = nil
            }
            for item in listed where !skipping.contains(item.entry.name) {
                guard names.insert(item.entry.name).inserted else {
                    throw HaulError(.output, "\(source): \(item.entry.name) is in another shard's ZIP too: the shards are not of one plan")
                }
                let length = item.localLength + item.entry.compressedSize
                var entry = item.entry
                if let r = run, r.from + r.length == item.entry.offset {
                    entry.offset = position + r.length
                    run = (r.from, r.length + length)
                } else {
                    try flush()
                    entry.offset = position
                    run = (item.entry.offset, length)
                }
                directory.append(entry)
            }
            try flush()
        }
        // The manifests, deflated, as the last entries.
        let now = Int64(time(nil))
        let deflater = ChunkDeflater(level: 6)
        for (name, produce) in trailing {
            // Made a piece at a time: only the compressed bytes are ever whole in memory.
            var compressed: [UInt8] = []
            let (crc, size) = deflater.deflateText(produce) { buffer, length in
                compressed.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
                PageMemory.free(buffer)
            }
            var entry = ZipEntry(name: name, method: .deflated, crc32: crc, compressedSize: UInt64(compressed.count), uncompressedSize: size, modified: now)
            entry.offset = position
            let bytes = entry.localHeader() + compressed
            try bytes.withUnsafeBytes { try FileIO.pwriteAll(out, $0, at: Int64(position), what: part) }
            position += UInt64(bytes.count)
            directory.append(entry)
        }
        var central: [UInt8] = []
        for entry in directory { central += entry.centralHeader() }
        central += ZipEntry.endRecords(count: UInt64(directory.count), directoryOffset: position, directorySize: UInt64(central.count))
        try central.withUnsafeBytes { try FileIO.pwriteAll(out, $0, at: Int64(position), what: part) }
        if synchronize, fsync(out) != 0 { throw HaulError(.output, "cannot write \(part): \(String(cString: strerror(errno)))") }
        close(out)
        closed = true
        guard rename(part, path) == 0 else {
            let e = errno
            unlink(part)
            throw HaulError(.output, "cannot rename \(part) to \(path): \(String(cString: strerror(e)))")
        }
        return Copied(entries: directory.count, bytes: copied, inKernel: inKernel)
    }

    /// Copies `length` bytes; true when the kernel did it (copy_file_range), false when read and written.
    static func copyRange(_ source: Int32, from: UInt64, length: UInt64, to out: Int32, at: UInt64, source name: String, destination: String) throws -> Bool {
        var inOffset = Int64(from), outOffset = Int64(at)
        var done: UInt64 = 0
        while done < length {
            let n = csystem_copy_file_range(source, &inOffset, out, &outOffset, Int(min(length - done, 1 << 30)))
            if n < 0 {
                if errno == EINTR { continue }
                if [EXDEV, ENOSYS, EINVAL, EOPNOTSUPP].contains(errno) { break }
                throw HaulError(.output, "cannot copy from \(name) to \(destination): \(String(cString: strerror(errno)))")
            }
            if n == 0 { throw HaulError(.output, "\(name) ended before its entries did") }
            done += UInt64(n)
        }
        guard done < length else { return true }
        let size = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        while done < length {
            let want = Int(min(UInt64(size), length - done))
            let (n, e) = FileIO.readAll(source, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: Int64(from + done))
            if e != 0 { throw HaulError(.output, "cannot read \(name): \(String(cString: strerror(e)))") }
            if n < want { throw HaulError(.output, "\(name) ended before its entries did") }
            try FileIO.pwriteAll(out, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), at: Int64(at + done), what: destination)
            done += UInt64(n)
        }
        return false
    }

    /// The central directory of an archive: every entry, its local header's length read from it.
    static func list(_ fd: Int32, name: String) throws -> [Listed] {
        func fail(_ why: String) -> HaulError { HaulError(.output, "\(name): \(why): not a ZIP haul finished") }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw fail("cannot stat") }
        let size = UInt64(st.st_size)
        func read(_ offset: UInt64, _ count: Int) throws -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: count)
            let (n, e) = bytes.withUnsafeMutableBytes { FileIO.readAll(fd, into: $0, at: Int64(offset)) }
            guard e == 0, n == count else { throw fail("cut short") }
            return bytes
        }
        let tailLength = Int(min(size, 22 + 65_535))
        guard tailLength >= 22 else { throw fail("too short") }
        let tail = try read(size - UInt64(tailLength), tailLength)
        var endAt = -1
        var i = tailLength - 22
        while i >= 0 {
            if tail[i] == 0x50, tail[i + 1] == 0x4B, tail[i + 2] == 0x05, tail[i + 3] == 0x06 { endAt = i; break }
            i -= 1
        }
        guard endAt >= 0 else { throw fail("no end of central directory") }
        var r = ByteReader(tail, at: endAt + 10)
        var count = UInt64(r.u16())
        var directorySize = UInt64(r.u32())
        var directoryOffset = UInt64(r.u32())
        let endOffset = size - UInt64(tailLength) + UInt64(endAt)
        if endOffset >= 20 {
            let locator = try read(endOffset - 20, 20)
            var l = ByteReader(locator)
            if l.u32() == ZipFormat.zip64LocatorSignature {
                _ = l.u32()
                let zip64End = l.u64()
                var z = ByteReader(try read(zip64End, 56))
                guard z.u32() == ZipFormat.zip64EndSignature else { throw fail("a bad ZIP64 end record") }
                z.position = 32
                count = z.u64()
                directorySize = z.u64()
                directoryOffset = z.u64()
            }
        }
        guard directoryOffset + directorySize <= size, directorySize < 1 << 34 else { throw fail("a central directory outside the file") }
        let directory = try read(directoryOffset, Int(directorySize))
        var d = ByteReader(directory)
        var listed: [Listed] = []
        listed.reserveCapacity(Int(min(count, 1 << 24)))
        for _ in 0..<count {
            guard d.u32() == ZipFormat.centralSignature else { throw fail("a bad central directory record") }
            _ = d.u16()  // made by
            _ = d.u16()  // needed
            let flags = d.u16()
            let method = d.u16()
            let dosTime = d.u16(), dosDate = d.u16()
            let crc = d.u32()
            var compressed = UInt64(d.u32())
            var uncompressed = UInt64(d.u32())
            let nameLength = Int(d.u16()), extraLength = Int(d.u16()), commentLength = Int(d.u16())
            _ = d.u16(); _ = d.u16(); _ = d.u32()
            var offset = UInt64(d.u32())
            let nameBytes = d.take(nameLength)
            let extra = d.take(extraLength)
            _ = d.take(commentLength)
            var modified = DOSTime.decode(time: dosTime, date: dosDate)
            var e = ByteReader(extra)
            while e.remaining >= 4 {
                let id = e.u16(), length = Int(e.u16())
                let body = e.position
                if id == ZipFormat.zip64ExtraID {
                    if uncompressed == ZipFormat.maxClassic { uncompressed = e.u64() }
                    if compressed == ZipFormat.maxClassic { compressed = e.u64() }
                    if offset == ZipFormat.maxClassic { offset = e.u64() }
                } else if id == ZipFormat.timestampExtraID, length >= 5 {
                    if e.u8() & 1 != 0 { modified = Int64(Int32(bitPattern: e.u32())) }
                }
                e.position = body + length
            }
            guard flags & ZipFormat.dataDescriptorFlag == 0, let kind = ZipEntry.Method(rawValue: method) else {
                throw fail("an entry with a data descriptor or an unknown method")
            }
            var header = ByteReader(try read(offset, 30))
            guard header.u32() == ZipFormat.localSignature else { throw fail("no local header at \(offset)") }
            header.position = 26
            let localLength = UInt64(30 + Int(header.u16()) + Int(header.u16()))
            guard offset + localLength + compressed <= directoryOffset else { throw fail("an entry past the central directory") }
            let entry = ZipEntry(
                name: String(decoding: nameBytes, as: UTF8.self), method: kind, crc32: crc, compressedSize: compressed,
                uncompressedSize: uncompressed, modified: modified, offset: offset, extraFlags: flags & ~ZipFormat.utf8Flag
            )
            listed.append(Listed(entry: entry, localLength: localLength))
        }
        return listed.sorted { $0.entry.offset < $1.entry.offset }
    }
}
