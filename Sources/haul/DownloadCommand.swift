import ArgumentParser
import Foundation
import Haul

struct DownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download the selected products into one ZIP (a file or a stream) or a folder tree, with a manifest.",
        discussion: """
        Every unique URI is fetched once; later rows with the same URI are listed in the manifest as \
        duplicates. Nothing partial is ever kept: a ZIP entry is written only once all its bytes arrived \
        and checked, and a file under --dir is renamed into place only then. ROOT/manifest.html and \
        ROOT/manifest.csv list every selected product with its status.

        --zip FILE writes FILE.haul-part and renames it when finished. After Ctrl-C the archive is \
        finished with what is complete; after a crash or kill -9, the same command again keeps every \
        complete entry and fetches only the rest. --zip - streams the archive to standard output. \
        ROOT is the output's name without its extension, unless --root says otherwise.

        The output is checked before the first request: a folder at the --zip path, a folder that is \
        missing or not writable, --dir naming a file, or a file at the --zip path that is not an \
        archive this command can complete ends the run with status 2, nothing written. A user's file \
        is never overwritten unless --force says so. A full disk stops the run with status 1 and says \
        so: complete files stay (the ZIP is finished with them, or FILE.haul-part is kept), and the \
        same command, once there is space, fetches the rest. Finished files, folders and archives are \
        flushed to the disk (fsync) before the run ends, so a power cut after it loses nothing.

        The manifest records each file's size, CRC-32, Last-Modified and ETag. Running the same command \
        again sends no request for files already complete; with --refresh it sends one conditional \
        request for each (If-None-Match, If-Modified-Since) and fetches again only the files the archive \
        changed since (reprocessed under the same name): under --dir the new file is renamed over the \
        old, in a ZIP the new entry is appended and the old one removed.

        Examples:
          haul download products.json --zip jwst.zip
          haul download products.json --quick recommended --zip - | ssh host 'cat > bundle.zip'
          haul download products.json --zip out.zip --compression deflate --compression-level 1 --parallel 256
          haul download products.json --layout flat --dir data
          haul download products.json --dir data --refresh
          cat uris.txt | haul download - --dir data --archive http://127.0.0.1:8080
        """
    )

    @OptionGroup(title: "Selection") var selection: SelectionOptions

    @OptionGroup(title: "Exclusive access") var tokens: TokenOptions

    @Option(help: ArgumentHelp("Write one ZIP here; - streams it to standard output.", valueName: "file"))
    var zip: String?

    @Option(help: ArgumentHelp("Write the files into this folder (created when missing).", valueName: "dir"))
    var dir: String?

    @Flag(help: "Replace a file at the --zip path that is not an archive this command can complete (by default such a file is never overwritten).")
    var force = false

    @Flag(help: "Ask the archive whether each file complete from an earlier run changed (one conditional request each, with the ETag and Last-Modified the manifest recorded) and fetch again only those that did; the new version replaces the old. Without it, complete files cost no request.")
    var refresh = false

    @Flag(name: .customLong("no-fsync"), help: "Do not flush finished files and folders to the disk (faster on slow disks; a power cut may lose files reported done).")
    var noFsync = false

    @Option(help: ArgumentHelp("The top folder inside the bundle (default: the --zip file's name without extension; under --dir, a folder inside it).", valueName: "name"))
    var root: String?

    @OptionGroup(title: "Compression (--zip)") var compression: CompressionOptions

    @OptionGroup(title: "Transfers") var transfers: TransferOptions

    func validate() throws {
        switch (zip, dir) {
        case (nil, nil): throw ValidationError("say where the files go: --zip FILE, --zip - (standard output) or --dir DIR")
        case (.some, .some): throw ValidationError("--zip and --dir cannot be used together")
        default: break
        }
        if let dir, dir.isEmpty { throw ValidationError("--dir must name a folder") }
        if let zip, zip.isEmpty || zip.hasSuffix("/") { throw ValidationError("--zip must name a file, or - for standard output") }
        if let root, SafePath.problem(in: root, what: "--root") != nil || root.contains("/") || root.contains("\\") {
            throw ValidationError("--root must be a plain folder name")
        }
        if refresh && zip == "-" { throw ValidationError("--refresh asks about the files of an earlier run: it needs --dir DIR or --zip FILE, not --zip -") }
        if force && (zip == nil || zip == "-") { throw ValidationError("--force replaces a file at the --zip FILE path; it does nothing with --dir or --zip -") }
        if zip == "-" && Terminal.standardOutputIsTerminal {
            throw ValidationError("--zip - writes a binary archive to standard output: redirect it to a file or a pipe")
        }
    }

    func run() async throws {
        let target: DownloadTarget
        let defaultRoot: String
        if let zip {
            target = zip == "-"
                ? .zipStream(FileDescriptorStream(fd: 1, name: "standard output"), compression.value)
                : .zip(zip, compression.value)
            defaultRoot = zip == "-" ? Runner.stem(selection.catalogs[0] == "-" ? "haul" : selection.catalogs[0]) : Runner.stem(zip)
        } else {
            let dir = dir!
            target = .directory(root.map { dir + "/" + $0 } ?? dir)
            defaultRoot = Runner.lastComponent(dir)
        }
        var token = try tokens.token()
        let (catalog, firstPlan) = try selection.plan(root: root ?? defaultRoot, authorized: token != nil)
        var plan = firstPlan
        if token == nil, plan.summary.excludedExclusive > 0, Terminal.standardInputIsTerminal, !selection.catalogs.contains("-") {
            let n = plan.summary.excludedExclusive
            if let text = Terminal.readSecret("\(n.grouped) exclusive-access file\(n == 1 ? " is" : "s are") selected. MAST API token (input hidden; Enter to go on without them): ") {
                token = try AccessToken(text, from: "the token typed")
                plan = try selection.plan(catalog, root: plan.root, authorized: true)
            }
        }
        var configuration = transfers.configuration
        configuration.synchronizesOutput = !noFsync
        let report = try await Runner.download(
            plan, to: target, configuration: configuration, progress: transfers.progress,
            token: token, archive: try selection.resolver(), overwrite: force, refresh: refresh
        )
        throw ExitStatus(code: report.exitStatus)
    }
}

/// The download loop the commands share: runs the engine, shows progress, handles Ctrl-C, prints the summary.
enum Runner {
    /// - Parameters:
    ///   - token: Signed in with at the archive first (`/whoami`); the plan must have been built authorized.
    ///   - overwrite: Replace a file at the ZIP path that is not an archive of this plan (`--force`).
    ///   - refresh: Ask about complete files and fetch again those that changed (`--refresh`).
    static func download(
        _ plan: Plan, to target: DownloadTarget, configuration: Configuration, progress: ProgressMode,
        token: AccessToken? = nil, archive: URLResolver? = nil, overwrite: Bool = false, refresh: Bool = false
    ) async throws -> DownloadReport {
        // The output path, before a word is printed or a request (even /whoami) is made.
        try target.check(for: plan, overwrite: overwrite)
        var toStandardOutput = false
        if case .zipStream(let stream as FileDescriptorStream, _) = target, stream.fd == 1 { toStandardOutput = true }
        let jsonDescriptor: Int32 = toStandardOutput ? 2 : 1
        let s = plan.summary
        var intro = "\(s.selectedFiles) unique files selected"
        if s.selectedBytes > 0 { intro += " (\(Format.bytes(s.selectedBytes)))" }
        intro += " of \(s.totalFiles) in the catalog"
        if s.duplicates > 0 { intro += "; \(s.duplicates) duplicate rows" }
        if s.excludedExclusive > 0 { intro += "; \(s.excludedExclusive) exclusive-access files excluded: they need a token ($MAST_API_TOKEN or --token-file)" }
        if s.unsafe > 0 { intro += "; \(s.unsafe) with unsafe names" }
        if progress.resolved != .json { Terminal.note(intro) }

        let report = try await withEngine(configuration) { engine in
            var credentials: Credentials?
            if let token, let archive {
                credentials = try await engine.signIn(token, archive: archive)
                if progress.resolved != .json { Terminal.note("signed in to \(archive.archive) as \(credentials!.user)") }
            }
            let download = engine.download(plan, to: target, credentials: credentials, overwrite: overwrite, refresh: refresh)
            let interrupt = Interrupt { download.cancel() }
            defer { interrupt.cancel() }
            let shown = Task {
                var display = ProgressDisplay(mode: progress, jsonDescriptor: jsonDescriptor)
                for await event in download.events { display.show(event) }
                display.finish()
            }
            let report = try await download.report
            await shown.value
            return report
        }
        if progress.resolved == .json {
            Terminal.emit(JSONLine.summary(report) + "\n", to: jsonDescriptor)
        }
        var parts = ["\(report.ok) files OK"]
        if report.skipped > 0 { parts[0] += " (\(report.skipped) already complete)" }
        if report.unchanged + report.replaced > 0 {
            parts[0] += " (\(report.unchanged) unchanged on the archive, \(report.replaced) changed and fetched again)"
        }
        if report.failed > 0 { parts.append("\(report.failed) FAILED") }
        if report.cancelled > 0 { parts.append("\(report.cancelled) CANCELLED") }
        if report.duplicates > 0 { parts.append("\(report.duplicates) duplicates") }
        if report.excluded > 0 { parts.append("\(report.excluded) excluded") }
        let rate = report.seconds > 0 ? Double(report.bytesReceived) / report.seconds : 0
        Terminal.note(parts.joined(separator: ", ") + " — \(Format.bytes(report.bytesReceived)) in \(Format.seconds(report.seconds)) (\(Format.rate(rate)))")
        for row in report.manifest.rows.lazy.filter({ if case .failed = $0.status { return true } else { return false } }).prefix(10) {
            Terminal.note("  \(row.file): \(row.statusText)")
        }
        if report.failed > 10 { Terminal.note("  … and \(report.failed - 10) more FAILED: see the manifest") }
        switch target {
        case .directory:
            Terminal.note("files in \(report.root)/, manifest in \(report.root)/manifest.html and manifest.csv")
        case .zip, .zipStream:
            Terminal.note("archive \(report.root), manifest inside it at \(plan.root)/manifest.html and \(plan.root)/manifest.csv")
        }
        return report
    }

    /// A file's name without folders and without its last extension: `out/jwst.zip` → `jwst`.
    static func stem(_ path: String) -> String {
        var name = lastComponent(path)
        if let dot = name.lastIndex(of: "."), dot != name.startIndex { name = String(name[..<dot]) }
        return SafePath.problem(in: name, what: "root") == nil && !name.contains("\\") ? name : "download"
    }

    static func lastComponent(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}
