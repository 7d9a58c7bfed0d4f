import Foundation
import Haul
import HaulArchive
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The repository's root, for its scripts.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// A sample catalog on the loopback archive for plans: JWST and HST observations with shared
/// association pools (duplicate URIs), guide stars and exclusive-access rows (excluded without a token).
struct ShardFixture {
    let catalog: String
    let sample: SampleCatalog

    init(_ archive: TestArchive, in folder: String) throws {
        sample = SampleCatalog(jwstObservations: 2, hstObservations: 3, scale: 0.05)
        catalog = folder + "/catalog.json"
        try sample.install(in: archive, catalogAt: catalog)
    }

    /// The URIs one machine's download fetches: unique, public, not guide stars (the default selection).
    func uris(archive: TestArchive) throws -> Set<String> {
        let plan = Plan(
            products: try Catalog.load(paths: [catalog]).products, selection: Selection(quick: .all), root: "r",
            resolver: try URLResolver(archive: archive.url)
        )
        return Set(plan.downloads.map { plan.entries[$0].product.uri })
    }
}

/// What a ZIP holds, by name: size and CRC-32, as Python's zipfile reads them (every CRC checked).
func zipContents(_ path: String) async throws -> [String: [UInt64]] {
    var out: [String: [UInt64]] = [:]
    for entry in try await readWithPython(path).entries { out[entry.name] = [entry.size, UInt64(entry.crc)] }
    return out
}

/// A manifest's rows, URI to CRC-32: not the columns that depend on how the transfers went (a file
/// kept from a run killed before it wrote its manifest has no Last-Modified or ETag on record, as
/// after any haul download re-run that follows a kill -9; attempts, seconds, note).
func manifestCore(_ csv: String) -> [[String]] {
    let lines = csv.split(separator: "\r\n", omittingEmptySubsequences: true).map(String.init)
    // The fixture's fields up to CRC-32 hold no commas or quotes.
    return lines.map { Array($0.split(separator: ",", omittingEmptySubsequences: false).map(String.init).prefix(7)) }
}

/// One machine's `haul download --zip` of the fixture: the reference a merged plan must equal.
func oneMachineZip(_ fixture: ShardFixture, archive: TestArchive, folder: String, root: String) async throws -> (zip: [String: [UInt64]], manifest: String) {
    try FileManager.default.createDirectory(atPath: folder + "/one", withIntermediateDirectories: true)
    let run = try await runHaul(["download", fixture.catalog, "--zip", "one/\(root).zip", "--archive", archive.url, "--progress", "none"], in: folder)
    #expect(run.status == 0, "\(run.stderr)")
    let zip = try await zipContents(folder + "/one/\(root).zip")
    let manifest = try await runTool("unzip", ["-p", folder + "/one/\(root).zip", "\(root)/manifest.csv"]).output
    return (zip, manifest)
}

/// Checks a merged plan against one machine's run: the same entries (names, sizes, CRC-32s), five
/// readers accept it, the manifests as its last entries, the same manifest rows.
func checkMerged(_ zip: String, root: String, against reference: (zip: [String: [UInt64]], manifest: String), planFolder: String) async throws {
    let merged = try await zipContents(zip)
    let names = { (d: [String: [UInt64]]) in d.filter { !$0.key.hasSuffix("/manifest.csv") && !$0.key.hasSuffix("/manifest.html") } }
    #expect(names(merged) == names(reference.zip))
    #expect(Set(merged.keys) == Set(reference.zip.keys))
    let order = try await readWithPython(zip).entries.sorted { $0.offset < $1.offset }.map(\.name)
    #expect(Array(order.suffix(2)) == ["\(root)/manifest.html", "\(root)/manifest.csv"])
    try await checkWithReaders(zip, names: Array(merged.keys))
    let inside = try await runTool("unzip", ["-p", zip, "\(root)/manifest.csv"]).output
    #expect(manifestCore(inside) == manifestCore(reference.manifest))
    let beside = (try? String(contentsOfFile: planFolder + "/manifest.csv", encoding: .utf8)) ?? ""
    #expect(beside == inside)
}

@Suite("Shards: plan, download --shard, status, merge")
struct ShardTests {
    @Test("Balance: deterministic, every file in one shard, the biggest at most the mean plus the largest file")
    func balance() {
        var state: UInt64 = 21
        let sizes = (0..<20_000).map { _ -> Int64 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int64((state >> 33) % 50_000_000)
        }
        let a = ShardPlan.balance(sizes: sizes, shards: 37)
        #expect(a == ShardPlan.balance(sizes: sizes, shards: 37))
        var bytes = [Int64](repeating: 0, count: 37)
        for (i, s) in a.enumerated() { bytes[Int(s)] += sizes[i] }
        let mean = Double(sizes.reduce(0, +)) / 37
        #expect(Double(bytes.max()!) <= mean + Double(sizes.max()!))
        #expect(Double(bytes.max()!) <= 1.01 * mean)
        // Files without sizes spread by count.
        let counts = ShardPlan.balance(sizes: [Int64](repeating: 0, count: 100), shards: 7).reduce(into: [Int](repeating: 0, count: 7)) { $0[Int($1)] += 1 }
        #expect(counts.max()! - counts.min()! <= 1)
    }

    @Test("Kubernetes: job.yaml is a valid Indexed Job; its container command run once per index, merged, equals one machine's ZIP and manifest")
    func kubernetesByIndex() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let fixture = try ShardFixture(archive, in: folder.path)
            let reference = try await oneMachineZip(fixture, archive: archive, folder: folder.path, root: "sample")
            let plan = try await runHaul(["plan", fixture.catalog, "--shards", "4", "--concurrent", "2", "--parallel", "16", "--out", "plan", "--root", "sample", "--archive", archive.url], in: folder.path)
            #expect(plan.status == 0, "\(plan.stderr)")
            // The same inputs give the same shards, byte for byte.
            let again = try await runHaul(["plan", fixture.catalog, "--shards", "4", "--concurrent", "2", "--parallel", "16", "--out", "plan2", "--root", "sample", "--archive", archive.url], in: folder.path)
            #expect(again.status == 0)
            for name in ["shards/00000.csv", "shards/00001.csv", "shards/00002.csv", "shards/00003.csv", "rows.csv", "plan.json"] {
                #expect(Bytes(readBytes(folder.path + "/plan/" + name)) == Bytes(readBytes(folder.path + "/plan2/" + name)), "\(name) differs")
            }
            let record = try ShardPlan.read(folder.path + "/plan")
            #expect(record.parallelPerShard == 8)
            #expect(record.shards.reduce(0) { $0 + $1.files } == record.selection.files)
            // No URI in two shards, and every selected one in one.
            var seen: [String: Int] = [:]
            for (i, shard) in record.shards.enumerated() {
                let products = try Catalog.load(paths: [folder.path + "/plan/" + shard.path]).products
                #expect(products.count == shard.files)
                for p in products { #expect(seen.updateValue(i, forKey: p.uri) == nil, "\(p.uri) in two shards") }
            }
            #expect(Set(seen.keys) == (try fixture.uris(archive: archive)))

            let check = try await runTool(repositoryRoot + "/scripts/check-k8s-job", [folder.path + "/plan/job.yaml", "--command"])
            #expect(check.status == 0, "\(check.output)")
            struct Job: Decodable { var command: [String]; var env: [String: String]; var mount: String; var completions: Int; var parallelism: Int; var backoffLimitPerIndex: Int }
            let job = try JSONDecoder().decode(Job.self, from: Data(check.output.utf8))
            #expect(job.completions == 4 && job.parallelism == 2 && job.backoffLimitPerIndex == 2)
            let yaml = try String(contentsOfFile: folder.path + "/plan/job.yaml", encoding: .utf8)
            #expect(yaml.contains("completionMode: Indexed") && yaml.contains("action: FailIndex") && yaml.contains("values: [2]"))
            // The container's command, as the pod runs it: haul on the PATH, the plan at the mount.
            #expect(job.command.first == "haul")
            let arguments = job.command.dropFirst().map { $0 == job.mount ? folder.path + "/plan" : $0 }
            for index in 0..<job.completions {
                var env = job.env
                env["JOB_COMPLETION_INDEX"] = String(index)
                let run = try await runHaul(Array(arguments), in: folder.path, environment: env)
                #expect(run.status == 0, "index \(index): \(run.stderr)")
                #expect(run.stderr.contains("shard \(index) of 4 (kubernetes)"))
            }
            let status = try await runHaul(["status", "plan"], in: folder.path)
            #expect(status.status == 0, "\(status.stdout)\(status.stderr)")
            #expect(status.stdout.contains("4 done"))
            let merge = try await runHaul(["merge", "plan", "--zip", "merged.zip"], in: folder.path)
            #expect(merge.status == 0, "\(merge.stderr)")
            #expect(merge.stderr.contains("copied in the kernel"))
            try await checkMerged(folder.path + "/merged.zip", root: "sample", against: reference, planFolder: folder.path + "/plan")
        }
    }

    @Test("A shard's index: --shard-index, else the engine's variable; none or out of range is status 2")
    func shardIndex() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let fixture = try ShardFixture(archive, in: folder.path)
            let plan = try await runHaul(["plan", fixture.catalog, "--shards", "3", "--out", "plan", "--archive", archive.url], in: folder.path)
            #expect(plan.status == 0, "\(plan.stderr)")
            let none = try await runHaul(["download", "--shard", "plan"], in: folder.path)
            #expect(none.status == 2)
            #expect(none.stderr.contains("SLURM_ARRAY_TASK_ID") && none.stderr.contains("JOB_COMPLETION_INDEX"))
            let far = try await runHaul(["download", "--shard", "plan"], in: folder.path, environment: ["SLURM_ARRAY_TASK_ID": "3"])
            #expect(far.status == 2)
            #expect(far.stderr.contains("SLURM_ARRAY_TASK_ID 3: the plan has shards 0 to 2"))
            let noPlan = try await runHaul(["download", "--shard", "nowhere", "--shard-index", "0"], in: folder.path)
            #expect(noPlan.status == 2)
            #expect(noPlan.stderr.contains("nowhere/plan.json: no plan there"))
            // Two shards of three: status says which is waiting; merge names the missing files, status 1.
            for i in [0, 2] {
                let run = try await runHaul(["download", "--shard", "plan"], in: folder.path, environment: ["AWS_BATCH_JOB_ARRAY_INDEX": String(i)])
                #expect(run.status == 0, "\(run.stderr)")
            }
            let status = try await runHaul(["status", "plan"], in: folder.path)
            #expect(status.status == 3)
            #expect(status.stdout.contains("1 waiting") && status.stdout.contains("2 done"))
            let merge = try await runHaul(["merge", "plan"], in: folder.path)
            #expect(merge.status == 1)
            let record = try ShardPlan.read(folder.path + "/plan")
            #expect(merge.stderr.contains("\(record.shards[1].files) files missing") || merge.stderr.contains("1 file missing"))
            #expect(merge.stderr.contains("not fetched: shard 1 has not finished"))
            let manifest = try String(contentsOfFile: folder.path + "/plan/manifest.csv", encoding: .utf8)
            #expect(manifest.components(separatedBy: "not fetched: shard 1").count - 1 == record.shards[1].files)
        }
    }

    @Test("Shards into one shared --dir tree: merged, the tree and its manifest equal one machine's --dir run")
    func sharedTree() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let fixture = try ShardFixture(archive, in: folder.path)
            let one = try await runHaul(["download", fixture.catalog, "--dir", "one/data", "--archive", archive.url, "--progress", "none"], in: folder.path)
            #expect(one.status == 0, "\(one.stderr)")
            let plan = try await runHaul(["plan", fixture.catalog, "--shards", "3", "--dir", "tree/data", "--out", "plan", "--archive", archive.url], in: folder.path)
            #expect(plan.status == 0, "\(plan.stderr)")
            // The shards at once, as an array runs them.
            let tasks = try (0..<3).map { i in try HaulProcess(["download", "--shard", "plan"], in: folder.path, environment: ["SLURM_ARRAY_TASK_ID": String(i)]) }
            for task in tasks { #expect(await task.wait() == 0, "\(task.stderr)") }
            let merge = try await runHaul(["merge", "plan"], in: folder.path)
            #expect(merge.status == 0, "\(merge.stderr)")
            #expect(listing(folder.path + "/tree/data") == listing(folder.path + "/one/data"))
            for file in listing(folder.path + "/one/data") where !file.hasSuffix("/") && !file.hasPrefix("manifest.") {
                #expect(Bytes(readBytes(folder.path + "/tree/data/" + file)) == Bytes(readBytes(folder.path + "/one/data/" + file)), "\(file)")
            }
            let merged = try String(contentsOfFile: folder.path + "/tree/data/manifest.csv", encoding: .utf8)
            let reference = try String(contentsOfFile: folder.path + "/one/data/manifest.csv", encoding: .utf8)
            #expect(manifestCore(merged) == manifestCore(reference))
            // Run again: nothing is fetched.
            let before = archive.statistics.requests
            let again = try await runHaul(["download", "--shard", "plan", "--shard-index", "1"], in: folder.path)
            #expect(again.status == 0)
            #expect(archive.statistics.requests == before)
        }
    }

    @Test("Flat layout with clashing names and a file the archive lacks: the same names as one machine's run, the failure named by merge (status 1)")
    func flatWithFailure() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let products = zipFixture(archive)
            let listing = try zipPlan(products, archive: archive, root: "x").exportCSV()
            try listing.write(toFile: folder.path + "/list.csv", atomically: true, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: folder.path + "/one", withIntermediateDirectories: true)
            let one = try await runHaul(["download", "list.csv", "--layout", "flat", "--zip", "one/flat.zip", "--archive", archive.url, "--progress", "none", "--retries", "0"], in: folder.path)
            #expect(one.status == 1, "\(one.stderr)")
            let reference = try await zipContents(folder.path + "/one/flat.zip")
            let referenceManifest = try await runTool("unzip", ["-p", folder.path + "/one/flat.zip", "flat/manifest.csv"]).output
            let plan = try await runHaul(["plan", "list.csv", "--layout", "flat", "--shards", "3", "--out", "flat", "--archive", archive.url], in: folder.path)
            #expect(plan.status == 0, "\(plan.stderr)")
            var statuses: [Int32] = []
            for i in 0..<3 {
                statuses.append(try await runHaul(["download", "--shard", "flat", "--shard-index", String(i), "--retries", "0"], in: folder.path).status)
            }
            #expect(statuses.sorted() == [0, 0, 1])
            let status = try await runHaul(["status", "flat"], in: folder.path)
            #expect(status.status == 1)
            #expect(status.stdout.contains("missing.fits: FAILED: HTTP 404"), "\(status.stdout)")
            let merge = try await runHaul(["merge", "flat"], in: folder.path)
            #expect(merge.status == 1)
            #expect(merge.stderr.contains("1 file missing") && merge.stderr.contains("missing.fits: HTTP 404"), "\(merge.stderr)")
            let merged = try await zipContents(folder.path + "/flat/flat.zip")
            #expect(Set(merged.keys) == Set(reference.keys))
            #expect(merged.filter { !$0.key.hasPrefix("flat/manifest.") } == reference.filter { !$0.key.hasPrefix("flat/manifest.") })
            #expect(merged.keys.contains("flat/x (2).fits"))
            let manifest = try String(contentsOfFile: folder.path + "/flat/manifest.csv", encoding: .utf8)
            func rows(_ csv: String) -> [String] {
                csv.split(separator: "\r\n").map { line in line.split(separator: ",", omittingEmptySubsequences: false).prefix(4).joined(separator: ",") }
            }
            #expect(rows(manifest) == rows(referenceManifest))
            #expect(manifest.contains("renamed from x.fits: another product has that name"))
            // A shard's ZIP removed after it finished: its files are missing, not merged.
            unlink(folder.path + "/flat/shards/00000.zip")
            let again = try await runHaul(["merge", "flat"], in: folder.path)
            #expect(again.status == 1)
            #expect(again.stderr.contains("not in shard 0's ZIP"), "\(again.stderr)")
        }
    }
}
