import ArgumentParser
import Foundation
import Haul

/// `haul status DIR`: one view over every shard of a plan, from the status files they write.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the progress of a plan's shards: files and bytes done, rate, ETA, shards running, done and failed.",
        discussion: """
        Reads DIR/plan.json and the DIR/status/NNNNN.json each shard rewrites about once a second (no \
        server, nothing asked of the engine). A shard is waiting until it starts; running; done; \
        failed (some files failed or an error: run it again, it fetches only what it lacks); \
        interrupted (SIGINT, SIGTERM); or lost: it said it was running, but its process is gone (on \
        this host) or it has said nothing for --stale seconds (killed, node lost).

        Exit status: 0 every shard done; 1 some failed, interrupted or lost; 3 some still waiting or \
        running; 2 no plan there.

        Examples:
          haul status plan
          watch -n 10 haul status plan
          haul status plan --json | jq .failed
        """
    )

    @Argument(help: ArgumentHelp("The plan folder haul plan wrote.", valueName: "dir"))
    var folder: String

    @Flag(help: "Print the view as one JSON object.")
    var json = false

    @Option(help: ArgumentHelp("Seconds without a word after which a running shard counts as lost.", valueName: "seconds"))
    var stale: Double = 120

    func run() async throws {
        let view = try ShardOverview(folder: folder, stale: stale)
        let failedShards = view.shards.filter { [.failed, .interrupted, .lost].contains($0.condition) }
        var failedFiles: [String] = []
        for shard in view.shards where shard.condition != .running {
            failedFiles += shard.status?.failures ?? []
        }
        if json {
            var object: [String: Any] = [
                "files": ["done": view.filesDone, "failed": view.filesFailed, "total": view.filesTotal],
                "bytes": ["done": view.bytesDone, "total": view.bytesTotal],
                "rate": view.rate.isFinite ? view.rate : 0,
                "shards": Dictionary(uniqueKeysWithValues: [ShardOverview.Condition.waiting, .running, .done, .failed, .interrupted, .lost].map { condition in
                    (condition.rawValue, view.shards.filter { $0.condition == condition }.map(\.index))
                }),
                "failed": failedFiles,
            ]
            if let eta = view.eta { object["eta"] = eta }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            Terminal.standardOutput(String(decoding: data, as: UTF8.self) + "\n")
        } else {
            var out = "\(view.record.root): \(view.filesDone.grouped) of \(Format.count(view.filesTotal, "file")), "
            out += "\(Format.bytes(view.bytesDone)) of \(Format.bytes(view.bytesTotal))"
            if view.bytesTotal > 0 { out += String(format: " (%.1f%%)", 100 * Double(view.bytesDone) / Double(view.bytesTotal)) }
            if view.rate > 0 { out += ", \(Format.rate(view.rate))" }
            if let eta = view.eta, eta > 0, !view.complete { out += ", ETA \(Format.seconds(eta))" }
            out += "\n"
            let counts = [ShardOverview.Condition.running, .waiting, .done, .failed, .interrupted, .lost].compactMap { c -> String? in
                let n = view.count(c)
                return n > 0 ? "\(n.grouped) \(c.rawValue)" : nil
            }
            out += "shards: " + counts.joined(separator: ", ") + " (of \(view.shards.count.grouped))\n"
            for shard in failedShards.prefix(20) {
                let s = shard.status
                var line = "  shard \(shard.index) \(shard.condition.rawValue)"
                if let s { line += " on \(s.host), run \(s.run): \(s.filesDone - s.filesFailed) of \(s.filesTotal) files" }
                if let error = s?.error { line += ": \(error)" }
                out += line + "\n"
            }
            if failedShards.count > 20 { out += "  … and \(failedShards.count - 20) more\n" }
            if !failedFiles.isEmpty {
                out += "failed files:\n"
                for file in failedFiles.prefix(20) { out += "  \(file)\n" }
                if failedFiles.count > 20 { out += "  … and \(failedFiles.count - 20) more (each shard's manifest lists them all)\n" }
            }
            if !failedShards.isEmpty {
                out += "run them again (each fetches only what it lacks): sbatch --array=\(failedShards.map { String($0.index) }.joined(separator: ",")) \(folder)/slurm.sbatch\n"
            }
            Terminal.standardOutput(out)
        }
        if view.complete { return }
        if !failedShards.isEmpty { throw ExitStatus(code: 1) }
        throw ExitStatus(code: 3)
    }
}
