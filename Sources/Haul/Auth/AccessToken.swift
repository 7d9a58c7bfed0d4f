import Foundation

/// A MAST API token (Auth.MAST). Its text never leaves this type except as the `Authorization`
/// header of a request to the archive: printing, interpolating or dumping it shows `<token>`.
public struct AccessToken: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let value: String

    /// The environment variable a token is read from.
    public static let environmentVariable = "MAST_API_TOKEN"

    /// - Parameter text: The token; surrounding spaces and line breaks are dropped.
    /// - Throws: ``HaulError`` (`authentication`) when it is empty or holds spaces or control
    ///   characters (which would break, or inject into, the request's headers). The message never
    ///   repeats the text.
    public init(_ text: String, from source: String) throws {
        let trimmed = text.trimmingSpaces()
        guard !trimmed.isEmpty else { throw HaulError(.authentication, "\(source): the token is empty") }
        if trimmed.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) {
            throw HaulError(.authentication, "\(source): the token holds a space or a control character: expected one line of text")
        }
        value = trimmed
    }

    /// The token in `MAST_API_TOKEN`, or `nil` when that is unset or empty.
    public static func fromEnvironment(_ environment: [String: String]) throws -> AccessToken? {
        guard let text = environment[environmentVariable], !text.trimmingSpaces().isEmpty else { return nil }
        return try AccessToken(text, from: "$\(environmentVariable)")
    }

    /// The token in a file (its first line; the rest must be empty).
    ///
    /// - Throws: ``HaulError`` (`authentication`) naming the file and the reason, never its contents.
    public static func read(file path: String) throws -> AccessToken {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw HaulError(.authentication, "--token-file \(path): cannot read: \(Catalog.reason(error))", underlyingError: error)
        }
        guard data.count <= 64 << 10, let text = String(data: data, encoding: .utf8) else {
            throw HaulError(.authentication, "--token-file \(path): expected a token (one line of text)")
        }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
        guard lines.count <= 1 else {
            throw HaulError(.authentication, "--token-file \(path): expected the token alone on one line, found \(lines.count) lines")
        }
        return try AccessToken(lines.first ?? "", from: "--token-file \(path)")
    }

    /// The request header that carries the token.
    var header: String { "Authorization: token \(value)" }

    public var description: String { "<token>" }
    public var debugDescription: String { "<token>" }
    public var customMirror: Mirror { Mirror(self, children: []) }
}

/// A token the archive accepted, with the user it belongs to.
public struct Credentials: Sendable {
    public let token: AccessToken
    /// The `Logged In User` of the manifest: the archive's display name for the token's owner.
    public let user: String
    /// The archive's scheme, host and port: only requests there carry the token.
    public let origin: Origin

    public init(token: AccessToken, user: String, archive: URLResolver) {
        self.token = token
        self.user = user
        self.origin = Origin(archive.archive) ?? Origin(scheme: "", host: "", port: 0)
    }

    /// The headers a request to `url` carries: the token when `url` is on the archive, else none.
    /// libcurl keeps a custom `Authorization` from redirects to another host or port.
    public func headers(for url: String) -> [String] {
        Origin(url) == origin ? [token.header] : []
    }
}

/// Where a URL points: scheme, host and port (the default port when none is written).
public struct Origin: Sendable, Hashable {
    public var scheme: String
    public var host: String
    public var port: Int

    public init(scheme: String, host: String, port: Int) {
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    /// The origin of an `http(s)` URL; `nil` for anything else.
    public init?(_ url: String) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.host?.lowercased(), !host.isEmpty else { return nil }
        self.init(scheme: scheme, host: host, port: components.port ?? (scheme == "https" ? 443 : 80))
    }
}

extension Engine {
    /// Asks the archive who a token belongs to (`{archive}/whoami`).
    ///
    /// - Returns: The credentials, with the user's display name.
    /// - Throws: ``HaulError`` (`authentication`) when the archive cannot be asked or answers that the
    ///   token is anonymous (not accepted). Messages never contain the token.
    public func signIn(_ token: AccessToken, archive: URLResolver) async throws -> Credentials {
        let url = archive.archive + "/whoami"
        let sink = MemorySink(limit: 1 << 20)
        let (everywhere, originBound) = configuration.extraHeaders(for: url)
        let result = await fetch(url: url, expectedSize: nil, headers: everywhere + [token.header], originHeaders: originBound, into: sink)
        switch result.status {
        case .ok: break
        case .failed(let reason):
            throw HaulError(.authentication, "cannot ask \(url) who the token belongs to: \(reason)")
        case .notModified:
            throw HaulError(.authentication, "cannot ask \(url) who the token belongs to: HTTP 304")
        case .cancelled:
            throw CancellationError()
        }
        let answer = try? JSONSerialization.jsonObject(with: Data(sink.bytes))
        guard let object = answer as? [String: Any] else {
            throw HaulError(.authentication, "\(url): expected a JSON object with \"anon\" and \"attrib\"")
        }
        let anonymous = (object["anon"] as? Bool) ?? (object["anon"] as? NSNumber)?.boolValue ?? true
        let attributes = object["attrib"] as? [String: Any]
        let name = (attributes?["display_name"] as? String)?.trimmingSpaces()
        guard !anonymous else {
            throw HaulError(.authentication, "the archive did not accept the token: \(url) says anonymous (check \(AccessToken.environmentVariable) or --token-file)")
        }
        return Credentials(token: token, user: name.flatMap { $0.isEmpty ? nil : $0 } ?? "unnamed user", archive: archive)
    }
}

/// Collects a small response body in memory (up to a limit).
final class MemorySink: TransferSink, @unchecked Sendable {
    // Touched only on the engine's thread during the transfer, read after it ends.
    private(set) var bytes: [UInt8] = []
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func begin(offset: Int64, waker: SinkWaker) throws {
        bytes.removeSubrange(min(bytes.count, Int(offset))...)
    }

    func write(_ chunk: UnsafeRawBufferPointer) -> SinkWrite {
        guard bytes.count + chunk.count <= limit else {
            return .failed(HaulError(.authentication, "the answer is longer than \(limit) bytes"))
        }
        bytes.append(contentsOf: chunk)
        return .accepted
    }
}
