import Foundation
import Haul
import NIOCore
import NIOHTTP1

/// A whole answer: status, type and body.
struct Reply: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: [UInt8]
    var headers: [(String, String)] = []

    static func text(_ status: HTTPResponseStatus, _ text: String) -> Reply {
        Reply(status: status, contentType: "text/plain; charset=utf-8", body: Array((text + "\n").utf8))
    }

    static func json(_ status: HTTPResponseStatus, _ text: String) -> Reply {
        Reply(status: status, contentType: "application/json", body: Array((text + "\n").utf8))
    }

    static func html(_ status: HTTPResponseStatus, _ text: String) -> Reply {
        Reply(
            status: status, contentType: "text/html; charset=utf-8", body: Array(text.utf8),
            headers: [
                // Nothing from elsewhere: the page's own inline script and style, and requests to this server only.
                ("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
                ("X-Frame-Options", "DENY"),
                ("Referrer-Policy", "no-referrer"),
            ]
        )
    }
}
