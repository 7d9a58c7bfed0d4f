import Foundation
import Haul
import HaulArchive
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A one-node Slurm cluster on this machine (`scripts/slurm-cluster`): munged, slurmctld and slurmd,
/// stopped by the PIDs the script recorded.
final class SlurmCluster: Sendable {
    let folder: String
    var conf: String { folder + "/slurm.conf" }

    /// Starts it, or throws with why not: not root, Slurm or munge missing (`scripts/setup --slurm`),
    /// a daemon that did not start. Never a silent skip: CI runs these tests as root.
    init() async throws {
        folder = NSTemporaryDirectory() + "/haul-slurm-\(UUID().uuidString.prefix(8))"
        guard getuid() == 0 else {
            throw ClusterFailure(message: "the Slurm tests start slurmctld and slurmd as root: run the tests as root (CI does)")
        }
        let start = try await runTool(repositoryRoot + "/scripts/slurm-cluster", ["start", folder])
        guard start.status == 0 else {
            _ = try? await runTool(repositoryRoot + "/scripts/slurm-cluster", ["stop", folder])
            throw ClusterFailure(message: "scripts/slurm-cluster start failed (\(start.status)): \(start.output)")
        }
    }

    func stop() async {
        _ = try? await runTool(repositoryRoot + "/scripts/slurm-cluster", ["stop", folder])
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Runs a Slurm command against this cluster, in `directory`.
    func run(_ program: String, _ arguments: [String], in directory: String, timeout: Duration = .seconds(300)) async throws -> (status: Int32, stdout: String, stderr: String) {
        let p = try HaulProcess(arguments, in: directory, environment: ["SLURM_CONF": conf], executable: "/usr/bin/" + program)
        let status = await p.wait(timeout: timeout)
        return (status, p.stdout, p.stderr)
    }

    /// Runs `body` with a started cluster, and stops the cluster after it, however it ends.
    static func with<T>(_ body: (SlurmCluster) async throws -> T) async throws -> T {
        let cluster = try await SlurmCluster()
        do {
            let result = try await body(cluster)
            await cluster.stop()
            return result
        } catch {
            await cluster.stop()
            throw error
        }
    }

    struct ClusterFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}

@Suite("Slurm: plan, sbatch the generated script, merge", .serialized)
struct SlurmTests {
    @Test("sbatch runs the generated job array unchanged; the merge equals one machine's ZIP and manifest")
    func jobArray() async throws {
        try await SlurmCluster.with { cluster in
            let folder = TemporaryFolder()
            try await withTestArchive { archive in
                let fixture = try ShardFixture(archive, in: folder.path)
                let reference = try await oneMachineZip(fixture, archive: archive, folder: folder.path, root: "sample")
                let requestsBefore = archive.statistics.requests
                let plan = try await runHaul(["plan", fixture.catalog, "--shards", "4", "--concurrent", "2", "--parallel", "16", "--out", "plan", "--root", "sample", "--archive", archive.url], in: folder.path)
                #expect(plan.status == 0, "\(plan.stderr)")
                let script = try String(contentsOfFile: folder.path + "/plan/slurm.sbatch", encoding: .utf8)
                #expect(script.contains("#SBATCH --array=0-3%2"))
                let submit = try await cluster.run("sbatch", ["--wait", folder.path + "/plan/slurm.sbatch"], in: folder.path)
                #expect(submit.status == 0, "sbatch: \(submit.stdout)\(submit.stderr)")
                let logs = (try? FileManager.default.contentsOfDirectory(atPath: folder.path + "/plan/logs")) ?? []
                #expect(logs.count == 4, "\(logs)")
                for log in logs {
                    let text = (try? String(contentsOfFile: folder.path + "/plan/logs/" + log, encoding: .utf8)) ?? ""
                    #expect(text.contains("(slurm) on"), "\(log): \(text)")
                }
                // Every file fetched once over the whole array.
                #expect(archive.statistics.requests - requestsBefore == (try fixture.uris(archive: archive)).count)
                let status = try await runHaul(["status", "plan"], in: folder.path)
                #expect(status.status == 0, "\(status.stdout)")
                let merge = try await runHaul(["merge", "plan"], in: folder.path)
                #expect(merge.status == 0, "\(merge.stderr)")
                try await checkMerged(folder.path + "/plan/sample.zip", root: "sample", against: reference, planFolder: folder.path + "/plan")
            }
        }
    }

    @Test("An array task killed mid-run (kill -9 of its haul) and resubmitted alone fetches only the files it lacked")
    func killAndResubmit() async throws {
        try await SlurmCluster.with { cluster in
            let folder = TemporaryFolder()
            try await withTestArchive(threads: 2) { archive in
                let fixture = try ShardFixture(archive, in: folder.path)
                let reference = try await oneMachineZip(fixture, archive: archive, folder: folder.path, root: "sample")
                let plan = try await runHaul(["plan", fixture.catalog, "--shards", "3", "--out", "plan", "--root", "sample", "--archive", archive.url], in: folder.path)
                #expect(plan.status == 0, "\(plan.stderr)")
                let record = try ShardPlan.read(folder.path + "/plan")
                // Shard 1's two biggest files trickle on their first request, so the task is mid-run
                // when every other file of it is complete.
                let products = try Catalog.load(paths: [folder.path + "/plan/" + record.shards[1].path]).products
                let slow = products.sorted { ($0.size ?? 0, $0.uri) > ($1.size ?? 0, $1.uri) }.prefix(2)
                for p in slow { archive.add(uri: p.uri, size: p.size!, faults: [.init(.trickle(bytesPerSecond: 2_000), times: 1)]) }
                let submit = try await cluster.run("sbatch", ["--parsable", folder.path + "/plan/slurm.sbatch"], in: folder.path)
                #expect(submit.status == 0, "sbatch: \(submit.stderr)")
                let job = submit.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
                // Wait (bounded) until shard 1 has every file but the slow two.
                let deadline = ContinuousClock.now + .seconds(120)
                var status = ShardStatus.read(folder.path + "/plan", shard: 1, width: record.width)
                while ContinuousClock.now < deadline {
                    status = ShardStatus.read(folder.path + "/plan", shard: 1, width: record.width)
                    if let s = status, s.state == .running, s.filesDone >= s.filesTotal - 2 { break }
                    try await Task.sleep(for: .milliseconds(200))
                }
                let reached = try #require(status)
                #expect(reached.state == .running && reached.filesDone == reached.filesTotal - 2, "\(reached)")
                // A node lost or an OOM kill: no signal handler runs, nothing is finished.
                #expect(kill(reached.pid, SIGKILL) == 0)
                // The array ends: shards 0 and 2 complete, 1 killed.
                let ended = ContinuousClock.now + .seconds(120)
                while ContinuousClock.now < ended {
                    let queue = try await cluster.run("squeue", ["-h", "-j", job], in: folder.path)
                    if queue.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { break }
                    try await Task.sleep(for: .milliseconds(500))
                }
                let view = try await runHaul(["status", "plan"], in: folder.path)
                #expect(view.status == 1, "\(view.stdout)")
                #expect(view.stdout.contains("1 lost") && view.stdout.contains("2 done"), "\(view.stdout)")
                #expect(view.stdout.contains("sbatch --array=1 "), "\(view.stdout)")
                let early = try await runHaul(["merge", "plan"], in: folder.path)
                #expect(early.status == 1)
                #expect(early.stderr.contains("not fetched: shard 1 has not finished"))

                let uris = try fixture.uris(archive: archive)
                let before = Dictionary(uniqueKeysWithValues: uris.map { ($0, archive.requests(for: $0)) })
                let again = try await cluster.run("sbatch", ["--wait", "--array=1", folder.path + "/plan/slurm.sbatch"], in: folder.path)
                #expect(again.status == 0, "sbatch --array=1: \(again.stdout)\(again.stderr)")
                var fetched: [String: Int] = [:]
                for uri in uris where archive.requests(for: uri) != before[uri] { fetched[uri] = archive.requests(for: uri) - before[uri]! }
                #expect(fetched == Dictionary(uniqueKeysWithValues: slow.map { ($0.uri, 1) }), "fetched again: \(fetched)")
                let resumed = try #require(ShardStatus.read(folder.path + "/plan", shard: 1, width: record.width))
                #expect(resumed.state == .done && resumed.run == 2)
                let merge = try await runHaul(["merge", "plan"], in: folder.path)
                #expect(merge.status == 0, "\(merge.stderr)")
                try await checkMerged(folder.path + "/plan/sample.zip", root: "sample", against: reference, planFolder: folder.path + "/plan")
            }
        }
    }
}
