import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// RFC 4180 rows into bytes, as ``Manifest/csvField(_:)`` quotes and guards them, CRLF line ends;
/// plain fields (most of them) are copied without building a String.
struct CSVBytes {
    var bytes: [UInt8] = []

    mutating func header(_ names: [String]) { row(names) }

    /// One field and the comma after it (or the line's end).
    mutating func field(_ value: String, last: Bool = false) {
        append(value)
        if last { bytes.append(0x0D); bytes.append(0x0A) } else { bytes.append(UInt8(ascii: ",")) }
    }

    /// One field given as UTF-8 bytes, as ``field(_:last:)`` writes the string they spell.
    mutating func field(bytes value: UnsafeBufferPointer<UInt8>, last: Bool = false) {
        append(bytes: value)
        if last { bytes.append(0x0D); bytes.append(0x0A) } else { bytes.append(UInt8(ascii: ",")) }
    }

    /// A whole number (or nothing) and the comma after it, without making a String.
    mutating func number(_ value: Int64?) {
        if var v = value {
            if v < 0 { bytes.append(UInt8(ascii: "-")); v = -v }
            var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                          UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            var count = 0
            withUnsafeMutableBytes(of: &digits) { buffer in
                repeat {
                    buffer[count] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                    count += 1
                } while v > 0
                for i in stride(from: count - 1, through: 0, by: -1) { bytes.append(buffer[i]) }
            }
        }
        bytes.append(UInt8(ascii: ","))
    }

    mutating func row(_ fields: [String]) {
        for (i, field) in fields.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            append(field)
        }
        bytes.append(0x0D)
        bytes.append(0x0A)
    }

    mutating func append(_ field: String) {
        var text = field
        text.withUTF8 { append(bytes: $0) }
    }

    /// A field's bytes: as they are when plain (most fields), else as ``Manifest/csvField(_:)`` quotes
    /// and guards the string they spell. Checked on the bytes in place: a String's UTF-8 view, walked
    /// a byte at a time through its generic iterator, cost ten million rows some seconds.
    mutating func append(bytes value: UnsafeBufferPointer<UInt8>) {
        if Self.isPlain(value) { bytes.append(contentsOf: value) } else { bytes.append(contentsOf: Manifest.csvField(String(decoding: value, as: UTF8.self)).utf8) }
    }

    /// Whether ``Manifest/csvField(_:)`` leaves the field these bytes spell as it is: nothing a spreadsheet
    /// could run or that looks guarded first, no comma, quote or line break. (A field it would leave as it
    /// is may be answered `false`: it is then asked.)
    @inline(__always)
    static func isPlain(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        if let first = value.first, first == UInt8(ascii: "=") || first == UInt8(ascii: "+") || first == UInt8(ascii: "@")
            || first == UInt8(ascii: "-") || first == UInt8(ascii: "'") {
            return false
        }
        for b in value where b == UInt8(ascii: ",") || b == UInt8(ascii: "\"") || b == 0x0A || b == 0x0D {
            return false
        }
        return true
    }

    func write(to path: String) throws {
        try FileReplacement.write(path, bytes, synchronize: false)
    }
}
