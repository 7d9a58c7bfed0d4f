import Foundation
import Haul

/// The overlay's selectors as a query (`?quick=recommended&level=2b&level=3`) or a form body: the same
/// names as the command line's options, so a URL reads like the `haul select` command it equals.
///
/// Names: `quick`, `level` and `suffix` (repeatable, or comma-separated), `guidestar=1`,
/// `pipeline-inputs=1`, `regex`, `layout`, `compression`, `compression-level`, `root`, `page`,
/// `page-size`; the server's own `key`, and `token` (in a POST body only).
struct OverlayQuery: Sendable {
    var quick: Selection.Quick?
    var levels: [String] = []
    var suffixes: [String] = []
    var guideStars = false
    var pipelineInputs = false
    var regex: String?
    var layout: Plan.Layout = .nested
    var compression: DownloadTarget.Compression.Mode = .auto
    var compressionLevel = 6
    var root: String?
    var page = 1
    var pageSize = 100
    var key: String?
    /// Taken from a POST body only: a query string ends up in histories and logs.
    var token: String?
    /// The command-line options these names equal, in the order given (`--quick recommended --level 2b`).
    var arguments: [String] = []

    /// Reads `name=value` pairs.
    ///
    /// - Parameter allowToken: Whether a `token` may be among them (a POST body).
    /// - Throws: ``HaulError`` (`invalidArgument`) naming the field and what it should be.
    init(_ pairs: [(String, String)], allowToken: Bool = false) throws {
        func flag(_ name: String, _ value: String) throws -> Bool {
            switch value.lowercased() {
            case "1", "true", "on", "yes", "": return true
            case "0", "false", "off", "no": return false
            default: throw HaulError(.invalidArgument, "\(name)=\(value): expected 1 or 0")
            }
        }
        func number(_ name: String, _ value: String, _ range: ClosedRange<Int>) throws -> Int {
            guard let n = Int(value), range.contains(n) else {
                throw HaulError(.invalidArgument, "\(name)=\(value): expected a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return n
        }
        for (name, value) in pairs {
            switch name {
            case "quick":
                guard let q = Selection.Quick(rawValue: value.lowercased()) else {
                    throw HaulError(.invalidArgument, "quick=\(value): expected all, recommended or none")
                }
                quick = q
                arguments += ["--quick", q.rawValue]
            case "level", "suffix":
                let values = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                guard !values.isEmpty else { throw HaulError(.invalidArgument, "\(name)= needs a value") }
                if name == "level" { levels += values } else { suffixes += values }
                arguments += ["--\(name)", value]
            case "guidestar":
                guideStars = try flag(name, value)
                if guideStars { arguments.append("--guidestar") }
            case "pipeline-inputs":
                pipelineInputs = try flag(name, value)
                if pipelineInputs { arguments.append("--pipeline-inputs") }
            case "regex":
                // An empty box is no filter, as on the page.
                regex = value.isEmpty ? nil : value
                if !value.isEmpty { arguments += ["--regex", value] }
            case "layout":
                guard let l = Plan.Layout(rawValue: value.lowercased()) else {
                    throw HaulError(.invalidArgument, "layout=\(value): expected nested or flat")
                }
                layout = l
                arguments += ["--layout", l.rawValue]
            case "compression":
                guard let c = DownloadTarget.Compression.Mode(rawValue: value.lowercased()) else {
                    throw HaulError(.invalidArgument, "compression=\(value): expected auto, store or deflate")
                }
                compression = c
            case "compression-level":
                compressionLevel = try number(name, value, 1...9)
            case "root":
                guard SafePath.problem(in: value, what: "root") == nil, !value.contains("/"), !value.contains("\\") else {
                    throw HaulError(.invalidArgument, "root=\(value): expected a plain folder name")
                }
                root = value
                arguments += ["--root", value]
            case "page":
                page = try number(name, value, 1...Int(Int32.max))
            case "page-size":
                pageSize = try number(name, value, 1...1_000_000)
            case "key":
                key = value
            case "token":
                guard allowToken else {
                    throw HaulError(.invalidArgument, "token: send a token in a POST body, never in a URL (URLs end up in histories and logs)")
                }
                token = value.isEmpty ? nil : value
            default:
                throw HaulError(.invalidArgument, "\(name): not a selector (expected quick, level, suffix, guidestar, pipeline-inputs, regex, layout, compression, compression-level, root, page, page-size)")
            }
        }
    }

    /// The selection these names describe.
    ///
    /// - Throws: ``HaulError`` (`invalidArgument`) for a regular expression that does not compile, saying where.
    func selection() throws -> Selection {
        Selection(
            quick: quick, levels: levels, suffixes: suffixes, guideStars: guideStars,
            pipelineInputs: pipelineInputs, pattern: try regex.map(Selection.FileNamePattern.init)
        )
    }

    var compressionValue: DownloadTarget.Compression { DownloadTarget.Compression(compression, level: compressionLevel) }

    /// `name=value&…` (a query string or an `application/x-www-form-urlencoded` body) as pairs, in order.
    ///
    /// - Throws: ``HaulError`` (`invalidArgument`) for a field that is not valid percent-encoding.
    static func pairs(_ text: Substring) throws -> [(String, String)] {
        if let pairs = HTTPFields.formPairs(text) { return pairs }
        let field = text.split(separator: "&").first { HTTPFields.formPairs($0) == nil } ?? text
        throw HaulError(.invalidArgument, "\(field.prefix(40)): not valid percent-encoding")
    }
}
