/// The extra headers of one request, built in one place for every request a download makes: a
/// product's fetch, its `--refresh` question, and the sign-in's `whoami`.
///
/// ``Configuration/headers`` (curl's `-H`) go with every request to the origin of
/// ``Configuration/headersOrigin`` (bound to that origin, so a redirect elsewhere drops them), or to
/// every host when that is `nil`; the headers a caller adds (the token, conditions) follow them.
struct RequestHeaders: Sendable, Equatable {
    /// Sent whatever host the request reaches.
    var everywhere: [String]
    /// Sent only while the request is on its URL's origin (libcurl drops them after a redirect elsewhere).
    var originBound: [String]

    /// - Parameters:
    ///   - url: The request's URL.
    ///   - configuration: Where the `-H` headers and their origin come from.
    ///   - adding: The caller's own headers (a token, `If-None-Match`…), sent with the request whatever
    ///     its origin; a token is added only for the archive's origin by ``Credentials/headers(for:)``.
    init(url: String, configuration: Configuration, adding: [String] = []) {
        let headers = configuration.headers
        if headers.isEmpty {
            (everywhere, originBound) = (adding, [])
        } else if let origin = configuration.headersOrigin {
            // Bound to the archive's origin: a request elsewhere carries none of them.
            let onOrigin = Origin(url) != nil && Origin(url) == Origin(origin)
            (everywhere, originBound) = (adding, onOrigin ? headers : [])
        } else {
            (everywhere, originBound) = (headers + adding, [])
        }
    }
}
