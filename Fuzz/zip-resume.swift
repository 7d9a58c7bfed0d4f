@testable import Haul
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// The resume scanner over an archive left by an earlier run: it keeps whole, checked entries from the
// start and says where to truncate, never reading past the file, trapping on a size, or keeping an
// entry whose bytes are not all there.

/// One unnamed file, rewritten for each input.
let fd: Int32 = {
    var template = Array("/tmp/haul-fuzz-zip-XXXXXX".utf8CString)
    let fd = mkstemp(&template)
    precondition(fd >= 0, "cannot create a temporary file")
    unlink(template)
    return fd
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    precondition(ftruncate(fd, 0) == 0 && pwrite(fd, bytes, size, 0) == size)
    var key = 0
    let result = ZipResume.scan(fd: fd, length: UInt64(size)) { _ in
        key += 1
        return key
    }
    // Each kept entry: its header and name as written in the file, its data after them, no overlap.
    var next: UInt64 = 0
    for (_, entry) in result.kept {
        if entry.offset != next { violated("kept entries follow each other from the start, without overlap", "\(entry.offset) ≠ \(next)") }
        let name = Array(entry.name.utf8)
        let nameStart = Int(entry.offset) + ZipFormat.localHeaderSize
        guard nameStart + name.count <= size, name.elementsEqual(UnsafeBufferPointer(start: bytes + nameStart, count: name.count)) else {
            violated("a kept entry's name is the bytes its header names", entry.name.debugDescription)
        }
        let nameLength = Int(bytes[Int(entry.offset) + 26]) | Int(bytes[Int(entry.offset) + 27]) << 8
        let extraLength = Int(bytes[Int(entry.offset) + 28]) | Int(bytes[Int(entry.offset) + 29]) << 8
        if nameLength != name.count { violated("a kept entry's name is the bytes its header names", entry.name.debugDescription) }
        let dataStart = UInt64(nameStart + nameLength + extraLength)
        guard entry.compressedSize <= UInt64(size), dataStart + entry.compressedSize <= UInt64(size) else {
            violated("a kept entry's data is in the file")
        }
        next = dataStart + entry.compressedSize
    }
    if result.end != next { violated("the resume point is where the kept entries end", "\(result.end) ≠ \(next)") }
    if result.end > UInt64(size) { violated("the resume point is inside the file", "\(result.end) > \(size)") }
    return 0
}
