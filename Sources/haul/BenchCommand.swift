import ArgumentParser
import Foundation
import Haul

/// `haul bench`: measure an archive, a mirror or a network with the engine downloads use.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Fetch the selected products and discard them, reporting throughput, latency percentiles, connections and errors.",
        discussion: """
        The same selectors, catalogs and URL lists as download; the same engine, retries and length \
        checks; but the bytes go nowhere, so what is measured is the archive, the network and the \
        client, not a disk. Every fetch is timed: time to first byte and total time, kept in an HDR \
        histogram and reported as p50, p90, p99 and max. Connections opened and reused, retries and \
        errors by kind, and throughput over time are counted for the run and for each host.

        How much: each selected URL once (default), --repeat N times each, or for --duration SECONDS, \
        cycling through them (transfers still running when the time is up are cancelled and counted \
        apart, neither as errors nor in the latencies).

        How hard: --parallel N keeps N transfers in flight, starting one as another ends: it measures \
        what the server can do, but a stalled server also stops the load, so its stall shows in one \
        request only. --rate R starts R requests a second instead, evenly spaced, with at most \
        --parallel in flight, and counts each request's latency from the moment it was meant to start, \
        as wrk2 does: requests held back behind a stall count their wait, so the percentiles are what a \
        client at that rate would see (coordinated omission corrected). The report then also gives the \
        service times, from each request's actual start, and how many requests started late.

        Latencies count the fetches that ended OK (a fetch is one product, its retries included); \
        failures are counted by kind (HTTP 503, timeout, stalled, closed early, size mismatch…). A \
        body's length is checked against Content-Length and the catalog's size as a download's is; \
        --crc also computes each body's CRC-32, to include that cost, and counts a body \
        whose CRC-32 differs from the one the same URL gave before as an error (content \
        differs): a mirror or cache serving two versions of a file. Each product is one \
        request (--connections-per-file does not apply), and no body is kept, so \
        --memory-limit has nothing to bound.

        Output: a summary on standard output (a live line on standard error while it runs, on a \
        terminal), --json FILE for programs (bytes, seconds, errors, and ttfb and total objects with \
        p50, p90, p99 and max in seconds, then counts, kinds, hosts, the percentile distribution and \
        throughput over time), and --html FILE, one page with plots that opens offline. Exit status: \
        0 every fetch OK; 1 some failed; 2 input or usage error; 130 interrupted (the report is still \
        written, with what was measured).

        Where from: --source as for download. archive benches --archive; cloud benches MAST's public \
        bucket on AWS (or --endpoint-url), leaving out the products it lacks (named on standard error); \
        auto benches each public product from the bucket where it has one and from the archive \
        otherwise, as a download fetches them. The path lookups that find the bucket's keys run \
        before the bench and are not in its figures. --compare-sources benches the archive and then \
        the bucket in one command, over the same products (those the bucket has; the rest are named \
        and left out of both), and reports them side by side: the summary ends with a table of the \
        two and the bucket's figure over the archive's, --json holds both reports and that table, \
        and --html puts both on one page.

        Examples:
          haul bench products.json --quick recommended
          haul bench products.json --repeat 5 --json run.json --html run.html
          haul bench urls.txt --duration 60 --rate 200 --parallel 256 --html r.html
          haul bench products.json --archive http://mirror:8080 --label mirror
          haul bench products.json --source cloud --html cloud.html
          haul bench products.json --compare-sources --repeat 3 --html sources.html
        """
    )

    @OptionGroup(title: "Selection") var selection: SelectionOptions

    @OptionGroup(title: "Exclusive access") var tokens: TokenOptions

    @Option(name: .customLong("repeat"), help: ArgumentHelp("Fetch every selected URL this many times (default 1).", valueName: "n"))
    var repeats: Int?

    @Option(help: ArgumentHelp("Run for this many seconds, cycling through the selected URLs, instead of a number of times.", valueName: "seconds"))
    var duration: Double?

    @Option(help: ArgumentHelp(
        "Start this many requests a second (at most --parallel in flight), latency counted from each one's intended start (wrk2's -R). Without it, --parallel transfers are kept in flight.",
        valueName: "requests/s"))
    var rate: Double?

    @Flag(help: "Compute the CRC-32 of every body, as a download does, and count a body that differs from the same URL's earlier one as an error.")
    var crc = false

    @Option(help: ArgumentHelp("Write the report as JSON here; - for standard output (the summary then goes to standard error).", valueName: "file"))
    var json: String?

    @Option(help: ArgumentHelp("Write the report as one self-contained HTML page with plots here.", valueName: "file"))
    var html: String?

    @Flag(help: "Bench the archive, then MAST's bucket, over the same products (those the bucket has), and report the two side by side.")
    var compareSources = false

    @Option(help: ArgumentHelp("A name for what is measured (an archive, a mirror, a network), shown in the reports.", valueName: "text"))
    var label: String?

    @OptionGroup(title: "Transfers") var transfers: TransferOptions

    @OptionGroup(title: "Messages") var verbosity: VerbosityOptions

    func validate() throws {
        if repeats != nil && duration != nil { throw ValidationError("--repeat and --duration cannot be used together: say how many times, or for how long") }
        if let repeats, repeats < 1 { throw ValidationError("--repeat must be at least 1") }
        if let duration, !(duration > 0 && duration.isFinite) { throw ValidationError("--duration must be a positive number of seconds") }
        if let rate, !(rate > 0 && rate.isFinite) { throw ValidationError("--rate must be a positive number of requests a second") }
        if compareSources && selection.source != nil {
            throw ValidationError("--compare-sources benches the archive and the bucket in turn: leave out --source")
        }
        if json == "-" && html == "-" { throw ValidationError("--json - and --html - cannot both go to standard output") }
        if html == "-" { throw ValidationError("--html needs a file name") }
        if json == "-" && transfers.progress == .json { throw ValidationError("--json - and --progress json cannot both go to standard output") }
        for (name, path) in [("--json", json), ("--html", html)] {
            guard let path, path != "-" else { continue }
            if path.isEmpty || path.hasSuffix("/") { throw ValidationError("\(name) must name a file") }
            let folder = (path as NSString).deletingLastPathComponent
            var isFolder: ObjCBool = false
            if !folder.isEmpty, !(FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) && isFolder.boolValue) {
                throw ValidationError("\(name) \(path): the folder \(folder) does not exist")
            }
            if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
                throw ValidationError("\(name) \(path) is a folder; name a file")
            }
        }
    }

    /// - Parameter source: Names the run when no --label does (the bucket's copy, or both).
    func options(source: SourcePolicy) -> BenchOptions {
        let named: String = switch source {
        case .archive: ""
        case .cloud: "MAST's public bucket (--source cloud)"
        case .auto: "bucket where it has a file, else the archive (--source auto)"
        }
        return BenchOptions(
            load: rate.map { .rate($0, limit: transfers.parallel) } ?? .concurrency(transfers.parallel),
            stop: duration.map { .duration(.milliseconds(Int64($0 * 1000))) } ?? .repeats(repeats ?? 1),
            computesCRC: crc, label: label ?? named
        )
    }

    func run() async throws {
        verbosity.apply()
        let token = try tokens.token()
        let (catalog, plan) = try selection.plan(root: "bench", authorized: token != nil)
        if plan.summary.selectedFiles == 0 {
            throw HaulError(.invalidArgument, "nothing is selected: " + DownloadCommand.whyNothing(plan, catalog: catalog, selection: try selection.selection()))
        }
        let archive = try selection.resolver()
        var configuration = transfers.configuration(archive: archive)
        // One request a product: a bench times requests, and segments would split one into many.
        configuration.segmentation = .off
        verbosity.apply(to: &configuration)
        let source = try selection.sourcePolicy()
        let options = self.options(source: source)
        let progress = verbosity.progress(transfers.progress).resolved
        let summaryDescriptor: Int32 = json == "-" ? 2 : 1
        let s = plan.summary
        if !Terminal.quiet {
            var intro = "benchmarking \(Format.count(s.selectedFiles, "URL"))"
            if s.selectedBytes > 0 { intro += " (\(Format.bytes(s.selectedBytes)) each round)" }
            if s.excludedExclusive > 0 { intro += "; \(Format.count(s.excludedExclusive, "exclusive-access file")) left out: a token is needed" }
            Terminal.note(intro)
        }

        let interrupted = Locked(false)
        let reports = try await withEngine(configuration) { engine -> [BenchReport] in
            var credentials: Credentials?
            if let token { credentials = try await engine.signIn(token, archive: archive) }
            let live = BenchLiveLine(mode: progress)
            /// One run: the live line while it runs, an interrupt cancels it (its report keeps what was measured).
            func measure(_ targets: [BenchTarget], _ options: BenchOptions) async -> BenchReport {
                let run = Task { await engine.bench(targets, options: options) { live.show($0) } }
                let interrupt = Interrupt {
                    interrupted.withLock { $0 = true }
                    run.cancel()
                }
                defer { interrupt.cancel() }
                let report = await run.value
                live.finish()
                return report
            }
            func noteLeftOut(_ leftOut: [(uri: String, reason: String)]) {
                guard !Terminal.quiet else { return }
                for (reason, uris) in Dictionary(grouping: leftOut, by: \.reason).sorted(by: { $0.key < $1.key }) {
                    Terminal.note("\(Format.count(uris.count, "URL")) left out: \(reason)")
                    for item in uris.prefix(verbosity.verbose > 0 ? .max : 3) { Terminal.note("  \(item.uri)") }
                }
            }
            // The bucket's keys first (the lookups are not what is measured), then every fetch from
            // where a download would fetch it.
            let wanted = plan.entries.indices.filter { if case .download = plan.entries[$0].disposition { true } else { false } }
            if compareSources {
                let locations = await engine.cloudLocations(plan, entries: wanted)
                let pairs = plan.benchTargetPairs(configuration: engine.configuration, credentials: credentials, locations: locations)
                noteLeftOut(pairs.leftOut)
                guard !pairs.cloud.isEmpty else {
                    throw HaulError(HaulError.Code("not in the cloud"), "nothing to compare: the bucket has none of the selected files (--compare-sources)")
                }
                // The archive first, then the bucket, the same products in the same order; an
                // interrupt during the first leaves its report alone.
                var reports: [BenchReport] = []
                for (name, targets) in [("archive", pairs.archive), ("cloud", pairs.cloud)] where !interrupted.withLock({ $0 }) {
                    var options = self.options(source: .archive)
                    options.label = label.map { "\($0), \(name)" } ?? name
                    if !Terminal.quiet { Terminal.note("\(name): \(Format.count(targets.count, "URL"))") }
                    reports.append(await measure(targets, options))
                }
                return reports
            }
            var cloud: (locations: [Int: CloudLocation], policy: SourcePolicy)?
            if source != .archive { cloud = (await engine.cloudLocations(plan, entries: wanted), source) }
            let (targets, leftOut) = plan.benchTargets(configuration: engine.configuration, credentials: credentials, cloud: cloud)
            if let cloud, !Terminal.quiet {
                // Every download the bucket has a URL for is fetched from there.
                let fromCloud = cloud.locations.values.filter { $0.url != nil }.count
                Terminal.note("\(fromCloud) from the cloud, \(targets.count - fromCloud) from the archive")
                noteLeftOut(leftOut)
            }
            guard !targets.isEmpty else {
                // Not a usage error: what the bucket holds can change (exit 1).
                throw HaulError(HaulError.Code("not in the cloud"), "nothing to bench: the bucket has none of the selected files (--source cloud)")
            }
            return [await measure(targets, options)]
        }
        if reports.count > 1 {
            let comparison = BenchComparison(runs: reports)
            if let json { try write(comparison.json(), to: json) }
            if let html { try write(comparison.html(title: "haul bench"), to: html) }
            if !Terminal.quiet {
                let summaries = reports.map { BenchSummary($0, width: Terminal.width).text }.joined(separator: "\n")
                Terminal.emit(summaries + "\n" + BenchSummary.comparison(comparison), to: summaryDescriptor)
            }
        } else if let report = reports.first {
            if let json { try write(report.json(), to: json) }
            if let html { try write(report.html(title: "haul bench"), to: html) }
            if !Terminal.quiet { Terminal.emit(BenchSummary(report, width: Terminal.width).text, to: summaryDescriptor) }
        }
        if let html, !Terminal.quiet { Terminal.note("report in \(html)") }
        if interrupted.withLock({ $0 }) { throw ExitStatus(code: 130) }
        throw ExitStatus(code: reports.contains { $0.failed > 0 } ? 1 : 0)
    }

    private func write(_ text: String, to path: String) throws {
        if path == "-" {
            Terminal.standardOutput(text)
            return
        }
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw HaulError(.output, "cannot write \(path): \(error.localizedDescription)")
        }
    }
}
