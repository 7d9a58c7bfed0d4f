@testable import Haul
import Foundation

// The path sanitiser against an independent oracle over the name's bytes, as a file system (POSIX or
// Windows) splits them: a name SafePath accepts is never empty or absolute, has no drive letter, no
// empty, `.` or `..` component, no control character and no component over 255 bytes.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let name = String(decoding: UnsafeBufferPointer(start: bytes, count: size), as: UTF8.self)
    guard SafePath.problem(in: name, what: "name") == nil else { return 0 }
    let utf8 = Array(name.utf8)
    let components = utf8.split(separator: 0, maxSplits: 0, omittingEmptySubsequences: false).first!
        .split(omittingEmptySubsequences: false) { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\\") }
    let scalars = Array(name.unicodeScalars)
    if utf8.isEmpty { violated("an accepted name is not empty") }
    if utf8[0] == UInt8(ascii: "/") || utf8[0] == UInt8(ascii: "\\") { violated("an accepted name is not absolute", name.debugDescription) }
    if scalars.count >= 2, scalars[1] == ":", scalars[0].isASCII, scalars[0].properties.isAlphabetic {
        violated("an accepted name has no drive letter", name.debugDescription)
    }
    if let c = scalars.first(where: { $0.value < 0x20 || $0.value == 0x7F || (0x80...0x9F).contains($0.value) }) {
        violated("an accepted name has no control character", "U+\(String(c.value, radix: 16)) in \(name.debugDescription)")
    }
    for component in components {
        if component.isEmpty { violated("an accepted name has no empty component", name.debugDescription) }
        if component.elementsEqual([0x2E]) || component.elementsEqual([0x2E, 0x2E]) {
            violated("an accepted name has no . or .. component", name.debugDescription)
        }
        if component.count > 255 { violated("an accepted name has no component over 255 bytes", name.debugDescription) }
    }
    return 0
}
