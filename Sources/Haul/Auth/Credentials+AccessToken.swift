import Foundation

extension Credentials {
    /// A MAST API token (Auth.MAST). Its text never leaves this type except as the `Authorization`
    /// header of a request to the archive: printing, interpolating or dumping it shows `<token>`.
    public struct AccessToken: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
        private let value: String

        /// The environment variable a token is read from.
        public static let environmentVariable = "MAST_API_TOKEN"

        /// - Parameters:
        ///   - text: The token; surrounding spaces and line breaks are dropped.
        ///   - source: Where it came from (a file's path, a variable's name), which error messages name.
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
}
