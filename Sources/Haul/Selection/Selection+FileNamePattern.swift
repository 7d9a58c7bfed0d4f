import Foundation

extension Selection {
    /// A JavaScript-style regular expression over file names, as the overlay's regex box takes it:
    /// `pattern` or `/pattern/flags`. A name is kept when the pattern matches anywhere in it (`test()`).
    ///
    /// The pattern is checked in JavaScript's terms first, so an error says where it broke, then
    /// translated to ICU's dialect (NSRegularExpression): a `[` inside a class is literal, `$` without
    /// the `m` flag is the very end, `[^]` is any character, and `{` that starts no quantifier is literal.
    public struct FileNamePattern: Sendable, CustomStringConvertible {
        /// The pattern as given.
        public let source: String
        private let expression: Expression
        private let sticky: Bool

        /// - Throws: ``HaulError`` (`invalidArgument`) saying what is wrong and at which character.
        public init(_ text: String) throws {
            source = text
            var body = text
            var flags = ""
            if text.hasPrefix("/"), let close = text.lastIndex(of: "/"), close != text.startIndex {
                body = String(text[text.index(after: text.startIndex)..<close])
                flags = String(text[text.index(after: close)...])
                var seen = Set<Character>()
                for flag in flags {
                    guard "dgimsuy".contains(flag) else {
                        throw Self.error(text, "unknown flag \"\(flag)\": JavaScript's flags are d, g, i, m, s, u and y", at: nil)
                    }
                    guard seen.insert(flag).inserted else {
                        throw Self.error(text, "the flag \"\(flag)\" is given twice", at: nil)
                    }
                }
            }
            let offset = body == text ? 0 : 1
            let translated = try Self.translate(body, multiline: flags.contains("m"), unicode: flags.contains("u"), source: text, offset: offset)
            var options: NSRegularExpression.Options = []
            if flags.contains("i") { options.insert(.caseInsensitive) }
            if flags.contains("m") { options.insert(.anchorsMatchLines) }
            if flags.contains("s") { options.insert(.dotMatchesLineSeparators) }
            do {
                expression = Expression(try NSRegularExpression(pattern: translated, options: options))
            } catch {
                throw Self.error(text, "not a pattern this engine can run (lookbehind must have a bounded length)", at: nil)
            }
            sticky = flags.contains("y")
        }

        /// Whether the pattern matches the name (anywhere; at its start with the `y` flag).
        public func matches(_ name: String) -> Bool {
            let range = NSRange(location: 0, length: name.utf16.count)
            let options: NSRegularExpression.MatchingOptions = sticky ? [.anchored] : []
            return expression.regex.firstMatch(in: name, options: options, range: range) != nil
        }

        public var description: String { source }

        private final class Expression: @unchecked Sendable {
            // NSRegularExpression is immutable once made and safe to use from several threads.
            let regex: NSRegularExpression
            init(_ regex: NSRegularExpression) { self.regex = regex }
        }

        // MARK: Checking and translation

        /// Walks the JavaScript pattern once: reports the first error with its position, and writes the
        /// ICU pattern that means the same.
        static func translate(_ body: String, multiline: Bool, unicode: Bool, source: String, offset: Int) throws -> String {
            let chars = Array(body)
            var out = ""
            var i = 0
            var groups: [Int] = []
            // Whether the previous item can take a quantifier.
            var atom = false
            func fail(_ reason: String, _ at: Int) -> HaulError { error(source, reason, at: at + offset) }
            while i < chars.count {
                let c = chars[i]
                switch c {
                case "\\":
                    guard i + 1 < chars.count else { throw fail("a \\ at the end escapes nothing", i) }
                    let n = chars[i + 1]
                    if n == "0", i + 2 >= chars.count || !chars[i + 2].isNumber {
                        out += "\\x{0}"
                    } else if n == "/" {
                        out += "/"
                    } else if n == "u", unicode, i + 2 < chars.count, chars[i + 2] == "{" {
                        guard let close = chars[(i + 3)...].firstIndex(of: "}") else { throw fail("\\u{ is never closed", i) }
                        out += "\\x{" + String(chars[(i + 3)..<close]) + "}"
                        i = close + 1
                        atom = true
                        continue
                    } else {
                        out.append("\\"); out.append(n)
                    }
                    i += 2
                    atom = !(n == "b" || n == "B")
                case "[":
                    let start = i
                    i += 1
                    var negated = false
                    if i < chars.count, chars[i] == "^" { negated = true; i += 1 }
                    var members = ""
                    var closed = false
                    while i < chars.count {
                        let d = chars[i]
                        if d == "]" { closed = true; break }
                        if d == "\\" {
                            guard i + 1 < chars.count else { throw fail("a \\ at the end escapes nothing", i) }
                            members.append("\\"); members.append(chars[i + 1] == "/" ? "/" : chars[i + 1])
                            i += 2
                            continue
                        }
                        // ICU gives these meaning inside a class (nested sets, && and -- operations); JavaScript does not.
                        if d == "[" || d == "&" || (d == "-" && i + 1 < chars.count && chars[i + 1] == "-") { members += "\\" + String(d) }
                        else { members.append(d) }
                        i += 1
                    }
                    guard closed else { throw fail("a [ class is never closed with ]", start) }
                    i += 1
                    if members.isEmpty { out += negated ? "[\\s\\S]" : "(?!)" }
                    else { out += "[" + (negated ? "^" : "") + members + "]" }
                    atom = true
                case "(":
                    groups.append(i)
                    out.append("(")
                    i += 1
                    if i < chars.count, chars[i] == "?" {
                        // The group's kind: (?: (?= (?! (?<= (?<! or a named group (?<name>.
                        let rest = String(chars[i..<min(chars.count, i + 3)])
                        var prefix: Int
                        if rest.hasPrefix("?:") || rest.hasPrefix("?=") || rest.hasPrefix("?!") { prefix = 2 }
                        else if rest.hasPrefix("?<=") || rest.hasPrefix("?<!") { prefix = 3 }
                        else if rest.hasPrefix("?<"), let close = chars[i...].firstIndex(of: ">"), close > i + 2,
                                chars[(i + 2)..<close].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "$" }) {
                            prefix = close - i + 1
                        } else {
                            throw fail("\"(?\" must be followed by :, =, !, <=, <! or <name>", i - 1)
                        }
                        out += String(chars[i..<(i + prefix)])
                        i += prefix
                    }
                    atom = false
                case ")":
                    guard groups.popLast() != nil else { throw fail("a ) without a matching (", i) }
                    out.append(")")
                    i += 1
                    atom = true
                case "|":
                    out.append("|"); i += 1; atom = false
                case "*", "+", "?":
                    guard atom else { throw fail("nothing to repeat before \"\(c)\"", i) }
                    out.append(c); i += 1
                    // A lazy quantifier (`*?`) is one token.
                    if i < chars.count, chars[i] == "?" { out.append("?"); i += 1 }
                    atom = false
                case "{":
                    if let (text, length, low, high) = quantifier(chars, at: i) {
                        guard atom else { throw fail("nothing to repeat before \"\(text)\"", i) }
                        if let high, high < low { throw fail("the numbers in \(text) are out of order", i) }
                        out += text; i += length
                        if i < chars.count, chars[i] == "?" { out.append("?"); i += 1 }
                        atom = false
                    } else {
                        guard !unicode else { throw fail("a { that starts no quantifier (escape it as \\{)", i) }
                        out += "\\{"; i += 1; atom = true
                    }
                case "}":
                    guard !unicode else { throw fail("a } without a quantifier (escape it as \\})", i) }
                    out += "\\}"; i += 1; atom = true
                case "$":
                    out += multiline ? "$" : "\\z"; i += 1; atom = false
                case "^":
                    out.append("^"); i += 1; atom = false
                default:
                    // ICU reads `#` and spaces literally without the x flag, as JavaScript does.
                    out.append(c); i += 1; atom = true
                }
            }
            if let open = groups.last { throw fail("a ( is never closed with )", open) }
            return out
        }

        /// A `{n}`, `{n,}` or `{n,m}` quantifier at `i`: its text, length and bounds.
        static func quantifier(_ chars: [Character], at i: Int) -> (String, Int, Int, Int?)? {
            guard let close = chars[i...].firstIndex(of: "}") else { return nil }
            let inside = String(chars[(i + 1)..<close])
            let parts = inside.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)
            guard let first = parts.first, !first.isEmpty, first.allSatisfy(\.isASCII), let low = Int(first) else { return nil }
            var high: Int? = low
            if parts.count == 2 {
                if parts[1].isEmpty { high = nil } else {
                    guard parts[1].allSatisfy(\.isASCII), let h = Int(parts[1]) else { return nil }
                    high = h
                }
            }
            return ("{" + inside + "}", close - i + 1, low, high)
        }

        static func error(_ source: String, _ reason: String, at position: Int?) -> HaulError {
            guard let position else { return HaulError(.invalidArgument, "--regex \(source): \(reason)") }
            let shown = String(source.map { $0.isNewline ? " " : $0 })
            return HaulError(.invalidArgument, """
                --regex: \(reason), at character \(position + 1):
                  \(shown)
                  \(String(repeating: " ", count: position))^
                """)
        }
    }
}
