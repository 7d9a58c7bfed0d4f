import ArgumentParser
import Foundation
import Haul
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `haul`: the command-line layer over the Haul library.
struct HaulCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "haul",
        abstract: "Download an archive's data products through hundreds of concurrent transfers.",
        discussion: """
        Haul reads MAST product lists (CAOM JSON, missions-search JSON, the Download Overlay's CSV \
        export, or plain lists of mast: URIs and URLs), selects products as the overlay does, and \
        fetches every unique file with libcurl into one ZIP (a file or a stream) or a folder tree, \
        with a manifest.

        Exclusive-access files need a MAST API token: $MAST_API_TOKEN, --token-file FILE, or a \
        prompt on a terminal; never a command-line value.

        Exit status: 0 every selected file OK; 1 some failed (the manifest says which; a host that \
        refuses every connection fails its files at once), or the disk filled; 2 input, usage or \
        output-path error, a selector value the catalog does not have, or nothing selected for \
        download (nothing downloaded, nothing overwritten); 130 interrupted (the manifest says CANCELLED).

        Start with `haul demo`, which needs no network.
        """,
        version: Versions.report,
        subcommands: [SelectCommand.self, DownloadCommand.self, BenchCommand.self, ScriptCommand.self, DemoCommand.self, ServeCommand.self, SampleCommand.self,
                      PlanCommand.self, StatusCommand.self, MergeCommand.self]
    )
}

/// Ends the process with a status, after the command has said what it had to.
struct ExitStatus: Error {
    var code: Int32
}

@main
enum Main {
    static func main() async {
        Haul.raiseOpenFileLimit()
        // A closed pipe on standard output (`haul … --progress json | head`) is an error to report, not a signal to die of.
        signal(SIGPIPE, SIG_IGN)
        // A file-size limit (ulimit -f) is a full disk to report (EFBIG), not a signal to die of.
        signal(SIGXFSZ, SIG_IGN)
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.isEmpty {
            // Bare `haul` is a usage error: a short usage on standard error, status 2.
            Terminal.standardError(Usage.short)
            exit(2)
        }
        if let problem = Usage.unknownOption(in: arguments) {
            Terminal.error(problem)
            exit(2)
        }
        // `download --shard DIR` is a plan's task: it takes no catalogs, so it is parsed apart.
        let parser: any ParsableCommand.Type = ShardDownloadCommand.isRequested(arguments) ? ShardDownloadCommand.self : HaulCommand.self
        do {
            var command: any ParsableCommand = ShardDownloadCommand.isRequested(arguments)
                ? try ShardDownloadCommand.parse(Array(arguments.dropFirst()))
                : try HaulCommand.parseAsRoot(arguments)
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let status as ExitStatus {
            exit(status.code)
        } catch let error as HaulError {
            Terminal.error(error.message)
            exit(error.isInputError ? 2 : 1)
        } catch {
            let code = parser.exitCode(for: error)
            if code == .success {
                parser.exit(withError: error)
            }
            // Usage errors are status 2, like every other input error (ArgumentParser says 64), and
            // carry the one prefix every error has.
            var message = parser.fullMessage(for: error)
            if message.hasPrefix("Error: ") { message = "haul: error: " + message.dropFirst(7) }
            if code.rawValue == 64 || code == .validationFailure {
                Terminal.standardError(message + "\n")
                exit(2)
            }
            parser.exit(withError: error)
        }
    }
}

/// What the command line is checked for before it is parsed.
enum Usage {
    static let short = """
    usage: haul select CATALOG… [selectors]            show what the selectors pick
           haul download CATALOG… [selectors] (--zip FILE | --zip - | --dir DIR)
           haul script CATALOG… [selectors] [-o FILE]  write a curl script
           haul demo                                   try it on the loopback archive (no network)
           haul serve [CATALOG…] [--demo]              the Download Overlay in a browser
    haul --help, or haul COMMAND --help, says more; on a cluster: haul plan --help.

    """

    /// The first option `arguments` give that their command does not have, worded with the closest
    /// one it has: ArgumentParser would report a missing --zip first, or offer --quick for --quiet.
    static func unknownOption(in arguments: [String]) -> String? {
        let commands: [String: any ParsableCommand.Type] = [
            "select": SelectCommand.self, "download": DownloadCommand.self, "bench": BenchCommand.self, "script": ScriptCommand.self,
            "demo": DemoCommand.self, "sample": SampleCommand.self, "plan": PlanCommand.self, "status": StatusCommand.self,
            "merge": MergeCommand.self,
        ]
        guard let first = arguments.first, let command = commands[first] else { return nil }
        let options = self.options(of: command)
        var i = 1
        while i < arguments.count {
            let argument = arguments[i]
            i += 1
            if argument == "--" { break }
            guard argument.hasPrefix("-"), argument != "-" else { continue }
            // ArgumentParser's own: shell completion and the dump the manual pages are made from.
            if argument.hasPrefix("---") || argument.hasPrefix("--experimental-") || argument.hasPrefix("--generate-completion-script") { continue }
            if argument.hasPrefix("--") {
                let name = String(argument.prefix { $0 != "=" })
                guard let takesValue = options.long[name] else {
                    let near = closest(name, in: Array(options.long.keys))
                    return "\(first): unknown option '\(name)'" + (near.map { "; did you mean '\($0)'?" } ?? "") + " (haul \(first) --help lists them)"
                }
                if takesValue, !argument.contains("=") { i += 1 }
            } else {
                // -v, -vv, -q, -H VALUE, -HVALUE, -o FILE
                for (k, letter) in argument.dropFirst().enumerated() {
                    guard let takesValue = options.short[letter] else {
                        let spelled = "-\(letter)"
                        return "\(first): unknown option '\(spelled)'" + (argument.count > 2 ? " in '\(argument)'" : "") + " (haul \(first) --help lists the options)"
                    }
                    if takesValue {
                        if k == argument.count - 2 { i += 1 }
                        break
                    }
                }
            }
        }
        return nil
    }

    /// A command's option names (from its full help), and whether each takes a value.
    static func options(of command: any ParsableCommand.Type) -> (long: [String: Bool], short: [Character: Bool]) {
        var long: [String: Bool] = ["--help": false, "--version": false]
        var short: [Character: Bool] = ["h": false]
        let help = HaulCommand.helpMessage(for: command, includeHidden: true, columns: 100_000)
        for line in help.split(separator: "\n") {
            let text = line.drop { $0 == " " }
            guard text.hasPrefix("-"), line.count - text.count <= 4 else { continue }
            let head = text.components(separatedBy: "  ").first ?? ""
            let takesValue = head.contains("<")
            for part in head.components(separatedBy: ", ") {
                let name = part.prefix { $0 != " " }
                if name.hasPrefix("--") { long[String(name)] = takesValue }
                else if name.count == 2, let letter = name.last { short[letter] = takesValue }
            }
        }
        return (long, short)
    }

    /// The name nearest to `name` by edit distance, when it is near enough to be a typo.
    static func closest(_ name: String, in names: [String]) -> String? {
        let word = Array(name.dropFirst(2))
        var best: (String, Int)?
        for candidate in names where candidate != "--help" && candidate != "--version" {
            let distance = editDistance(word, Array(candidate.dropFirst(2)))
            if best == nil || distance < best!.1 || (distance == best!.1 && candidate < best!.0) { best = (candidate, distance) }
        }
        guard let best else { return nil }
        let prefixMatch = names.filter { $0.hasPrefix(name) }
        if prefixMatch.count == 1 { return prefixMatch[0] }
        return best.1 <= max(2, word.count / 3) ? best.0 : nil
    }

    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
