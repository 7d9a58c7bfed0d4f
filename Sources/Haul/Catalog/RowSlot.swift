import Foundation

/// Where one member's value lies in the document, and what kind of value it is.
struct RowSlot {
    enum Kind: UInt8 { case absent, null, bool, number, string, array, object }
    var kind = Kind.absent
    /// The value's first byte.
    var start = 0
    /// Just past the value (for a string, its closing quote).
    var end = 0
    /// A string without escapes, whose text is the bytes between the quotes.
    var plain = false
    /// A string with escapes: where its decoded text lies in the parser's ``JSONReader/Parser/decoded``
    /// (kept as the row was read, so that the string is not scanned twice).
    var decodedStart = 0
    var decodedEnd = 0
    var number = 0.0
    var integer: Int64?
}
