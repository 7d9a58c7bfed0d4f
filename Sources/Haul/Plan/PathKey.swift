/// A product's path as the collision check compares it: case-insensitively, as `path.lowercased()`
/// with Swift's string equality, so the tree also unpacks on case-insensitive file systems.
///
/// A plan of a million products compares a million paths. The usual path is plain ASCII: its hash is
/// taken once, eight bytes at a time, from the folder and name in place, and no string is made. Any
/// other path is lowered as a `String` and compared as one (canonical equivalence included). An ASCII
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
        if let plain = lowered.withUTF8(plainHash) { return (lowered, plain) }
        return (lowered, lowered.hashValue)
    }

    /// The string `bytes` spell (valid UTF-8), lowered as `String.lowercased()` lowers it: each scalar
    /// replaced by its lowercase mapping. Made in bytes, a scalar at a time: an ASCII letter by its bit,
    /// a scalar that lowering leaves alone (``Unicode/Scalar/Properties/changesWhenLowercased``) as its
    /// bytes, only the rest by its mapping. `lowercased()` made a string of every scalar's mapping and
    /// appended it, the most of `select`'s time on a million paths beyond ASCII (perf, the unicode shape
    /// of Benchmarks/select-shapes.sh). PathKeyTests hold the two equal, scalar for scalar.
    static func lowercased(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 8)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b < 0x80 {
                out.append(b >= 0x41 && b <= 0x5A ? b | 0x20 : b)
                i += 1
                continue
            }
            // One scalar of valid UTF-8: its length by its lead byte.
            let length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
            var value = UInt32(b) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
            for k in 1..<length { value = value << 6 | UInt32(bytes[i + k] & 0x3F) }
            let scalar = Unicode.Scalar(value)!
            if scalar.properties.changesWhenLowercased {
                out.append(contentsOf: scalar.properties.lowercaseMapping.utf8)
            } else {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[i..<(i + length)]))
            }
            i += length
        }
        return String(decoding: out, as: UTF8.self)
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
