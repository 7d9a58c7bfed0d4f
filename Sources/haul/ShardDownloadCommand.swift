import ArgumentParser
import Foundation
import Haul
#if canImport(Glibc)
import Glibc
#endif

/// `haul download --shard DIR`: one task of a plan (`haul plan`), as a job array runs it. Parsed apart
/// from `download` (whose catalogs it does not take) when `--shard` is on the command line.
struct ShardDownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        // Parsed on its own (not as a subcommand of haul): the name its usage line shows.
        commandName: "haul download",
        abstract: "Fetch one shard of a plan (haul plan): the task a job array runs.",
        discussion: """
        The shard's index is --shard-index I, else the first of SLURM_ARRAY_TASK_ID (a Slurm job \
        array), JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) and AWS_BATCH_JOB_ARRAY_INDEX (an AWS \
        Batch array job) that is set. The shard writes DIR/shards/NNNNN.zip (or into the plan's shared \
        tree), DIR/shards/NNNNN.manifest.csv at its end, and DIR/status/NNNNN.json as it goes.

        Run again after a kill, a lost node or failures, it fetches only what it lacks, as haul download \
        does. Exit status: 0 the shard is complete; 1 some files failed or the disk filled (run it again); \
        2 usage, input or output-path error (running it again will not help); 130 interrupted (SIGINT, SIGTERM).
        """
    )

    static let indexVariables = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"]

    /// Whether a `download` command line is a shard's.
    static func isRequested(_ arguments: [String]) -> Bool {
        guard arguments.first == "download" else { return false }
        for argument in arguments.dropFirst() {
            if argument == "--" { return false }
            if argument == "--shard" || argument.hasPrefix("--shard=") { return true }
        }
        return false
    }

    @Option(help: ArgumentHelp("The plan folder haul plan wrote.", valueName: "dir"))
    var shard: String

    @Option(name: .customLong("shard-index"), help: ArgumentHelp("The shard to fetch, from 0 (default: from the engine's variable).", valueName: "i"))
    var shardIndex: Int?

    @OptionGroup(title: "Exclusive access") var tokens: TokenOptions

    @Flag(help: "Ask the archive whether each file complete from an earlier run changed, and fetch again those that did.")
    var refresh = false

    @Flag(name: .customLong("no-fsync"), help: "Do not flush finished files and folders to the disk.")
    var noFsync = false

    @OptionGroup(title: "Transfers") var transfers: TransferOptions

    @OptionGroup(title: "Messages") var verbosity: VerbosityOptions

    func run() async throws {
        verbosity.apply()
        let record = try ShardPlan.read(shard)
        let index = try Self.index(given: shardIndex, count: record.shards.count, environment: ProcessInfo.processInfo.environment)
        let width = record.width
        let stem = shard + "/shards/" + ShardPlan.name(index, width: width)
        let token = try tokens.token()
        let catalog = try Catalog.load(paths: [shard + "/" + record.shards[index].path])
        guard let layout = Plan.Layout(rawValue: record.layout), let mission = URLResolver.Mission(rawValue: record.mission),
              let mode = DownloadTarget.Compression.Mode(rawValue: record.compression) else {
            throw HaulError(.invalidArgument, "\(shard)/plan.json: an unknown layout, mission or compression")
        }
        let archive = try URLResolver(archive: record.archive, mission: mission)
        let plan = Plan(
            products: catalog.products, selection: Selection(quick: .all), layout: layout, root: record.root,
            resolver: archive, authorized: token != nil
        )
        let target: DownloadTarget
        if record.output == "dir" {
            let tree = record.tree.map { $0.hasPrefix("/") ? $0 : shard + "/" + $0 } ?? shard
            target = .directory(tree)
        } else {
            target = .zip(stem + ".zip", DownloadTarget.Compression(mode, level: record.compressionLevel))
        }
        var configuration = transfers.configuration(archive: archive)
        // The plan's share of the job's transfers, unless this command line says otherwise.
        if !CommandLine.arguments.contains(where: { $0 == "--parallel" || $0.hasPrefix("--parallel=") }) {
            configuration.parallel = record.parallelPerShard
        }
        configuration.synchronizesOutput = !noFsync
        verbosity.apply(to: &configuration)
        let previous = ShardStatus.read(shard, shard: index, width: width)
        var status = ShardStatus(
            shard: index, host: ShardStatus.hostName(), pid: getpid(), run: (previous?.run ?? 0) + 1, started: ShardStatus.now(),
            filesTotal: record.shards[index].files, bytesTotal: record.shards[index].bytes
        )
        try status.write(shard, width: width)
        let engine = ProcessInfo.processInfo.environment["HAUL_SHARD_ENGINE"].map { " (\($0))" } ?? ""
        Terminal.note("shard \(index) of \(record.shards.count)\(engine) on \(status.host), run \(status.run): \(Format.count(plan.summary.selectedFiles, "file")) (\(Format.bytes(plan.summary.selectedBytes))), \(configuration.parallel) transfers")
        let report: DownloadReport
        do {
            (report, status) = try await fetch(plan, to: target, configuration: configuration, token: token, archive: archive, status: status, width: width)
        } catch {
            status.state = .failed
            status.updated = ShardStatus.now()
            status.error = (error as? HaulError)?.message ?? "\(error)"
            let code: Int32 = (error as? HaulError)?.isInputError == true ? 2 : 1
            status.exitStatus = code
            try? status.write(shard, width: width)
            throw error
        }
        // The shard's manifest beside its output, for haul merge and haul status.
        try FileReplacement.write(stem + ".manifest.csv", synchronize: true, pieces: report.manifest.csv)
        status.filesDone = report.ok + report.failed
        status.filesFailed = report.failed
        status.bytesDone = report.manifest.rows.reduce(0) { $0 + ($1.status == .ok ? $1.size ?? 0 : 0) }
        status.failures = report.manifest.rows.compactMap { row in
            if case .failed = row.status { return "\(row.file): \(row.statusText)" }
            return nil
        }.prefix(100).map { $0 }
        status.rate = report.seconds > 0 ? Double(report.bytesReceived) / report.seconds : 0
        status.exitStatus = report.exitStatus
        status.state = report.exitStatus == 0 ? .done : report.exitStatus == 130 ? .interrupted : .failed
        status.updated = ShardStatus.now()
        try status.write(shard, width: width)
        var parts = ["\(Format.count(report.ok, "file")) OK"]
        if report.skipped > 0 { parts[0] += " (\(report.skipped.grouped) already complete)" }
        if report.failed > 0 { parts.append("\(report.failed.grouped) FAILED") }
        if report.cancelled > 0 { parts.append("\(report.cancelled.grouped) CANCELLED") }
        let rate = report.seconds > 0 ? Double(report.bytesReceived) / report.seconds : 0
        Terminal.note("shard \(index): " + parts.joined(separator: ", ") + " — \(Format.bytes(report.bytesReceived)) in \(Format.seconds(report.seconds)) (\(Format.rate(rate)))")
        Runner.sayFailures(report)
        throw ExitStatus(code: report.exitStatus)
    }

    /// Runs the shard's download, rewriting its status file about once a second as events arrive.
    func fetch(
        _ plan: Plan, to target: DownloadTarget, configuration: Configuration, token: Credentials.AccessToken?, archive: URLResolver,
        status: ShardStatus, width: Int
    ) async throws -> (DownloadReport, ShardStatus) {
        let folder = shard
        var status = status
        let report = try await withEngine(configuration) { engine in
            var credentials: Credentials?
            if let token, plan.summary.selectedFiles > 0 {
                do {
                    credentials = try await engine.signIn(token, archive: archive)
                } catch let error as HaulError where error.code == .authentication && !plan.entries.contains(where: { $0.product.access == .exclusive }) {
                    Terminal.warning("\(error.message); going on without the token: only public files are selected")
                }
            }
            // The status as the events left it, handed back from the task that read them.
            let watched = Locked(status)
            let refresh = refresh
            let report = try await Interrupt.cancelling { [credentials, status] in
                try await engine.download(plan, to: target, credentials: credentials, refresh: refresh) { events in
                    var status = status
                    var lastWrite = 0.0
                    for await event in events {
                        switch event {
                        case .progress(let p):
                            status.filesDone = p.filesDone
                            status.filesFailed = p.filesFailed
                            status.bytesDone = p.bytesDone
                            status.rate = p.bytesPerSecond
                        case .file(let row):
                            if row.failure != nil, status.failures.count < 100 { status.failures.append("\(row.file): \(row.statusText)") }
                        default: break
                        }
                        let now = ShardStatus.now()
                        if now - lastWrite >= 1 {
                            status.updated = now
                            try? status.write(folder, width: width)
                            lastWrite = now
                        }
                    }
                    watched.withLock { $0 = status }
                }
            }
            status = watched.withLock { $0 }
            return report
        }
        return (report, status)
    }

    /// The shard index: given, else from the first engine variable set.
    static func index(given: Int?, count: Int, environment: [String: String]) throws -> Int {
        var index = given
        var source = "--shard-index"
        if index == nil {
            for name in indexVariables {
                guard let value = environment[name], !value.isEmpty else { continue }
                guard let number = Int(value) else { throw HaulError(.invalidArgument, "\(name)=\(value): expected a shard index, a whole number") }
                index = number
                source = name
                break
            }
        }
        guard let index else {
            throw HaulError(.invalidArgument, "no shard index: give --shard-index I, or run under a Slurm job array (SLURM_ARRAY_TASK_ID), a Kubernetes Indexed Job (JOB_COMPLETION_INDEX) or an AWS Batch array job (AWS_BATCH_JOB_ARRAY_INDEX)")
        }
        guard (0..<count).contains(index) else {
            throw HaulError(.invalidArgument, "\(source) \(index): the plan has shards 0 to \(count - 1)")
        }
        return index
    }
}
