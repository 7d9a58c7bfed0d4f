import Foundation

/// Characters a bash word holds without quotes.
enum CharacterSetLike {
    static func shellSafe(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || "/._-+:=@%,".unicodeScalars.contains(c)
    }
}
