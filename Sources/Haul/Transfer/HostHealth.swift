import CCurl
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which hosts have answered and which have refused every connection so far, shared by every fetch
/// of an engine: a host that cannot be reached at all ends every transfer to it at once, with one
/// reason, rather than each retrying for minutes (``Configuration/unreachableAfter``).
final class HostHealth: Sendable {
    private struct Entry {
        var answered = false
        var failures = 0
        /// Set once the host is given up on: `cannot reach HOST:PORT: REASON`.
        var verdict: String?
    }

    private let entries = Locked<[String: Entry]>([:])
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Whether a host is ever given up on (``Configuration/unreachableAfter`` is not 0).
    var givesUp: Bool { limit > 0 }

    /// `host:port` of an `http(s)` URL.
    static func key(_ url: String) -> String? {
        guard let origin = Origin(url) else { return nil }
        return origin.host.contains(":") ? "[\(origin.host)]:\(origin.port)" : "\(origin.host):\(origin.port)"
    }

    /// Why transfers to `host` fail at once, when it is given up on.
    func verdict(_ host: String) -> String? {
        guard limit > 0 else { return nil }
        return entries.withLock { $0[host]?.verdict }
    }

    /// Takes note of how an attempt to `host` ended.
    func record(_ host: String, _ outcome: AttemptOutcome) {
        guard limit > 0, !outcome.cancelled else { return }
        let code = CURLcode(rawValue: UInt32(outcome.curlCode))
        if outcome.status != 0 || code == CURLE_OK {
            entries.withLock {
                if $0[host]?.answered != true { $0[host, default: Entry()].answered = true }
                $0[host]?.failures = 0
            }
            return
        }
        // What could not be reached: the host, or the proxy in front of it (libcurl's message names it).
        var name = host
        let reason: String
        switch code {
        case CURLE_COULDNT_CONNECT:
            reason = outcome.osErrno != 0 ? Self.lowercasedFirst(String(cString: strerror(outcome.osErrno))) : "cannot connect (\(outcome.curlMessage))"
            if let connected = Self.connectedTo(outcome.curlMessage), connected != host { name = "the proxy " + connected }
        case CURLE_COULDNT_RESOLVE_HOST:
            reason = "the host name does not resolve"
        case CURLE_COULDNT_RESOLVE_PROXY:
            reason = "the proxy's host name does not resolve"
            if let proxy = outcome.curlMessage.split(separator: ":", maxSplits: 1).last?.trimmingSpaces(), !proxy.isEmpty {
                name = "the proxy " + proxy
            }
        default:
            return
        }
        entries.withLock {
            var entry = $0[host, default: Entry()]
            guard !entry.answered else { return }
            entry.failures += 1
            if entry.failures >= limit, entry.verdict == nil { entry.verdict = "cannot reach \(name): \(reason)" }
            $0[host] = entry
        }
    }

    /// `HOST:PORT` from libcurl's "Failed to connect to HOST port PORT after …", which names what it
    /// connected to: the proxy, when there is one.
    static func connectedTo(_ message: String) -> String? {
        let prefix = "Failed to connect to "
        guard message.hasPrefix(prefix) else { return nil }
        let words = message.dropFirst(prefix.count).split(separator: " ", maxSplits: 3)
        guard words.count >= 3, words[1] == "port", let port = Int(words[2]) else { return nil }
        let host = words[0].contains(":") ? "[\(words[0])]" : String(words[0])
        return "\(host):\(port)"
    }

    private static func lowercasedFirst(_ text: String) -> String {
        guard let first = text.first, first.isUppercase, text.dropFirst().first?.isUppercase != true else { return text }
        return first.lowercased() + text.dropFirst()
    }
}
