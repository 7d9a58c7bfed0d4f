import Foundation

/// A product's path as the collision check compares it: case-insensitively, as `path.lowercased()`
/// with Swift's string equality, so the tree also unpacks on case-insensitive file systems.
///
/// A plan of a million products compares a million paths. The usual path is plain ASCII: its hash is
/// taken once, eight bytes at a time, from the folder and name in place, and no string is made. Any
/// other path is lowered and compared as a `String` (canonical equivalence included), and hashed by
/// the bytes of its lowered form's NFC (``loweredHash(_:)``): equal strings have one NFC. An ASCII
/// path without `;` or `` ` `` can equal another path beyond ASCII only through a character that
/// lowers or normalises to ASCII: the Kelvin sign (to `k`), U+037E (to `;`) and U+1FEF (to `` ` ``).
/// The last two are why `;` and `` ` `` leave the plain path; a path whose lowered form is plain ASCII
/// is hashed and compared as that ASCII path (the Kelvin sign's case).
struct PathKey: Hashable {
    /// The folder (`DATASET` of the nested layout), joined to ``name`` by `/`; `nil` for a bare name.
    let folder: String?
    let name: String
    /// The lowered path of a path beyond plain ASCII; `nil` for plain ASCII.
    let lowered: String?
    let hash: Int

    init(folder: String?, name: String) {
        self.folder = folder
        self.name = name
        (lowered, hash) = Self.hash(folder: folder, name: name)
    }

    /// The ``hash`` of the path `folder/name`, and its ``lowered`` form when it is beyond plain ASCII.
    ///
    /// A path beyond ASCII whose lowered form is plain ASCII (the Kelvin sign lowers to `k`) is hashed
    /// as that ASCII path is, and compares equal to it (``==``): `\u{212A}elvin.fits` and
    /// `KELVIN.fits` are one file on a case-insensitive file system.
    static func hash(folder: String?, name: String) -> (lowered: String?, hash: Int) {
        if let hash = Self.withPath(folder, name, plainHash) { return (nil, hash) }
        var lowered = Self.withPath(folder, name, lowercased)
        return (lowered, lowered.withUTF8(loweredHash))
    }

    /// The ``hash`` of the path `folder/name` alone: for a path beyond plain ASCII, its lowered form
    /// is made on the stack and no `String` of it (the plan hashes a million paths and compares few).
    static func hashOnly(folder: String?, name: String) -> Int {
        if let hash = Self.withPath(folder, name, plainHash) { return hash }
        return Self.withPath(folder, name) { path in
            // Lowering makes a scalar at most one byte longer, and 1.5 times as long (U+0130).
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: path.count * 2 + 4) { buffer in
                loweredHash(UnsafeBufferPointer(rebasing: buffer[..<lower(path, into: buffer)]))
            }
        }
    }

    /// The ``hash`` of a lowered path. Strings are equal (Swift's `==`) exactly when their NFCs' bytes
    /// are, so a path is hashed by what its NFC is: plain ASCII (which a path beyond ASCII may lower to:
    /// the Kelvin sign) by ``plainHash(_:)``; scalars below U+0300 only (UTF-8 bytes below `0xCC`:
    /// Latin-1, Latin Extended-A and -B, IPA) by ``ByteHash`` of its bytes; else by `String.hashValue`,
    /// which normalises. A string of scalars below U+0300 is its own NFC (none of them decomposes or
    /// combines); a string with a scalar of ``survivesComposition(_:)`` has one at or past U+0300 in its
    /// NFC too; only a string with neither is composed here to be told. `String.hashValue` for every
    /// path was a third of `select`'s time on a million non-ASCII paths (perf, the unicode shape of
    /// Benchmarks/select-shapes.sh), most of them Latin.
    static func loweredHash(_ lowered: UnsafeBufferPointer<UInt8>) -> Int {
        if let plain = plainHash(lowered) { return plain }
        if !lowered.contains(where: { $0 >= 0xCC }) { return composedHash(lowered) }
        let text = String(decoding: lowered, as: UTF8.self)
        if text.unicodeScalars.contains(where: survivesComposition) { return text.hashValue }
        var composed = text.precomposedStringWithCanonicalMapping
        return composed.withUTF8 { bytes in
            bytes.contains(where: { $0 >= 0xCC }) ? text.hashValue : plainHash(bytes) ?? composedHash(bytes)
        }
    }

    /// Whether a scalar at or past U+0300 stays in a string's NFC, alone or composed into another at or
    /// past U+0300: a starter that is its own NFC (PathKeyTests check each), in the scripts names are
    /// written in. (A scalar composes into one below U+0300 only as a combining mark after a Latin letter.)
    static func survivesComposition(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0391...0x03A1, 0x03A3...0x03A9, 0x03B1...0x03C9, // Greek letters
             0x0400...0x045F, // Cyrillic
             0x3041...0x3096, 0x30A1...0x30FA, // kana, without the combining sound marks
             0x4E00...0x9FFF, // CJK unified ideographs (the compatibility ones decompose)
             0xAC00...0xD7A3: // Hangul syllables
            true
        default: false
        }
    }

    /// The hash of NFC bytes that are not plain ASCII.
    private static func composedHash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var h = ByteHash.mix(ByteHash.seed ^ 0x4E46_43, UnsafeRawPointer(bytes.baseAddress), bytes.count)
        h = (h ^ UInt64(bytes.count)) &* 0xC4CE_B9FE_1A85_EC53
        return Int(truncatingIfNeeded: h ^ h >> 29)
    }

    /// The string `bytes` spell (valid UTF-8), lowered as `String.lowercased()` lowers it: each scalar
    /// replaced by its lowercase mapping. Made in bytes, a scalar at a time: an ASCII letter by its bit,
    /// a scalar that lowering leaves alone (``Unicode/Scalar/Properties/changesWhenLowercased``) as its
    /// bytes, only the rest by its mapping. `lowercased()` made a string of every scalar's mapping and
    /// appended it, the most of `select`'s time on a million paths beyond ASCII (perf, the unicode shape
    /// of Benchmarks/select-shapes.sh). PathKeyTests hold the two equal, scalar for scalar.
    static func lowercased(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2 + 4) { lower(bytes, into: $0) }
    }

    /// ``lowercased(_:)``'s bytes, written to `out` (room for twice the bytes, and 4); how many.
    static func lower(_ bytes: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var n = 0
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b < 0x80 {
                out[n] = b >= 0x41 && b <= 0x5A ? b | 0x20 : b
                n += 1
                i += 1
                continue
            }
            // One scalar of valid UTF-8: its length by its lead byte.
            let length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
            var value = UInt32(b) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
            for k in 1..<length { value = value << 6 | UInt32(bytes[i + k] & 0x3F) }
            let scalar = Unicode.Scalar(value)!
            if scalar.properties.changesWhenLowercased {
                for c in scalar.properties.lowercaseMapping.utf8 {
                    out[n] = c
                    n += 1
                }
            } else {
                for k in i..<(i + length) {
                    out[n] = bytes[k]
                    n += 1
                }
            }
            i += length
        }
        return n
    }

    /// The ``hash`` of a plain ASCII path given as bytes; `nil` for any other path (one with a byte
    /// beyond ASCII, `;` or `` ` ``). Letters' cases hash alike.
    static func plainHash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        ByteHash.plain(bytes, fold: 0x20, stops: (UInt8(ascii: ";"), UInt8(ascii: "`")))
    }

    /// The ``hash`` of the path `folder/name` (or `name`, when `folder` is `nil`) given as bytes, without
    /// making a string of a plain ASCII one.
    static func hash(folder: String?, name: UnsafeBufferPointer<UInt8>) -> Int {
        guard var folder else {
            return plainHash(name) ?? PathKey(folder: nil, name: String(decoding: name, as: UTF8.self)).hash
        }
        let count = folder.utf8.count + 1 + name.count
        let plain: Int? = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { buffer in
            folder.withUTF8 { f in
                _ = UnsafeMutableBufferPointer(rebasing: buffer[0..<f.count]).initialize(from: f)
                buffer[f.count] = UInt8(ascii: "/")
                _ = UnsafeMutableBufferPointer(rebasing: buffer[(f.count + 1)...]).initialize(from: name)
            }
            return plainHash(UnsafeBufferPointer(buffer))
        }
        return plain ?? PathKey(folder: folder, name: String(decoding: name, as: UTF8.self)).hash
    }

    /// ``hash(folder:name:)`` with the folder given as its bytes too.
    static func hash(folder: UnsafeBufferPointer<UInt8>?, name: UnsafeBufferPointer<UInt8>) -> Int {
        guard let folder else { return hash(folder: String?.none, name: name) }
        let count = folder.count + 1 + name.count
        let plain: Int? = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { buffer in
            _ = UnsafeMutableBufferPointer(rebasing: buffer[0..<folder.count]).initialize(from: folder)
            buffer[folder.count] = UInt8(ascii: "/")
            _ = UnsafeMutableBufferPointer(rebasing: buffer[(folder.count + 1)...]).initialize(from: name)
            return plainHash(UnsafeBufferPointer(buffer))
        }
        return plain ?? PathKey(folder: String(decoding: folder, as: UTF8.self), name: String(decoding: name, as: UTF8.self)).hash
    }

    /// Calls `body` with the path's bytes (`folder/name`), made on the stack.
    static func withPath<R>(_ folder: String?, _ name: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        var name = name
        guard var folder else { return name.withUTF8(body) }
        let count = folder.utf8.count + 1 + name.utf8.count
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { buffer in
            folder.withUTF8 { f in
                name.withUTF8 { n in
                    _ = UnsafeMutableBufferPointer(rebasing: buffer[0..<f.count]).initialize(from: f)
                    buffer[f.count] = UInt8(ascii: "/")
                    _ = UnsafeMutableBufferPointer(rebasing: buffer[(f.count + 1)...]).initialize(from: n)
                }
            }
            return body(UnsafeBufferPointer(buffer))
        }
    }

    static func == (a: PathKey, b: PathKey) -> Bool {
        guard a.hash == b.hash else { return false }
        switch (a.lowered, b.lowered) {
        case (nil, nil):
            return withPath(a.folder, a.name) { x in withPath(b.folder, b.name) { y in plainEqual(x, y) } }
        case let (x?, y?): return x == y
        case (var x?, nil):
            // Equal only when the lowered path is plain ASCII, as the other is: compared as two plain paths.
            return x.withUTF8 { x in withPath(b.folder, b.name) { y in plainEqual(x, y) } }
        case (nil, var y?):
            return y.withUTF8 { y in withPath(a.folder, a.name) { x in plainEqual(x, y) } }
        }
    }

    /// Whether two paths' bytes are equal but for the case of ASCII letters.
    private static func plainEqual(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Bool {
        x.count == y.count && zip(x, y).allSatisfy { p, q in
            (p >= 0x41 && p <= 0x5A ? p | 0x20 : p) == (q >= 0x41 && q <= 0x5A ? q | 0x20 : q)
        }
    }

    func hash(into hasher: inout Hasher) { hasher.combine(hash) }
}
