import Foundation

extension Engine {
    /// Asks the archive who a token belongs to (`{archive}/whoami`).
    ///
    /// - Returns: The credentials, with the user's display name.
    /// - Throws: ``HaulError`` (`authentication`) when the archive cannot be asked or answers that the
    ///   token is anonymous (not accepted). Messages never contain the token.
    public func signIn(_ token: Credentials.AccessToken, archive: URLResolver) async throws -> Credentials {
        let url = archive.archive + "/whoami"
        let sink = MemorySink(limit: 1 << 20)
        let request = RequestHeaders(url: url, configuration: configuration, adding: [token.header])
        let result = await fetch(url: url, expectedSize: nil, headers: request.everywhere, originHeaders: request.originBound, into: sink)
        switch result.status {
        case .ok: break
        case .failed(let reason):
            throw HaulError(.authentication, "cannot ask \(url) who the token belongs to: \(reason.message)")
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
            throw HaulError(.authentication, "the archive did not accept the token: \(url) says anonymous (check \(Credentials.AccessToken.environmentVariable) or --token-file)")
        }
        return Credentials(token: token, user: name.flatMap { $0.isEmpty ? nil : $0 } ?? "unnamed user", archive: archive)
    }
}
