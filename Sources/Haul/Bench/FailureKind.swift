import CCurl

/// The kind of a failed attempt, for counting: the reason a manifest gives, without the numbers that
/// make each instance different (`size mismatch (expected 10 bytes, server has 12)` is `size mismatch`).
enum FailureKind {
    /// The kind of an attempt that did not deliver its product.
    static func of(_ outcome: AttemptOutcome) -> String {
        if let abort = outcome.abort {
            switch abort {
            case .sizeMismatch: return "size mismatch"
            case .rangeMismatch: return "wrong range"
            case .changedOnServer: return "changed on server"
            case .sink: return "write error"
            }
        }
        let code = CURLcode(rawValue: UInt32(outcome.curlCode))
        if code == CURLE_OK || code == CURLE_HTTP_RETURNED_ERROR {
            if (200..<300).contains(outcome.status) {
                if let total = outcome.totalLength, outcome.end != total { return "short body" }
                return "size mismatch"
            }
            return "HTTP \(outcome.status)"
        }
        switch code {
        case CURLE_OPERATION_TIMEDOUT: return outcome.bodyStarted || outcome.status != 0 ? "stalled" : "timeout"
        case CURLE_COULDNT_CONNECT: return "cannot connect"
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: return "cannot resolve host"
        case CURLE_PARTIAL_FILE: return "closed early"
        case CURLE_GOT_NOTHING: return "empty reply"
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR: return "connection error"
        case CURLE_HTTP2, CURLE_HTTP2_STREAM: return "HTTP/2 error"
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE: return "TLS"
        case CURLE_TOO_MANY_REDIRECTS: return "too many redirects"
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT: return "bad URL"
        default: return "curl \(outcome.curlCode)"
        }
    }

    /// A fetch that failed without an attempt of its own: its host was given up on.
    static let hostUnreachable = "host unreachable"
    /// A body whose CRC-32 is not the one the same URL gave before (`--crc`).
    static let contentDiffers = "content differs"
}
