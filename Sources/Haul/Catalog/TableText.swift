/// Typed cells from the text a table format writes (CSV, ECSV, VOTable TABLEDATA).
enum TableText {
    /// A whole number as text (`+12`, `-3`), or `nil`.
    static func integer(_ text: String) -> Int64? {
        Int64(text.hasPrefix("+") ? String(text.dropFirst()) : text)
    }

    /// A number as text: an integer keeps its exact value; `nan` is a masked value (`nil` cell).
    static func number(_ text: String) -> JSONValue? {
        if let integer = integer(text) { return .number(Double(integer), integer: integer) }
        guard let value = Double(text) else { return nil }
        return value.isNaN ? .null : .number(value, integer: nil)
    }
}
