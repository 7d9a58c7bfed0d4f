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

        Nothing selected is an error (status 2, with the reason), so a pipeline can tell a typo from \
        success. A host that refuses every connection (three failures in a row, no answer ever) fails \
        its files at once: "cannot reach HOST:PORT: connection refused". -H headers go to the archive \
        only, as the token does, unless --header-everywhere. --limit-rate is the whole run's, shared \
        by the transfers in flight. Proxies also come from https_proxy, http_proxy, all_proxy \
        and no_proxy (either case).

        --source auto (the default against MAST itself) takes public files from MAST's public \
        bucket on AWS (stpubdata, read anonymously over HTTPS) and the rest from the archive: the \
        archive's path lookup is asked which files the bucket has, 40 at a time, while the transfers \
        run. A file the bucket lacks, refuses (403) or cannot give after the retries comes from the \
        archive, and the manifest's note says why (S3's error code and message); its Source column \
        says cloud or archive for every file. Exclusive-access files, and the token, never go to the \
        bucket. Catalogs may list s3://BUCKET/KEY URLs of public buckets.

        Examples:
          haul download products.json --zip jwst.zip
          haul download products.json --quick recommended --zip - | ssh host 'cat > bundle.zip'
          haul download products.json --zip out.zip --compression deflate --compression-level 1 --parallel 256
          haul download products.json --layout flat --dir data
          haul download products.json --dir data --refresh
          cat uris.txt | haul download - --dir data --archive http://127.0.0.1:8080
          haul download products.ecsv --mrp-only --where productType=SCIENCE --dir data -v
          haul download products.json --source auto --zip hst.zip
          haul download s3-uris.txt --dir data --endpoint-url http://127.0.0.1:9000
          haul download products.json --dir data --limit-rate 20M --proxy http://proxy.example:3128 -H 'X-Source: pipeline'
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

    @Option(help: ArgumentHelp("Fetch one shard of this plan folder (haul plan) instead of catalogs: the task a job array runs (haul download --shard DIR --help says more).", valueName: "dir"))
    var shard: String?

    @Option(name: .customLong("shard-index"), help: ArgumentHelp("With --shard: the shard, from 0 (default: $SLURM_ARRAY_TASK_ID, $JOB_COMPLETION_INDEX or $AWS_BATCH_JOB_ARRAY_INDEX).", valueName: "i"))
    var shardIndex: Int?

    @OptionGroup(title: "Messages") var verbosity: VerbosityOptions

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
        verbosity.apply()
        var token = try tokens.token()
        let (catalog, firstPlan) = try selection.plan(root: root ?? defaultRoot, authorized: token != nil)
        var plan = firstPlan
        if token == nil, plan.summary.excludedExclusive > 0, Terminal.standardInputIsTerminal, !selection.catalogs.contains("-") {
            let n = plan.summary.excludedExclusive
            if let text = Terminal.readSecret("\(Format.count(n, "exclusive-access file")) \(n == 1 ? "is" : "are") selected. MAST API token (input hidden; Enter to go on without \(n == 1 ? "it" : "them")): ") {
                token = try Credentials.AccessToken(text, from: "the token typed")
                plan = try selection.plan(catalog, root: plan.root, authorized: true)
            }
        }
        // Nothing to fetch is an error a pipeline can see, before anything is created (exit status 2).
        if plan.summary.selectedFiles == 0 {
            throw HaulError(.invalidArgument, "nothing is selected: " + Self.whyNothing(plan, catalog: catalog, selection: try selection.selection()))
        }
        let archive = try selection.resolver()
        var configuration = transfers.configuration(archive: archive)
        configuration.source = try selection.sourcePolicy()
        configuration.synchronizesOutput = !noFsync
        verbosity.apply(to: &configuration)
        let report = try await Runner.download(
            plan, to: target, configuration: configuration, progress: verbosity.progress(transfers.progress),
            token: token, archive: archive, overwrite: force, refresh: refresh, verbose: verbosity.verbose
        )
        throw ExitStatus(code: report.exitStatus)
    }

    /// Why a plan fetches nothing, in words that say what to change.
    static func whyNothing(_ plan: Plan, catalog: Catalog, selection: Selection) -> String {
        let s = plan.summary
        if catalog.products.isEmpty { return "the catalog lists no products" }
        var parts: [String] = []
        if s.excludedExclusive > 0 {
            parts.append("\(Format.count(s.excludedExclusive, "selected file")) \(s.excludedExclusive == 1 ? "is" : "are") exclusive-access and need\(s.excludedExclusive == 1 ? "s" : "") a MAST API token ($MAST_API_TOKEN or --token-file)")
        }
        if s.unsafe > 0 {
            parts.append("\(Format.count(s.unsafe, "selected file")) \(s.unsafe == 1 ? "has an unsafe name" : "have unsafe names"), never written")
        }
        if !parts.isEmpty { return parts.joined(separator: "; ") }
        var wide = selection
        wide.pattern = nil
        wide.filters = []
        wide.extensions = []
        let before = wide.select(catalog.products).filter { $0 }.count
        if before > 0, selection.pattern != nil || !selection.filters.isEmpty || !selection.extensions.isEmpty {
            return "--regex, --where and --extension leave none of the \(Format.count(before, "product")) the other selectors pick (haul select shows them)"
        }
        return "the selectors pick none of the \(Format.count(catalog.products.count, "product")) in the catalog (haul select shows what they pick)"
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
        token: Credentials.AccessToken? = nil, archive: URLResolver? = nil, overwrite: Bool = false, refresh: Bool = false, verbose: Int = 0
    ) async throws -> DownloadReport {
        // The output path, before a word is printed or a request (even /whoami) is made.
        try target.check(for: plan, overwrite: overwrite)
        var toStandardOutput = false
        if case .zipStream(let stream as FileDescriptorStream, _) = target.kind, stream.fd == 1 { toStandardOutput = true }
        let jsonDescriptor: Int32 = toStandardOutput ? 2 : 1
        let s = plan.summary
        var intro = "\(Format.count(s.selectedFiles, "unique file")) selected"
        if s.selectedBytes > 0 { intro += " (\(Format.bytes(s.selectedBytes)))" }
        intro += " of \(s.totalFiles.grouped) in the catalog"
        if s.duplicates > 0 { intro += "; \(Format.count(s.duplicates, "duplicate row"))" }
        if s.excludedExclusive > 0 {
            intro += "; \(Format.count(s.excludedExclusive, "exclusive-access file")) excluded: \(s.excludedExclusive == 1 ? "it needs" : "they need") a token ($MAST_API_TOKEN or --token-file)"
        }
        if s.unsafe > 0 { intro += "; \(s.unsafe.grouped) with unsafe names" }
        if progress.resolved != .json { Terminal.note(intro) }
        // Whether the token is needed: an unusable one blocks the run only then, else it is a warning.
        let needsToken = plan.entries.contains { entry in
            if case .download = entry.disposition { return entry.product.access == .exclusive }
            return false
        }

        let report = try await withEngine(configuration) { engine in
            var credentials: Credentials?
            if let token, let archive {
                do {
                    credentials = try await engine.signIn(token, archive: archive)
                    if progress.resolved != .json { Terminal.note("signed in to \(archive.archive) as \(credentials!.user)") }
                } catch let error as HaulError where error.code == .authentication && !needsToken {
                    Terminal.warning("\(error.message); going on without the token: only public files are selected")
                }
            }
            return try await Interrupt.cancelling { [credentials] in
                try await engine.download(plan, to: target, credentials: credentials, overwrite: overwrite, refresh: refresh) { events in
                    var display = ProgressDisplay(mode: progress, jsonDescriptor: jsonDescriptor, verbose: verbose > 0)
                    for await event in events { display.show(event) }
                    display.finish()
                }
            }
        }
        if progress.resolved == .json {
            Terminal.emit(JSONLine.summary(report) + "\n", to: jsonDescriptor)
        }
        var parts = ["\(Format.count(report.ok, "file")) OK"]
        if report.skipped > 0 { parts[0] += " (\(report.skipped.grouped) already complete)" }
        if report.fromCloud > 0 { parts[0] += " (\(report.fromCloud.grouped) from the cloud, \(report.fromArchive.grouped) from the archive)" }
        if report.unchanged + report.replaced > 0 {
            parts[0] += " (\(report.unchanged.grouped) unchanged on the archive, \(report.replaced.grouped) changed and fetched again)"
        }
        if report.failed > 0 { parts.append("\(report.failed.grouped) FAILED") }
        if report.cancelled > 0 { parts.append("\(report.cancelled.grouped) CANCELLED") }
        if report.duplicates > 0 { parts.append(Format.count(report.duplicates, "duplicate")) }
        if report.excluded > 0 { parts.append("\(report.excluded.grouped) excluded") }
        let rate = report.seconds > 0 ? Double(report.bytesReceived) / report.seconds : 0
        Terminal.note(parts.joined(separator: ", ") + " — \(Format.bytes(report.bytesReceived)) in \(Format.seconds(report.seconds)) (\(Format.rate(rate)))")
        sayFailures(report)
        if target.isDirectory {
            Terminal.note("files in \(report.root)/, manifest in \(report.root)/manifest.html and manifest.csv")
        } else {
            Terminal.note("archive \(report.root), manifest inside it at \(plan.root)/manifest.html and \(plan.root)/manifest.csv")
        }
        return report
    }

    /// The failed files, one line each (at most 10); a reason shared by many files (an unreachable
    /// host) once, with their count.
    static func sayFailures(_ report: DownloadReport) {
        var order: [String] = []
        var byReason: [String: [Manifest.Row]] = [:]
        for row in report.manifest.rows {
            guard let reason = row.failure?.message else { continue }
            if byReason[reason] == nil { order.append(reason) }
            byReason[reason, default: []].append(row)
        }
        var shown = 0
        for reason in order {
            let rows = byReason[reason]!
            if rows.count > 3 {
                Terminal.note("  \(Format.count(rows.count, "file")) FAILED: \(reason)")
                continue
            }
            for row in rows {
                shown += 1
                if shown <= 10 { Terminal.note("  \(row.file): \(row.statusText)") }
            }
        }
        if shown > 10 { Terminal.note("  … and \((shown - 10).grouped) more FAILED: see the manifest") }
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
