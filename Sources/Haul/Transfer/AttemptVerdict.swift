import CCurl
import Foundation

/// What to do after one attempt.
package enum AttemptVerdict: Sendable, Hashable {
    case success
    /// Transient: try again after the wait (the server's `Retry-After` when it sent one).
    case retry(reason: FileFailure, retryAfter: Duration?)
    case fail(reason: FileFailure)

    /// Classifies an attempt (the manifest's `FAILED: …` reason comes from here): connection errors, timeouts, stalls, 408, 429 and 5xx are
    /// transient; other 4xx, redirect loops, TLS trust failures, size mismatches and sink errors are final.
    package init(_ outcome: AttemptOutcome, expectedSize: Int64?) {
        if let abort = outcome.abort {
            switch abort {
            case .sizeMismatch(let expected, let actual):
                self = .fail(reason: FileFailure(.sizeMismatch, "size mismatch (expected \(expected) bytes, server has \(actual))" + Self.why(outcome)))
            case .rangeMismatch:
                self = .retry(reason: FileFailure(.other, "the server answered another byte range than asked"), retryAfter: nil)
            case .changedOnServer:
                self = .retry(reason: FileFailure(.changedOnArchive, "the file changed on the server during the download (the server ignored If-Range)"), retryAfter: nil)
            case .sink(let error):
                self = .fail(reason: .writing(error))
            }
            return
        }
        let retryAfter = outcome.retryAfter.map { Duration.seconds($0) }
        let code = CURLcode(rawValue: UInt32(outcome.curlCode))
        if code == CURLE_OK || code == CURLE_HTTP_RETURNED_ERROR {
            switch outcome.status {
            case 200..<300:
                if let total = outcome.totalLength, outcome.end != total {
                    self = .retry(reason: FileFailure(.interrupted, "body ended at \(outcome.end) of \(total) bytes"), retryAfter: nil)
                } else if let expectedSize, outcome.end != expectedSize {
                    self = .fail(reason: FileFailure(.sizeMismatch, "size mismatch (expected \(expectedSize) bytes, received \(outcome.end))" + Self.why(outcome)))
                } else {
                    self = .success
                }
            case 408, 429, 500..<600:
                // S3's `503 SlowDown` sends no Retry-After: the policy's backoff, with its jitter, spaces the tries.
                self = .retry(reason: FileFailure(.httpError, "HTTP \(outcome.status)" + Self.s3(outcome)), retryAfter: retryAfter)
            case 416 where outcome.rangeStart > 0:
                // The part already held cannot be completed (the product shrank or changed): start over.
                self = .retry(reason: FileFailure(.httpError, "HTTP 416: the server refused to resume from byte \(outcome.rangeStart)"), retryAfter: nil)
            default:
                self = .fail(reason: FileFailure(Self.code(httpStatus: outcome.status), "HTTP \(outcome.status)" + Self.s3(outcome)))
            }
            return
        }
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            // Before any answer, a timeout is the host's (connecting); after, the transfer stalled.
            self = .retry(reason: outcome.bodyStarted || outcome.status != 0 ? FileFailure(.stalled, "stalled") : FileFailure(.unreachable, "timeout"), retryAfter: nil)
        case CURLE_COULDNT_CONNECT:
            self = .retry(reason: FileFailure(.unreachable, "cannot connect"), retryAfter: nil)
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            self = .retry(reason: FileFailure(.unreachable, "cannot resolve host"), retryAfter: nil)
        case CURLE_PARTIAL_FILE:
            self = .retry(reason: FileFailure(.interrupted, "connection closed before the end of the body"), retryAfter: nil)
        case CURLE_GOT_NOTHING:
            self = .retry(reason: FileFailure(.interrupted, "empty reply from server"), retryAfter: nil)
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR:
            self = .retry(reason: FileFailure(.interrupted, "connection error"), retryAfter: nil)
        case CURLE_HTTP2, CURLE_HTTP2_STREAM:
            self = .retry(reason: FileFailure(.interrupted, "HTTP/2 error"), retryAfter: nil)
        case CURLE_SSL_CONNECT_ERROR:
            self = .retry(reason: FileFailure(.interrupted, "TLS handshake failed"), retryAfter: nil)
        case CURLE_PEER_FAILED_VERIFICATION:
            // Never accepted silently: the user names the authority to trust (curl's wording kept).
            self = .fail(reason: FileFailure(.untrustedCertificate, "TLS certificate not trusted (\(outcome.curlMessage)): trust its issuer with --cacert FILE or --capath DIR"))
        case CURLE_SSL_CACERT_BADFILE:
            self = .fail(reason: FileFailure(.untrustedCertificate, "cannot read the trusted certificates (\(outcome.curlMessage)): check --cacert FILE or --capath DIR"))
        case CURLE_TOO_MANY_REDIRECTS:
            self = .fail(reason: FileFailure(.other, "too many redirects"))
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
            self = .fail(reason: FileFailure(.other, "bad URL"))
        default:
            self = .fail(reason: FileFailure(.other, "transfer error (curl \(outcome.curlCode): \(outcome.curlMessage))"))
        }
    }

    /// The failure code of a final HTTP error status.
    static func code(httpStatus: Int) -> FileFailure.Code {
        switch httpStatus {
        case 404, 410: .notFound
        case 401: .unauthorized
        case 403: .forbidden
        default: .httpError
        }
    }

    /// An S3 error body's code and message, as ` (Code: Message)`; empty for any other body.
    static func s3(_ outcome: AttemptOutcome) -> String {
        S3Error(body: outcome.errorBody).map { " (\($0))" } ?? ""
    }

    /// Why a body's length is not the catalog's, when the response says: an encoding, an HTML page.
    static func why(_ outcome: AttemptOutcome) -> String {
        if let encoding = outcome.contentEncoding {
            return ": the server sent the file \(encoding)-encoded (Content-Encoding: \(encoding)) although identity was asked; Haul keeps an archive's bytes as sent and never decodes them"
        }
        if let type = outcome.contentType, type.lowercased().hasPrefix("text/html") {
            return ": the server answered \(outcome.status) with an HTML page (an error page?) instead of the file"
        }
        return ""
    }
}
