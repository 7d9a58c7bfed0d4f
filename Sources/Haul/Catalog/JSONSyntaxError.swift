import Foundation

/// Where and why a document is not JSON.
struct JSONSyntaxError: Error {
    var offset: Int
    var reason: String
}
