import ArgumentParser
import Foundation
import Haul

/// Options that say which products to take and where they come from.
struct SelectionOptions: ParsableArguments {
    @Argument(help: ArgumentHelp(
        "Product lists: MAST CAOM JSON, missions-search JSON, overlay CSV, or URI lists; - reads standard input.",
        valueName: "catalog"))
    var catalogs: [String] = []

    @Option(help: "The overlay's quick selection: all (every product but guide-star files), recommended, or none.")
    var quick: Selection.Quick = .all

    @Option(help: ArgumentHelp("The archive mast: URIs resolve against (default $HAUL_ARCHIVE, else https://mast.stsci.edu).", valueName: "url"))
    var archive: String?

    @Option(help: "The mission of missions-search URIs: hst, jwst or roman.")
    var mission: URLResolver.Mission = .hst

    @Option(help: "nested (ROOT/DATASET/FILE) or flat (ROOT/FILE, clashing names made distinct).")
    var layout: Plan.Layout = .nested

    func validate() throws {
        guard !catalogs.isEmpty else { throw ValidationError("name at least one catalog file, or - for standard input") }
    }

    func resolver() throws -> URLResolver {
        try URLResolver(archive: archive, mission: mission, environment: ProcessInfo.processInfo.environment)
    }
}

/// Options of the transfer engine.
struct TransferOptions: ParsableArguments {
    @Option(help: "Concurrent transfers.")
    var parallel: Int = 64

    @Option(name: .customLong("per-host"), help: "Concurrent connections to one host (default: no limit beyond --parallel).")
    var perHost: Int?

    @Option(help: "Retries of a transient failure (connection error, timeout, stall, 408, 429, 5xx).")
    var retries: Int = 5

    @Option(name: .customLong("connect-timeout"), help: ArgumentHelp("Seconds to wait for a connection.", valueName: "seconds"))
    var connectTimeout: Double = 30

    @Option(name: .customLong("stall-timeout"), help: ArgumentHelp("Seconds without data before a transfer counts as stalled.", valueName: "seconds"))
    var stallTimeout: Double = 60

    @Option(name: [.customLong("memory-limit"), .customLong("memory")], help: ArgumentHelp(
        "Megabytes of buffers between the network and the output, whatever the file sizes and --parallel.",
        valueName: "MB"))
    var memoryMB: Int = 256

    @Option(help: "Progress: auto (a bar on a terminal), bar, json (one event a line on standard output, or standard error with --zip -), none.")
    var progress: ProgressMode = .auto

    func validate() throws {
        guard (1...20_000).contains(parallel) else { throw ValidationError("--parallel must be between 1 and 20000") }
        if let perHost, perHost < 1 { throw ValidationError("--per-host must be at least 1") }
        guard (0...100).contains(retries) else { throw ValidationError("--retries must be between 0 and 100") }
        guard connectTimeout > 0, connectTimeout.isFinite else { throw ValidationError("--connect-timeout must be positive") }
        guard stallTimeout >= 1, stallTimeout.isFinite else { throw ValidationError("--stall-timeout must be at least 1 second") }
        guard (8...65_536).contains(memoryMB) else { throw ValidationError("--memory-limit must be between 8 and 65536 (MB)") }
    }

    var configuration: Configuration {
        var c = Configuration()
        c.parallel = parallel
        c.perHost = perHost
        c.retry.retries = retries
        c.timeout.connect = .milliseconds(Int64(connectTimeout * 1000))
        c.timeout.stall = .milliseconds(Int64(stallTimeout * 1000))
        c.memoryLimit = memoryMB << 20
        return c
    }
}

/// How ZIP entries are compressed.
struct CompressionOptions: ParsableArguments {
    @Option(help: "auto (deflate what compresses, store .gz, .fz, .jpg… and files whose first block does not shrink), store, or deflate.")
    var compression: Compression.Mode = .auto

    @Option(name: .customLong("compression-level"), help: ArgumentHelp("zlib level, 1 (fastest) to 9 (smallest).", valueName: "1-9"))
    var compressionLevel: Int = 6

    func validate() throws {
        guard (1...9).contains(compressionLevel) else { throw ValidationError("--compression-level must be between 1 and 9") }
    }

    var value: Compression { Compression(compression, level: compressionLevel) }
}

extension Compression.Mode: ExpressibleByArgument {}
extension Selection.Quick: ExpressibleByArgument {}
extension URLResolver.Mission: ExpressibleByArgument {}
extension Plan.Layout: ExpressibleByArgument {}

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

        Examples:
          haul download products.json --zip jwst.zip
          haul download products.json --quick recommended --zip - | ssh host 'cat > bundle.zip'
          haul download products.json --zip out.zip --compression deflate --compression-level 1 --parallel 256
          haul download products.json --layout flat --dir data
          cat uris.txt | haul download - --dir data --archive http://127.0.0.1:8080
        """
    )

    @OptionGroup(title: "Selection") var selection: SelectionOptions

    @Option(help: ArgumentHelp("Write one ZIP here; - streams it to standard output.", valueName: "file"))
    var zip: String?

    @Option(help: ArgumentHelp("Write the files into this folder (created when missing).", valueName: "dir"))
    var dir: String?

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
        if zip == "-" && Terminal.standardOutputIsTerminal {
            throw ValidationError("--zip - writes a binary archive to standard output: redirect it to a file or a pipe")
        }
    }

    func run() async throws {
        let catalog = try Catalog.load(paths: selection.catalogs)
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
        let plan = Plan(
            products: catalog.products, selection: Selection(quick: selection.quick), layout: selection.layout,
            root: root ?? defaultRoot, resolver: try selection.resolver()
        )
        let report = try await Runner.download(plan, to: target, configuration: transfers.configuration, progress: transfers.progress)
        throw ExitStatus(code: report.exitStatus)
    }
}

/// The download loop the commands share: runs the engine, shows progress, handles Ctrl-C, prints the summary.
enum Runner {
    static func download(_ plan: Plan, to target: DownloadTarget, configuration: Configuration, progress: ProgressMode) async throws -> DownloadReport {
        var toStandardOutput = false
        if case .zipStream(let stream as FileDescriptorStream, _) = target, stream.fd == 1 { toStandardOutput = true }
        let jsonDescriptor: Int32 = toStandardOutput ? 2 : 1
        let s = plan.summary
        var intro = "\(s.selectedFiles) unique files selected"
        if s.selectedBytes > 0 { intro += " (\(Format.bytes(s.selectedBytes)))" }
        intro += " of \(s.totalFiles) in the catalog"
        if s.duplicates > 0 { intro += "; \(s.duplicates) duplicate rows" }
        if s.excludedExclusive > 0 { intro += "; \(s.excludedExclusive) exclusive-access files excluded (no token)" }
        if s.unsafe > 0 { intro += "; \(s.unsafe) with unsafe names" }
        if progress.resolved != .json { Terminal.note(intro) }

        let report = try await withEngine(configuration) { engine in
            let download = engine.download(plan, to: target)
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
        if report.failed > 0 { parts.append("\(report.failed) FAILED") }
        if report.cancelled > 0 { parts.append("\(report.cancelled) CANCELLED") }
        if report.duplicates > 0 { parts.append("\(report.duplicates) duplicates") }
        if report.excluded > 0 { parts.append("\(report.excluded) excluded") }
        let rate = report.seconds > 0 ? Double(report.bytesReceived) / report.seconds : 0
        Terminal.note(parts.joined(separator: ", ") + " — \(Format.bytes(report.bytesReceived)) in \(Format.seconds(report.seconds)) (\(Format.rate(rate)))")
        for row in report.manifest.rows.lazy.filter({ if case .failed = $0.status { return true } else { return false } }).prefix(10) {
            Terminal.note("  \(row.file): \(row.status.text)")
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
