import Foundation

/// What an S3 error body says: `<Error><Code>NoSuchKey</Code><Message>…</Message>…</Error>`.
///
/// S3 answers a failure with this XML; its code tells a missing key from a refusal or a request to
/// slow down (`503 SlowDown`), and goes into the manifest's reason.
package struct S3Error: Sendable, Hashable, CustomStringConvertible {
    package var code: String
    package var message: String

    /// Reads the code and message of an S3 error body; `nil` when the body is not one.
    package init?(body: [UInt8]) {
        guard !body.isEmpty else { return nil }
        let text = String(decoding: body, as: UTF8.self)
        guard text.contains("<Error>"), let code = Self.element("Code", in: text), !code.isEmpty else { return nil }
        self.code = code
        self.message = Self.element("Message", in: text) ?? ""
    }

    /// `Code: Message`, as the manifest gives it.
    package var description: String { message.isEmpty ? code : "\(code): \(message)" }

    /// The text of the first `<name>…</name>`, its five XML entities decoded.
    static func element(_ name: String, in text: String) -> String? {
        guard let open = text.range(of: "<\(name)>"),
              let close = text.range(of: "</\(name)>", range: open.upperBound..<text.endIndex) else { return nil }
        var value = String(text[open.upperBound..<close.lowerBound])
        for (entity, character) in [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&apos;", "'"), ("&amp;", "&")] where value.contains(entity) {
            value = value.replacingOccurrences(of: entity, with: character)
        }
        return value.trimmingSpaces()
    }
}
