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

    @Option(name: .customLong("memory"), help: ArgumentHelp("Megabytes held in flight between the network and the disk.", valueName: "MB"))
    var memoryMB: Int = 256

    @Option(help: "Progress: auto (a bar on a terminal), bar, json (one event a line on standard output), none.")
    var progress: ProgressMode = .auto

    func validate() throws {
        guard (1...20_000).contains(parallel) else { throw ValidationError("--parallel must be between 1 and 20000") }
        if let perHost, perHost < 1 { throw ValidationError("--per-host must be at least 1") }
        guard (0...100).contains(retries) else { throw ValidationError("--retries must be between 0 and 100") }
        guard connectTimeout > 0, connectTimeout.isFinite else { throw ValidationError("--connect-timeout must be positive") }
        guard stallTimeout >= 1, stallTimeout.isFinite else { throw ValidationError("--stall-timeout must be at least 1 second") }
        guard (8...65_536).contains(memoryMB) else { throw ValidationError("--memory must be between 8 and 65536 (MB)") }
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

extension Selection.Quick: ExpressibleByArgument {}
extension URLResolver.Mission: ExpressibleByArgument {}
extension Plan.Layout: ExpressibleByArgument {}

struct DownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download the selected products into a folder tree with a manifest.",
        discussion: """
        Every unique URI is fetched once; later rows with the same URI are listed in the manifest as \
        duplicates. Files are written under a temporary name and renamed only when every byte arrived \
        and the size checked, so nothing partial appears under a real name; a re-run into the same \
        folder skips files already complete. ROOT/manifest.html and ROOT/manifest.csv list every \
        selected product with its status.

        Examples:
          haul download products.json --dir data
          haul download products.json --quick recommended --layout flat --dir data --parallel 256
          cat uris.txt | haul download - --dir data --archive http://127.0.0.1:8080
        """
    )

    @OptionGroup(title: "Selection") var selection: SelectionOptions

    @Option(help: ArgumentHelp("Write the files into this folder (created when missing).", valueName: "dir"))
    var dir: String

    @Option(help: ArgumentHelp("A folder inside --dir to hold the files and manifest (default: --dir itself).", valueName: "name"))
    var root: String?

    @OptionGroup(title: "Transfers") var transfers: TransferOptions

    func validate() throws {
        guard !dir.isEmpty else { throw ValidationError("--dir must name a folder") }
        if let root, SafePath.problem(in: root, what: "--root") != nil || root.contains("/") {
            throw ValidationError("--root must be a plain folder name")
        }
    }

    func run() async throws {
        let catalog = try Catalog.load(paths: selection.catalogs)
        let plan = Plan(
            products: catalog.products, selection: Selection(quick: selection.quick), layout: selection.layout,
            root: root ?? Runner.lastComponent(dir), resolver: try selection.resolver()
        )
        let path = root.map { dir + "/" + $0 } ?? dir
        let report = try await Runner.download(plan, into: path, configuration: transfers.configuration, progress: transfers.progress)
        throw ExitStatus(code: report.exitStatus)
    }
}

/// The download loop the commands share: runs the engine, shows progress, handles Ctrl-C, prints the summary.
enum Runner {
    static func download(_ plan: Plan, into path: String, configuration: Configuration, progress: ProgressMode) async throws -> DownloadReport {
        let s = plan.summary
        var intro = "\(s.selectedFiles) unique files selected"
        if s.selectedBytes > 0 { intro += " (\(Format.bytes(s.selectedBytes)))" }
        intro += " of \(s.totalFiles) in the catalog"
        if s.duplicates > 0 { intro += "; \(s.duplicates) duplicate rows" }
        if s.excludedExclusive > 0 { intro += "; \(s.excludedExclusive) exclusive-access files excluded (no token)" }
        if s.unsafe > 0 { intro += "; \(s.unsafe) with unsafe names" }
        if progress.resolved != .json { Terminal.note(intro) }

        let report = try await withEngine(configuration) { engine in
            let download = engine.download(plan, to: .directory(path))
            let interrupt = Interrupt { download.cancel() }
            defer { interrupt.cancel() }
            let shown = Task {
                var display = ProgressDisplay(mode: progress)
                for await event in download.events { display.show(event) }
                display.finish()
            }
            let report = try await download.report
            await shown.value
            return report
        }
        if progress.resolved == .json {
            Terminal.standardOutput(JSONLine.summary(report) + "\n")
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
        Terminal.note("files in \(report.root)/, manifest in \(report.root)/manifest.html and manifest.csv")
        return report
    }

    static func lastComponent(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}
