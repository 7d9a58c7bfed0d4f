import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CSV rows as ``CSVBytes`` writes them, into memory of its own: the writers of a plan of rows
/// (``ShardPlan/writeShards(_:assignment:shards:width:folder:)``) append a hundred million fields at ten
/// million rows, where each append to an array checks its capacity and that it is not shared.
///
/// Not copyable: it owns its memory, freed when it ends; and a struct, so that writing to one retains nothing.
struct CSVSink: ~Copyable {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int = 1 << 16) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    mutating func removeAll() { count = 0 }

    /// Room for `n` more bytes.
    @inline(__always)
    mutating func reserve(_ n: Int) {
        if count + n > capacity { grow(count + n) }
    }

    private mutating func grow(_ needed: Int) {
        let larger = max(needed, capacity * 2)
        let new = UnsafeMutablePointer<UInt8>.allocate(capacity: larger)
        new.update(from: base, count: count)
        base.deallocate()
        base = new
        capacity = larger
    }

    @inline(__always)
    mutating func byte(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }

    @inline(__always)
    mutating func raw(_ value: UnsafeBufferPointer<UInt8>) {
        guard let from = value.baseAddress else { return }
        reserve(value.count)
        (base + count).update(from: from, count: value.count)
        count += value.count
    }

    @inline(__always)
    mutating func raw(_ value: StaticString) {
        raw(UnsafeBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount))
    }

    /// The end of a field: a comma, or the line's end.
    @inline(__always)
    mutating func end(last: Bool) {
        if last {
            reserve(2)
            base[count] = 0x0D
            base[count + 1] = 0x0A
            count += 2
        } else {
            byte(UInt8(ascii: ","))
        }
    }

    /// One field given as UTF-8 bytes, as ``CSVBytes/field(bytes:last:)`` writes it.
    @inline(__always)
    mutating func field(bytes value: UnsafeBufferPointer<UInt8>, last: Bool = false) {
        if CSVBytes.isPlain(value) {
            raw(value)
        } else {
            var quoted = Manifest.csvField(String(decoding: value, as: UTF8.self))
            quoted.withUTF8 { raw($0) }
        }
        end(last: last)
    }

    /// One field, as ``CSVBytes/field(_:last:)`` writes it.
    @inline(__always)
    mutating func field(_ value: String, last: Bool = false) {
        var text = value
        text.withUTF8 { field(bytes: $0, last: last) }
    }

    /// A whole number (or nothing) and the comma after it, as ``CSVBytes/number(_:)`` writes it.
    @inline(__always)
    mutating func number(_ value: Int64?) {
        if let value {
            reserve(21)
            var v = value.magnitude
            if value < 0 {
                base[count] = UInt8(ascii: "-")
                count += 1
            }
            var digits = 1
            var rest = v / 10
            while rest > 0 {
                digits += 1
                rest /= 10
            }
            var at = count + digits - 1
            repeat {
                base[at] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: v % 10)
                v /= 10
                at -= 1
            } while v > 0
            count += digits
        }
        byte(UInt8(ascii: ","))
    }
}
