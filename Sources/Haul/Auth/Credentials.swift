import Foundation

/// A token the archive accepted, with the user it belongs to.
public struct Credentials: Sendable {
    public let token: AccessToken
    /// The `Logged In User` of the manifest: the archive's display name for the token's owner.
    public let user: String
    /// The archive's scheme, host and port: only requests there carry the token.
    package let origin: Origin

    package init(token: AccessToken, user: String, archive: URLResolver) {
        self.token = token
        self.user = user
        self.origin = Origin(archive.archive) ?? Origin(scheme: "", host: "", port: 0)
    }

    /// The headers a request to `url` carries: the token when `url` is on the archive, else none.
    /// libcurl keeps a custom `Authorization` from redirects to another host or port.
    package func headers(for url: String) -> [String] {
        Origin(url) == origin ? [token.header] : []
    }
}
