import Foundation

/// A JSON value.
enum JSONValue {
    case null
    case bool(Bool)
    /// A number: its value, and the exact integer when it was written as one (`123`, not `1.0e2`).
    case number(Double, integer: Int64?)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}
