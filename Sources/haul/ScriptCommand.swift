import ArgumentParser
import Foundation
import Haul

/// `haul script`: the overlay's API QUERY, a bash script of curl commands for the selection.
struct ScriptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "script",
        abstract: "Write a bash script that fetches the selection with plain curl, into the layout `download --dir` writes.",
        discussion: """
        Every unique URI once, with plain curl (--fail --location --create-dirs --retry), into \
        DIR/DATASET/FILE (or DIR/FILE with --layout flat); DIR is the script's first argument, by \
        default ROOT. The script writes nothing but the files. Transfers run in parallel (--parallel, \
        or HAUL_PARALLEL when it runs): one curl --parallel where curl is 7.75 or later, else that many \
        curl processes at once. Each file is written under a temporary name and renamed when complete, \
        so running the script again skips the files already there (of the catalog's size, when it \
        states one) and fetches only the rest. Public files need no token. Exclusive-access files are \
        fetched with a MAST API token (MAST_API_TOKEN, or typed without echo on a terminal), sent to the \
        archive only; without one they are skipped with a warning, as download does. The script itself \
        never holds a token. It needs bash 4.3 and curl.

        With --source auto, the public files MAST's public bucket on AWS has (asked of the archive's \
        path lookup now, 40 at a time) are fetched from there first, anonymously, and each one the \
        bucket does not give from the archive; the script states both URLs.

        Examples:
          haul script products.json --quick recommended -o fetch.sh && bash fetch.sh data
          haul script products.json --level 2b --suffix cal | bash -s -- data
          haul script products.json --source auto -o fetch.sh
        """
    )

    @OptionGroup(title: "Selection") var selection: SelectionOptions

    @OptionGroup(title: "Messages") var verbosity: QuietOption

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Write the script here (made executable); default standard output.", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("The folder the script fetches into when run without an argument (default: the script's name without extension, else the first catalog's).", valueName: "name"))
    var root: String?

    @Option(help: "Retries of a transient failure, for curl's --retry.")
    var retries: Int = 5

    @Option(help: "Transfers at once when the script runs (HAUL_PARALLEL overrides it then).")
    var parallel: Int = 8

    func validate() throws {
        if let root, SafePath.problem(in: root, what: "--root") != nil || root.contains("/") || root.contains("\\") {
            throw ValidationError("--root must be a plain folder name")
        }
        guard (0...100).contains(retries) else { throw ValidationError("--retries must be between 0 and 100") }
        guard (1...300).contains(parallel) else { throw ValidationError("--parallel must be between 1 and 300 (curl's own bound)") }
        if let output, output.isEmpty || output.hasSuffix("/") { throw ValidationError("-o must name a file") }
        if selection.source == .cloud {
            throw ValidationError("--source cloud: the script fetches from the bucket with the archive as each file's fallback; use --source auto (or archive)")
        }
    }

    func run() async throws {
        verbosity.apply()
        let defaultRoot = output.map(Runner.stem) ?? Runner.stem(selection.catalogs[0] == "-" ? "haul" : selection.catalogs[0])
        // Exclusive-access products are in the script: it asks for the token when it runs.
        let (_, plan) = try selection.plan(root: root ?? defaultRoot, authorized: true)
        // Cloud URLs only when asked for (--source auto): the default script asks the archive nothing now.
        var cloud: [Int: String] = [:]
        if selection.source == .auto {
            let located = try await withEngine(Configuration()) { engine in await engine.cloudLocations(plan, entries: plan.downloads) }
            cloud = located.compactMapValues(\.url)
        }
        let script = CurlScript(
            plan: plan, archive: try selection.resolver(), retries: retries, parallel: parallel,
            generator: (["haul"] + CommandLine.arguments.dropFirst()).joined(separator: " "), cloud: cloud
        )
        let text = script.text()
        if let output {
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
                _ = chmod(output, 0o755)
            } catch {
                throw HaulError(.output, "cannot write \(output): \(error.localizedDescription)")
            }
        } else {
            Terminal.standardOutput(text)
        }
        var note = "\(output.map { "wrote \($0): " } ?? "")\(Format.count(script.fetched, "file")) to fetch with curl"
        if plan.summary.selectedBytes > 0 { note += " (\(Format.bytes(plan.summary.selectedBytes)))" }
        if plan.summary.duplicates > 0 { note += "; \(Format.count(plan.summary.duplicates, "duplicate row")) fetched once" }
        if script.exclusive > 0 { note += "; \(Format.count(script.exclusive, "exclusive-access file")): fetched with a token ($MAST_API_TOKEN, or asked for), else skipped" }
        Terminal.note(note)
    }
}
