import ArgumentParser
import Foundation
import Haul
#if canImport(Glibc)
import Glibc
#endif

/// `haul plan`: a selection split into shards for a cluster's job array, with the job files.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Split the selection into shards for a Slurm job array, a Kubernetes Indexed Job or an AWS Batch array job.",
        discussion: """
        Reads the catalogs and selects as haul download does, de-duplicates by URI over the whole \
        selection (no file is fetched by two shards), and balances the unique files over N shards by \
        bytes, then by count: largest first to the lightest shard, so the biggest shard holds at most \
        the mean plus the largest file. The same inputs give the same shards, byte for byte, on any machine.

        DIR receives:
          plan.json             the selection, a fingerprint of the inputs, and every shard's path, files and bytes
          shards/NNNNN.csv      each shard's files, a catalog haul download and haul select read (with sizes)
          rows.csv              every selected row in catalog order, for the merged manifest
          slurm.sbatch          a Slurm job array 0..N-1 (%CONCURRENT at once), one shard per SLURM_ARRAY_TASK_ID
          job.yaml              a Kubernetes Indexed Job, one shard per JOB_COMPLETION_INDEX
          aws-batch.json        an AWS Batch array job (2 to 10,000 shards), one shard per AWS_BATCH_JOB_ARRAY_INDEX

        Each task runs `haul download --shard DIR`: it writes DIR/shards/NNNNN.zip (or, with --dir, into \
        one shared tree), its manifest, and DIR/status/NNNNN.json as it goes. `haul status DIR` shows \
        them all; `haul merge DIR` makes one manifest and one ZIP. DIR must be on a file system every \
        node shares.

        --parallel is the whole job's transfers: each shard gets --parallel divided by --concurrent, \
        the shards running at once (the array's throttle, the Job's parallelism), so a big array does \
        not open thousands of connections to one archive.

        Examples:
          haul plan products.json --shards 64 --concurrent 16 --parallel 256 --out plan
          sbatch plan/slurm.sbatch                     # Slurm
          kubectl apply -f plan/job.yaml               # Kubernetes (the plan folder on a shared volume)
          haul status plan
          sbatch --array=3,17 plan/slurm.sbatch        # again, only shards that failed
          haul merge plan --zip jwst.zip
        """
    )

    @OptionGroup(title: "Selection") var selection: SelectionOptions

    @OptionGroup(title: "Exclusive access") var tokens: TokenOptions

    @Option(help: ArgumentHelp("How many shards (tasks).", valueName: "n"))
    var shards: Int

    @Option(help: ArgumentHelp("The plan folder (created when missing), on a file system the nodes share.", valueName: "dir"))
    var out: String

    @Option(help: ArgumentHelp("Shards write into this one shared folder tree instead of a ZIP each.", valueName: "dir"))
    var dir: String?

    @Option(help: ArgumentHelp("The top folder inside the bundle (default: the plan folder's name).", valueName: "name"))
    var root: String?

    @Option(help: ArgumentHelp("Concurrent transfers of the whole job, shared by the shards running at once.", valueName: "n"))
    var parallel: Int = 64

    @Option(help: ArgumentHelp("Shards running at once: the Slurm array's % throttle, the Job's parallelism (default: all, up to --parallel).", valueName: "n"))
    var concurrent: Int?

    @OptionGroup(title: "Compression (ZIP shards)") var compression: CompressionOptions

    @Option(help: ArgumentHelp("The haul executable on the nodes (default: this one).", valueName: "path"))
    var haul: String?

    @Option(help: ArgumentHelp("The container image with haul on its PATH (job.yaml, aws-batch.json).", valueName: "image"))
    var image: String = "haul:latest"

    @Option(help: ArgumentHelp("Where the plan folder is mounted in the container (job.yaml, aws-batch.json).", valueName: "path"))
    var mount: String = "/haul/plan"

    @Option(help: ArgumentHelp("The PersistentVolumeClaim holding the plan folder (job.yaml).", valueName: "name"))
    var claim: String = "haul-plan"

    @Option(help: ArgumentHelp("Runs of one shard before the engine gives it up (job.yaml, aws-batch.json); exit status 2 is never retried.", valueName: "n"))
    var attempts: Int = 3

    @OptionGroup(title: "Messages") var verbosity: QuietOption

    func validate() throws {
        // Shards fetch from the archive: a plan does not carry a cloud source to its tasks (yet).
        if selection.source.map({ $0 != .archive }) == true || selection.endpointURL != nil {
            throw ValidationError("--source and --endpoint-url are not carried into a plan's shards: each shard fetches from --archive")
        }
        guard (1...100_000).contains(shards) else { throw ValidationError("--shards must be between 1 and 100000") }
        guard (1...1_000_000).contains(parallel) else { throw ValidationError("--parallel must be between 1 and 1000000") }
        if let concurrent, concurrent < 1 { throw ValidationError("--concurrent must be at least 1") }
        guard (1...10).contains(attempts) else { throw ValidationError("--attempts must be between 1 and 10") }
        if out.isEmpty { throw ValidationError("--out must name a folder") }
        if let dir, dir.isEmpty { throw ValidationError("--dir must name a folder") }
        if let root, SafePath.problem(in: root, what: "--root") != nil || root.contains("/") || root.contains("\\") {
            throw ValidationError("--root must be a plain folder name")
        }
        if !mount.hasPrefix("/") { throw ValidationError("--mount must be an absolute path in the container") }
        if selection.catalogs.contains("-") { throw ValidationError("haul plan reads catalog files, not standard input (its fingerprint needs them again)") }
    }

    func run() async throws {
        verbosity.apply()
        let started = ShardStatus.now()
        let token = try tokens.token()
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: out, isDirectory: &isFolder), !isFolder.boolValue {
            throw HaulError(.outputPath, "--out \(out): a file is there; name a folder for the plan")
        }
        let rootName = root ?? Runner.stem(Runner.lastComponent(Self.absolute(out)))
        // Only what shards need is kept of each row (not the catalog's products, as download keeps them).
        let chosen = try selection.selection()
        let plan = try ShardPlan.plan(catalogs: selection.catalogs, selection: chosen, layout: selection.layout, root: rootName, authorized: token != nil)
        if plan.summary.selectedFiles == 0 {
            // Why, in download's words, from the catalogs read again whole: only when nothing is fetched.
            let (catalog, whole) = try selection.plan(root: rootName, authorized: token != nil)
            throw HaulError(.invalidArgument, "nothing is selected: " + DownloadCommand.whyNothing(whole, catalog: catalog, selection: chosen))
        }
        let read = ShardStatus.now()
        var count = shards
        if count > plan.summary.selectedFiles {
            Terminal.warning("--shards \(shards): only \(Format.count(plan.summary.selectedFiles, "file")) to fetch; planning \(plan.summary.selectedFiles) shards")
            count = plan.summary.selectedFiles
        }
        var options = ShardPlan.Options(shards: count, archive: try selection.resolver())
        options.parallel = parallel
        options.concurrent = concurrent
        options.compression = compression.value
        options.catalogs = selection.catalogs
        options.arguments = Self.selectorArguments()
        if let dir {
            try ShardPlan.makeFolderForTree(dir)
            options.tree = Self.absolute(dir)
        }
        var fingerprinted: [(name: String, length: Int64, crc: UInt32)] = []
        for path in selection.catalogs {
            let (length, crc) = try ShardPlan.fileCRC(path)
            fingerprinted.append((path, length, crc))
        }
        options.fingerprint = ShardPlan.fingerprint(
            files: fingerprinted,
            extra: options.arguments + ["root=\(rootName)", "shards=\(count)", "archive=\(options.archive.archive)", "authorized=\(token != nil)"]
        )
        let record = try ShardPlan.write(plan, to: out, options: options)
        let folder = Self.absolute(out)
        var settings = JobFiles.Settings(haul: haul ?? Self.thisExecutable(), folder: folder)
        settings.image = image
        settings.mount = mount
        settings.claim = claim
        settings.attempts = attempts
        try FileReplacement.write(out + "/slurm.sbatch", Array(JobFiles.slurm(record, settings).utf8), synchronize: true)
        chmod(out + "/slurm.sbatch", 0o755)
        try FileReplacement.write(out + "/job.yaml", Array(JobFiles.kubernetes(record, settings).utf8), synchronize: true)
        if let batch = JobFiles.awsBatch(record, settings) {
            try FileReplacement.write(out + "/aws-batch.json", Array(batch.utf8), synchronize: true)
        } else {
            unlink(out + "/aws-batch.json")
        }
        let written = ShardStatus.now()
        let sizes = record.shards.map(\.bytes)
        let mean = Double(sizes.reduce(0, +)) / Double(sizes.count)
        let biggest = sizes.max() ?? 0
        var line = "\(Format.count(count, "shard")) of \(Format.count(record.selection.files, "unique file")) (\(Format.bytes(record.selection.bytes)))"
        line += " from \(Format.count(plan.rowCount, "row"))"
        if record.selection.duplicates > 0 { line += ", \(Format.count(record.selection.duplicates, "duplicate row")) fetched once" }
        Terminal.note(line)
        if mean > 0 {
            Terminal.note("biggest shard \(Format.bytes(biggest)), \(String(format: "%.3f", Double(biggest) / mean))× the mean; \(record.concurrent) at once, \(record.parallelPerShard) transfers each")
        }
        Terminal.note("planned in \(Format.seconds(written - started)) (catalogs read and selected in \(Format.seconds(read - started)), shards written in \(Format.seconds(written - read)))")
        Terminal.note("in \(out)/: plan.json, shards/, slurm.sbatch, job.yaml\(record.shards.count >= 2 ? ", aws-batch.json" : "")")
        Terminal.note("next: sbatch \(out)/slurm.sbatch (or kubectl apply -f \(out)/job.yaml); haul status \(out); haul merge \(out)")
    }

    /// The selector options of this command line, as given: what plan.json records and the fingerprint covers.
    static func selectorArguments() -> [String] {
        let arguments = Array(CommandLine.arguments.dropFirst(2))
        let selectors: Set<String> = [
            "--quick", "--level", "--suffix", "--guidestar", "--pipeline-inputs", "--regex", "--where", "--extension",
            "--mrp-only", "--archive", "--mission", "--layout",
        ]
        var out: [String] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            let name = String(argument.prefix { $0 != "=" })
            if selectors.contains(name) {
                out.append(argument)
                let flag = name == "--guidestar" || name == "--pipeline-inputs" || name == "--mrp-only"
                if !flag, !argument.contains("="), i + 1 < arguments.count { out.append(arguments[i + 1]); i += 1 }
            }
            i += 1
        }
        return out
    }

    static func absolute(_ path: String) -> String {
        if let resolved = realpath(path, nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        return path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    static func thisExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? absolute(CommandLine.arguments[0])
    }
}
