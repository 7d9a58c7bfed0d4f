import Foundation
@testable import Haul
import HaulArchive
import Testing

/// A public HST product of the loopback archive, and the key MAST's bucket keeps it under.
private func hst(_ stem: String, size: Int64, access: Product.Access = .public) -> Product {
    Product(uri: "mast:HST/product/\(stem)_flt.fits", filename: "\(stem)_flt.fits", dataset: stem, mission: "HST", access: access, size: size)
}

private func key(_ product: Product) -> String { "hst/public/\(product.dataset)/\(product.filename)" }

/// Whether a file holds these bytes (a Bool, so a failure does not print megabytes).
private func holds(_ path: String, _ bytes: [UInt8]?) -> Bool { bytes != nil && readBytes(path) == bytes }

/// The manifest's rows by URI: every column by name.
private func manifestRows(_ csv: String) async throws -> [String: [String: String]] {
    let records = try CSVReader.records(csv, name: "manifest.csv")
    let header = try #require(records.first?.fields)
    var rows: [String: [String: String]] = [:]
    for record in records.dropFirst() {
        let fields = Dictionary(uniqueKeysWithValues: zip(header, record.fields))
        rows[fields["URI"]!] = fields
    }
    return rows
}

@Suite("Cloud source: MAST's public bucket, path lookups and fallback")
struct CloudTests {
    // MARK: Against moto's S3 server

    @Test("--source auto: public files from moto's bucket, the rest from the archive, in one ZIP with one manifest; a re-run resumes")
    func autoIntoZipAgainstMoto() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            // 47 in the bucket, one the lookup does not know, one the lookup knows but the bucket lacks,
            // one exclusive-access file that the lookup and the bucket both have: 49 public URIs, two calls.
            let inBucket = (0..<47).map { hst(String(format: "ib%03d", $0), size: 2_000 + Int64($0)) }
            let unknown = hst("notlooked", size: 3_000)
            let lacking = hst("notinbucket", size: 3_100)
            let exclusive = hst("secret", size: 3_200, access: .exclusive)
            let everything = inBucket + [unknown, lacking, exclusive]
            for p in everything {
                // The unknown file fails twice at the archive: the first run (one retry) leaves it out.
                archive.add(uri: p.uri, size: p.size!, faults: p.uri == unknown.uri ? [.failing(2, status: 500, retryAfter: nil)] : [],
                            access: p.access == .exclusive ? .exclusive : .public)
            }
            for p in inBucket + [lacking, exclusive] { archive.setCloudPath(p.uri, path: "/" + key(p)) }
            archive.addToken("cloud-test-token-0123456789", user: "tester")
            var objects: [String: [UInt8]] = [:]
            for p in inBucket + [exclusive] { objects[key(p)] = archive.content(of: p.uri)! }
            let plan = Plan(products: everything, selection: Selection(quick: .all), root: "x", resolver: try URLResolver(archive: archive.url), authorized: true)
            try plan.exportCSV().write(toFile: folder.path + "/cat.csv", atomically: true, encoding: .utf8)

            try await withS3Server(objects: objects, in: folder.path) { s3 in
                // AWS's own S3 host name, pinned to moto's address: --endpoint-url and --resolve together.
                let arguments = [
                    "download", "cat.csv", "--zip", "out.zip", "--source", "auto", "--archive", archive.url,
                    "--endpoint-url", "http://s3.us-east-1.amazonaws.com:\(s3.port)", "--resolve", "s3.us-east-1.amazonaws.com:\(s3.port):127.0.0.1",
                    "--retries", "1", "--progress", "json",
                ]
                let first = try await runHaul(arguments, in: folder.path, environment: ["MAST_API_TOKEN": "cloud-test-token-0123456789"])
                #expect(first.status == 1, "\(first.stderr)")
                let summary = try #require(first.stdout.split(separator: "\n").last.map(String.init))
                #expect(summary.contains(#""ok":49,"#) && summary.contains(#""failed":1,"#), "\(summary)")
                #expect(summary.contains(#""from_cloud":47,"from_archive":2,"lookup_calls":2,"#), "\(summary)")

                // Two lookups of 40 and 10 URIs; each public URI asked about once, the exclusive one never.
                #expect(archive.statistics.lookupCalls == 2)
                #expect(archive.statistics.lookupURIs == 49)
                for p in inBucket + [unknown, lacking] { #expect(archive.lookups(of: p.uri) == 1, "\(p.uri)") }
                #expect(archive.lookups(of: exclusive.uri) == 0)
                // The bucket: one GET for each of its 47 files, one (404) for the file it lacks, none for the
                // exclusive-access file; the archive: none of the 47, the token only with the exclusive file.
                let gets = s3.requests.filter { $0.hasPrefix("GET ") }
                #expect(gets.count == 48, "\(gets)")
                for p in inBucket { #expect(s3.requests(for: key(p)) == ["GET /stpubdata/\(key(p)) 200"]) }
                #expect(s3.requests(for: key(lacking)) == ["GET /stpubdata/\(key(lacking)) 404"])
                #expect(s3.requests(for: "secret").isEmpty)
                for p in inBucket { #expect(archive.requests(for: p.uri) == 0) }
                #expect(archive.requests(for: lacking.uri) == 1)
                #expect(archive.requests(for: exclusive.uri) == 1)
                #expect(archive.requests(for: unknown.uri) == 2)
                // The token went with the archive's product requests (4) and /whoami, never with a lookup.
                #expect(archive.statistics.authorizedRequests == 4)
                #expect(archive.statistics.authorizationHeaders == 5)

                let zip = folder.path + "/out.zip"
                var reading = try await readWithPython(zip, extractTo: folder.path + "/x1")
                #expect(reading.names.count == 49 + 2)
                var rows = try await manifestRows(String(contentsOfFile: folder.path + "/x1/out/manifest.csv", encoding: .utf8))
                for p in inBucket {
                    #expect(holds(folder.path + "/x1/out/\(p.dataset)/\(p.filename)", archive.content(of: p.uri)))
                    #expect(rows[p.uri]?["Source"] == "cloud")
                    #expect(rows[p.uri]?["Status"] == "\(p.dataset)/\(p.filename) associated with \(p.dataset) ... SUCCESS")
                    // moto's ETag of a single-part object: the MD5 of its bytes, quoted.
                    #expect(rows[p.uri]?["ETag"]?.count == 34)
                }
                #expect(holds(folder.path + "/x1/out/\(lacking.dataset)/\(lacking.filename)", archive.content(of: lacking.uri)))
                #expect(rows[lacking.uri]?["Source"] == "archive")
                #expect(rows[lacking.uri]?["Note"] == "from the archive: the cloud failed (HTTP 404 (NoSuchKey: The specified key does not exist.))")
                #expect(rows[exclusive.uri]?["Source"] == "archive")
                #expect(rows[exclusive.uri]?["Note"] == "")
                #expect(rows[unknown.uri]?["Status"] == "FAILED: HTTP 500 after 2 attempts")
                #expect(rows[unknown.uri]?["Source"] == "")
                #expect(rows[unknown.uri]?["Note"] == "from the archive: not in the cloud (path lookup: 404)")

                // The same command again: only the missing file, from the archive; no lookup of the kept
                // ones, no request to the bucket, and their rows keep where they came from.
                let lookupsBefore = archive.statistics.lookupCalls
                let second = try await runHaul(arguments, in: folder.path, environment: ["MAST_API_TOKEN": "cloud-test-token-0123456789"])
                #expect(second.status == 0, "\(second.stderr)")
                #expect(archive.statistics.lookupCalls == lookupsBefore + 1)
                #expect(archive.lookups(of: unknown.uri) == 2)
                #expect(archive.lookups(of: inBucket[0].uri) == 1)
                #expect(s3.requests.filter { $0.hasPrefix("GET ") }.count == 48)
                #expect(archive.requests(for: unknown.uri) == 3)
                reading = try await readWithPython(zip, extractTo: folder.path + "/x2")
                #expect(reading.names.count == 50 + 2)
                try await checkWithReaders(zip, names: reading.names)
                rows = try await manifestRows(String(contentsOfFile: folder.path + "/x2/out/manifest.csv", encoding: .utf8))
                #expect(holds(folder.path + "/x2/out/\(unknown.dataset)/\(unknown.filename)", archive.content(of: unknown.uri)))
                #expect(rows[unknown.uri]?["Source"] == "archive")
                #expect(rows[inBucket[5].uri]?["Source"] == "cloud")
                #expect(rows[inBucket[5].uri]?["Note"] == "already complete")
                #expect(second.stderr.contains("50 files OK (49 already complete) (47 from the cloud, 3 from the archive)"), "\(second.stderr)")
            }
        }
    }

    @Test("s3:// URLs in a URL list come anonymously from the bucket, with S3's error for a missing key and no fallback")
    func s3URLsAgainstMoto() async throws {
        let folder = TemporaryFolder()
        let bytes = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        try await withTestArchive { archive in
            try await withS3Server(objects: ["tess/public/ffi/s0001/a.fits": bytes], in: folder.path) { s3 in
                try "s3://stpubdata/tess/public/ffi/s0001/a.fits\ns3://stpubdata/tess/public/ffi/s0001/gone.fits\n"
                    .write(toFile: folder.path + "/urls.txt", atomically: true, encoding: .utf8)
                let run = try await runHaul(
                    ["download", "urls.txt", "--dir", "out", "--archive", archive.url, "--endpoint-url", s3.url, "--retries", "0", "-q"],
                    in: folder.path, environment: ["MAST_API_TOKEN": "cloud-test-token-0123456789"]
                )
                #expect(run.status == 1, "\(run.stderr)")
                #expect(holds(folder.path + "/out/stpubdata/tess/public/ffi/s0001/a.fits", bytes))
                let rows = try await manifestRows(String(contentsOfFile: folder.path + "/out/manifest.csv", encoding: .utf8))
                #expect(rows["s3://stpubdata/tess/public/ffi/s0001/a.fits"]?["Source"] == "cloud")
                #expect(rows["s3://stpubdata/tess/public/ffi/s0001/gone.fits"]?["Status"] == "FAILED: HTTP 404 (NoSuchKey: The specified key does not exist.)")
                // No lookup at the archive: its one request is the sign-in's /whoami.
                #expect(archive.statistics.requests == 1 && archive.statistics.lookupCalls == 0)
                #expect(s3.requests.sorted() == [
                    "GET /stpubdata/tess/public/ffi/s0001/a.fits 200", "GET /stpubdata/tess/public/ffi/s0001/gone.fits 404",
                ])
            }
        }
    }

    // MARK: Against a shaped bucket (the loopback archive answering as S3 does)

    @Test("SlowDown is retried with backoff, 403 and spent retries fall back with S3's code, big objects come in ranges, the token never goes to the bucket")
    func shapedBucket() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try await withTestArchive { bucket in
                let slow = hst("slow", size: 5_000), refused = hst("refused", size: 5_100), throttled = hst("throttled", size: 5_200)
                let big = hst("big", size: 3 << 20), exclusive = hst("secret", size: 5_300, access: .exclusive)
                let all = [slow, refused, throttled, big, exclusive]
                let slowDown = TestArchive.Fault.Kind.s3Error(503, code: "SlowDown", message: "Please reduce your request rate.")
                let faults: [String: [TestArchive.Fault]] = [
                    slow.uri: [TestArchive.Fault(slowDown, times: 2)],
                    refused.uri: [TestArchive.Fault(.s3Error(403, code: "AccessDenied", message: "Access Denied"))],
                    throttled.uri: [TestArchive.Fault(slowDown)],
                ]
                for p in all {
                    archive.add(uri: p.uri, size: p.size!, access: p.access == .exclusive ? .exclusive : .public)
                    archive.setCloudPath(p.uri, path: "/" + key(p))
                    // The bucket's object: the archive's bytes, under /stpubdata/KEY (path style).
                    bucket.add(uri: "/stpubdata/" + key(p), size: p.size!, faults: faults[p.uri] ?? [])
                    #expect(bucket.content(of: "/stpubdata/" + key(p)) != nil)
                }
                archive.addToken("cloud-test-token-0123456789", user: "tester")
                var resolver = try URLResolver(archive: archive.url)
                resolver.bucket.endpoint = bucket.url
                let plan = Plan(products: all, selection: Selection(quick: .all), root: "r", resolver: resolver, authorized: true)
                var configuration = testConfiguration(retries: 3)
                configuration.source = .auto
                // The bucket's own split (the archive's stays the default, which would fetch 3 MiB whole).
                configuration.cloudSegmentation = .init(threshold: 1 << 20, minimumSegment: 512 << 10, maximumConnections: 4)
                let report = try await withEngine(configuration) { engine in
                    let credentials = try await engine.signIn(try Credentials.AccessToken("cloud-test-token-0123456789", from: "test"), archive: resolver)
                    return try await engine.download(plan, to: .directory(folder.path + "/out"), credentials: credentials)
                }
                #expect(report.ok == 5 && report.failed == 0)
                #expect((report.fromCloud, report.fromArchive) == (2, 3))
                // The bucket's bytes (another seed than the archive's) where the bucket gave the file.
                for p in [slow, big] { #expect(holds(folder.path + "/out/\(p.dataset)/\(p.filename)", bucket.content(of: "/stpubdata/" + key(p)))) }
                for p in [refused, throttled, exclusive] { #expect(holds(folder.path + "/out/\(p.dataset)/\(p.filename)", archive.content(of: p.uri))) }
                let slowRow = try #require(report.row(slow.uri))
                #expect(slowRow.source == .cloud && slowRow.attempts == 3 && slowRow.note == "")
                #expect(slowRow.etag == bucket.etag(of: "/stpubdata/" + key(slow)))
                #expect(bucket.requests(for: "/stpubdata/" + key(slow)) == 3)
                #expect(report.row(refused.uri)?.source == .archive)
                #expect(report.row(refused.uri)?.note == "from the archive: the cloud failed (HTTP 403 (AccessDenied: Access Denied))")
                #expect(bucket.requests(for: "/stpubdata/" + key(refused)) == 1)
                #expect(report.row(throttled.uri)?.note == "from the archive: the cloud failed (HTTP 503 (SlowDown: Please reduce your request rate.) after 4 attempts)")
                #expect(bucket.requests(for: "/stpubdata/" + key(throttled)) == 4)
                // The big object: a one-byte probe, then three ranges (3 MiB in four, each rounded up to the
                // folder sink's 1 MiB blocks).
                #expect(report.row(big.uri)?.source == .cloud)
                #expect(bucket.requests(for: "/stpubdata/" + key(big)) == 4)
                #expect(bucket.statistics.rangeRequests == 4)
                #expect(archive.requests(for: big.uri) == 0 && archive.requests(for: slow.uri) == 0)
                // The exclusive-access file never reached the bucket, and no request there carried a token.
                #expect(bucket.requests(for: "/stpubdata/" + key(exclusive)) == 0)
                #expect(bucket.statistics.authorizationHeaders == 0)
                #expect(archive.lookups(of: exclusive.uri) == 0)
                #expect(report.lookupCalls == 1)
            }
        }
    }

    @Test("--source cloud: a file the bucket lacks fails with the reason and never comes from the archive")
    func cloudOnly() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let there = hst("there", size: 4_000), missing = hst("missing", size: 4_100)
            for p in [there, missing] { archive.add(uri: p.uri, size: p.size!) }
            archive.setCloudPath(there.uri, path: "/" + key(there))
            // One server as archive and bucket: its /stpubdata/KEY path is the object.
            archive.add(uri: "/stpubdata/" + key(there), size: there.size!)
            var resolver = try URLResolver(archive: archive.url)
            resolver.bucket.endpoint = archive.url
            let plan = Plan(products: [there, missing], selection: Selection(quick: .all), root: "r", resolver: resolver)
            var configuration = testConfiguration()
            configuration.source = .cloud
            let report = try await withEngine(configuration) { engine in
                try await engine.download(plan, to: .directory(folder.path + "/out"))
            }
            #expect(report.ok == 1 && report.failed == 1)
            #expect(report.row(there.uri)?.source == .cloud)
            #expect(report.status(missing.uri) == "FAILED: not in the cloud (path lookup: 404)")
            #expect(archive.requests(for: missing.uri) == 0 && archive.requests(for: there.uri) == 0)
            #expect(!fileExists(folder.path + "/out/\(missing.dataset)/\(missing.filename)"))
        }
    }

    /// Three products on the archive (4,000, 5,000 and 4,100 bytes), the first two in the bucket too (one
    /// server as archive and bucket, path style under --endpoint-url), listed as a CSV at `path`.
    static func twoInTheBucket(_ archive: TestArchive, prefix: String, listedIn path: String) throws -> (there: Product, also: Product, lacking: Product) {
        let there = hst(prefix + "there", size: 4_000), also = hst(prefix + "also", size: 5_000), lacking = hst(prefix + "lacking", size: 4_100)
        for p in [there, also, lacking] { archive.add(uri: p.uri, size: p.size!) }
        for p in [there, also] {
            archive.setCloudPath(p.uri, path: "/" + key(p))
            archive.add(uri: "/stpubdata/" + key(p), size: p.size!)
        }
        let plan = Plan(products: [there, also, lacking], selection: Selection(quick: .all), root: "x", resolver: try URLResolver(archive: archive.url))
        try plan.exportCSV().write(toFile: path, atomically: true, encoding: .utf8)
        return (there, also, lacking)
    }

    @Test("haul bench --source: auto benches each public file from the bucket where it has one and the archive otherwise; cloud leaves out what the bucket lacks; archive never looks up")
    func benchSource() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let (there, also, lacking) = try Self.twoInTheBucket(archive, prefix: "", listedIn: folder.path + "/cat.csv")
            let flags = ["cat.csv", "--archive", archive.url, "--endpoint-url", archive.url, "--json", "-", "--progress", "none"]
            func bench(_ source: String) async throws -> (status: Int32, json: [String: Any], stderr: String) {
                let run = try await runHaul(["bench"] + flags + ["--source", source], in: folder.path)
                let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] ?? [:]
                return (run.status, json, run.stderr)
            }
            func fromBucket() -> Int { [there, also].reduce(0) { $0 + archive.requests(for: "/stpubdata/" + key($1)) } }
            func fromArchive() -> Int { [there, also, lacking].reduce(0) { $0 + archive.requests(for: $1.uri) } }

            let auto = try await bench("auto")
            #expect(auto.status == 0, "\(auto.stderr)")
            #expect(auto.json["ok"] as? Int == 3 && auto.json["bytes"] as? Int == 13_100, "\(auto.json)")
            #expect(fromBucket() == 2 && fromArchive() == 1 && archive.requests(for: lacking.uri) == 1)
            #expect(auto.stderr.contains("2 from the cloud, 1 from the archive"), "\(auto.stderr)")
            let lookups = archive.statistics.lookupCalls
            #expect(lookups == 1)

            let cloud = try await bench("cloud")
            #expect(cloud.status == 0, "\(cloud.stderr)")
            #expect(cloud.json["ok"] as? Int == 2 && cloud.json["bytes"] as? Int == 9_000, "\(cloud.json)")
            #expect(fromBucket() == 4 && fromArchive() == 1)
            #expect(cloud.stderr.contains("1 URL left out: not in the cloud (path lookup: 404)"), "\(cloud.stderr)")

            let plain = try await bench("archive")
            #expect(plain.status == 0 && plain.json["ok"] as? Int == 3)
            #expect(fromBucket() == 4 && fromArchive() == 4)
            #expect(archive.statistics.lookupCalls == lookups + 1, "archive: no lookup")
        }
    }

    @Test("bench --compare-sources: the archive, then the bucket, over the products the bucket has; both reports and the table side by side")
    func benchCompareSources() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let (there, also, lacking) = try Self.twoInTheBucket(archive, prefix: "cmp-", listedIn: folder.path + "/cat.csv")
            let flags = ["bench", "cat.csv", "--archive", archive.url, "--endpoint-url", archive.url, "--progress", "none", "--repeat", "2"]

            let run = try await runHaul(flags + ["--compare-sources", "--json", "-", "--html", "sources.html"], in: folder.path)
            #expect(run.status == 0, "\(run.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] ?? [:]
            #expect(json["sources"] as? [String] == ["archive", "cloud"], "\(json)")
            let runs = json["runs"] as? [[String: Any]] ?? []
            #expect(runs.count == 2)
            // The same two products, twice each, from each source; the one the bucket lacks from neither.
            for report in runs {
                #expect(report["ok"] as? Int == 4 && report["requests"] as? Int == 4 && report["bytes"] as? Int == 18_000, "\(report)")
            }
            #expect(runs.map { $0["label"] as? String } == ["archive", "cloud"])
            for p in [there, also] {
                #expect(archive.requests(for: p.uri) == 2, "\(p.uri) from the archive")
                #expect(archive.requests(for: "/stpubdata/" + key(p)) == 2, "\(p.uri) from the bucket")
            }
            #expect(archive.requests(for: lacking.uri) == 0, "a product the bucket lacks is compared from neither")
            let rows = json["comparison"] as? [[String: Any]] ?? []
            let figures = Dictionary(uniqueKeysWithValues: rows.compactMap { row in (row["figure"] as? String).map { ($0, row) } })
            let ok = figures["OK"]
            #expect(ok?["values"] as? [Double] == [4, 4] && ok?["ratio"] as? Double == 1, "\(rows)")
            let throughput = figures["throughput"]
            #expect((throughput?["values"] as? [Double])?.allSatisfy { $0 > 0 } == true && throughput?["ratio"] is Double, "\(rows)")
            #expect(figures["errors"]?["ratio"] is NSNull, "no errors on either side: no ratio")
            // The summary (on standard error, as the JSON took standard output) ends with the table.
            #expect(run.stderr.contains("1 URL left out: not in the cloud (path lookup: 404)"), "\(run.stderr)")
            #expect(run.stderr.contains("archive against cloud: the same 4 requests"), "\(run.stderr)")
            #expect(run.stderr.contains("cloud / archive"), "\(run.stderr)")
            let page = try String(contentsOfFile: folder.path + "/sources.html", encoding: .utf8)
            #expect(page.contains("<h2>Side by side</h2>") && page.contains("<h2>archive</h2>") && page.contains("<h2>cloud</h2>"))
            #expect(page.contains("<h3>Latency</h3>") && !page.contains("<script"))

            let both = try await runHaul(flags + ["--compare-sources", "--source", "cloud"], in: folder.path)
            #expect(both.status == 2 && both.stderr.contains("leave out --source"), "\(both.stderr)")
        }
    }

    @Test("Lookups run beside the transfers: 1,000 files in 25 calls of 40, the first file asked for before the last lookup, each URI once")
    func lookupsOverlapTransfers() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            // 25 batches: the first transfer asks for batch 0, which starts it and the 16 after it; the
            // last ones start only once transfers have reached later batches.
            let products = (0..<1_000).map { hst(String(format: "ov%04d", $0), size: 1_000) }
            for p in products {
                archive.add(uri: p.uri, size: 1_000)
                archive.setCloudPath(p.uri, path: "/" + key(p))
                archive.add(uri: "/stpubdata/" + key(p), size: 1_000)
            }
            archive.recordRequests()
            var resolver = try URLResolver(archive: archive.url)
            resolver.bucket.endpoint = archive.url
            let plan = Plan(products: products, selection: Selection(quick: .all), root: "r", resolver: resolver)
            var configuration = testConfiguration(parallel: 4)
            configuration.source = .auto
            let report = try await withEngine(configuration) { engine in
                try await engine.download(plan, to: .directory(folder.path + "/out"))
            }
            #expect(report.fromCloud == 1_000 && report.lookupCalls == 25)
            let targets = archive.recordedRequests.map(\.target)
            let lookups = targets.indices.filter { targets[$0].hasPrefix("/api/v0.1/path_lookup/?") }
            let firstFile = try #require(targets.firstIndex { $0.hasPrefix("/stpubdata/") })
            #expect(lookups.count == 25)
            #expect(firstFile < lookups.last!, "the first file waited for every lookup")
            for p in products { #expect(archive.lookups(of: p.uri) == 1) }
            // A call names its URIs as astroquery does: uri= once each, ':' and '/' unescaped. (The first
            // batch's call starts with the read-ahead's first ones, so it is not always the first to arrive.)
            let first = try #require(lookups.first { targets[$0].contains("ov0000_flt.fits") }, "\(lookups.map { targets[$0].prefix(80) })")
            #expect(targets[first].hasPrefix("/api/v0.1/path_lookup/?uri=mast:HST/product/ov0000_flt.fits&uri=mast:HST/product/ov0001_flt.fits&"))
        }
    }

    @Test("The lookups stay 16 batches ahead of the furthest URI taken, whether or not its answer was there already")
    func lookupReadAhead() async throws {
        try await withTestArchive { archive in
            let uris = (0..<(30 * PathLookup.batchSize)).map { String(format: "mast:HST/product/ra%04d_flt.fits", $0) }
            for uri in uris { archive.setCloudPath(uri, path: "/hst/public/" + uri.dropFirst("mast:HST/product/".count)) }
            try await withEngine(testConfiguration()) { engine in
                let lookup = PathLookup(engine: engine, uris: uris, archive: archive.url, headers: [])
                let running = Task { await lookup.run() }
                defer { lookup.finish(); running.cancel() }
                // Batch by batch, as transfers take them. Once the answers of batch k are taken, batch
                // k + 16 is asked for. A read-ahead moved only by waits asked for nothing past batch 16
                // until a transfer waited again: batch 17 never came here while batches 1–16 were
                // answered ahead of the taking.
                for k in 0..<30 {
                    for uri in uris[(k * PathLookup.batchSize)..<((k + 1) * PathLookup.batchSize)] {
                        guard case .found = await lookup.answer(for: uri) else { Issue.record("\(uri) not found"); return }
                    }
                    let wanted = min(30, k + 17)
                    try await waitUntil("batch \(wanted - 1) asked for after batch \(k) was taken", seen: { "\(lookup.askedFor) asked for" }) {
                        lookup.askedFor >= wanted
                    }
                }
                #expect(lookup.askedFor == 30)
            }
            for uri in uris { #expect(archive.lookups(of: uri) == 1) }
        }
    }

    @Test("select --json states cloud URLs with --source auto; the curl script fetches from the bucket and falls back to the archive")
    func selectAndScript() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let there = hst("there", size: 4_000), lacking = hst("lacking", size: 4_100), unknown = hst("unknown", size: 4_200)
            let exclusive = hst("secret", size: 4_300, access: .exclusive)
            for p in [there, lacking, unknown, exclusive] {
                archive.add(uri: p.uri, size: p.size!, access: p.access == .exclusive ? .exclusive : .public)
            }
            for p in [there, lacking, exclusive] { archive.setCloudPath(p.uri, path: "/" + key(p)) }
            // One server as archive and bucket (path style): only `there` is in the bucket.
            archive.add(uri: "/stpubdata/" + key(there), size: there.size!)
            let plan = Plan(products: [there, lacking, unknown, exclusive], selection: Selection(quick: .all), root: "x",
                            resolver: try URLResolver(archive: archive.url), authorized: true)
            try plan.exportCSV().write(toFile: folder.path + "/cat.csv", atomically: true, encoding: .utf8)
            let flags = ["--archive", archive.url, "--endpoint-url", archive.url]

            // select without --source reads the catalog only; with it, one lookup for the page.
            let plain = try await runHaul(["select", "cat.csv", "--json"] + flags, in: folder.path)
            #expect(plain.status == 0 && !plain.stdout.contains("cloud_url"))
            #expect(archive.statistics.requests == 0)
            let located = try await runHaul(["select", "cat.csv", "--json", "--source", "auto"] + flags, in: folder.path,
                                            environment: ["MAST_API_TOKEN": "cloud-test-token-0123456789"])
            #expect(located.status == 0, "\(located.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(located.stdout.utf8)) as? [String: Any])
            let rows = try #require(object["rows"] as? [[String: Any]])
            let byURI = Dictionary(uniqueKeysWithValues: rows.map { ($0["uri"] as! String, $0) })
            #expect(byURI[there.uri]?["cloud_url"] as? String == "\(archive.url)/stpubdata/\(key(there))")
            #expect(byURI[lacking.uri]?["cloud_url"] as? String == "\(archive.url)/stpubdata/\(key(lacking))")
            #expect(byURI[unknown.uri]?["cloud_url"] is NSNull)
            #expect(byURI[unknown.uri]?["cloud_note"] as? String == "not in the cloud (path lookup: 404)")
            #expect(byURI[exclusive.uri]?["cloud_note"] as? String == "exclusive access: from the archive only")
            #expect(archive.statistics.lookupCalls == 1 && archive.statistics.lookupURIs == 3)

            // The script states the bucket's URLs and falls back to the archive for the file it lacks.
            let written = try await runHaul(["script", "cat.csv", "--source", "auto", "-o", "fetch.sh"] + flags, in: folder.path)
            #expect(written.status == 0, "\(written.stderr)")
            let text = try String(contentsOfFile: folder.path + "/fetch.sh", encoding: .utf8)
            #expect(text.contains("[0]='\(archive.url)/stpubdata/\(key(there))'"))
            #expect(!text.contains("stpubdata/\(key(exclusive))"))
            let refused = try await runHaul(["script", "cat.csv", "--source", "cloud", "-o", "x.sh"] + flags, in: folder.path)
            #expect(refused.status == 2 && refused.stderr.contains("use --source auto"))
            for parallel in ["1", "0"] {
                let data = "data-\(parallel)"
                let run = try await runHaul([folder.path + "/fetch.sh", data], in: folder.path,
                                            environment: ["HAUL_CURL_PARALLEL": parallel], executable: "/bin/bash")
                #expect(run.status == 0, "\(run.stderr)")
                #expect(holds(folder.path + "/\(data)/\(there.dataset)/\(there.filename)", archive.content(of: "/stpubdata/" + key(there))))
                for p in [lacking, unknown] { #expect(holds(folder.path + "/\(data)/\(p.dataset)/\(p.filename)", archive.content(of: p.uri))) }
                #expect(!fileExists(folder.path + "/\(data)/\(exclusive.dataset)/\(exclusive.filename)"))
            }
            // Each run: the bucket's file once, the lacking file at the bucket (404) then at the archive.
            #expect(archive.requests(for: "/stpubdata/" + key(there)) == 2)
            #expect(archive.requests(for: there.uri) == 0)
            #expect(archive.requests(for: lacking.uri) == 2 && archive.requests(for: unknown.uri) == 2)
        }
    }

    @Test("Bad cloud options exit 2 with what was expected, before any request", arguments: [
        (["download", "c.txt", "--dir", "out", "--source", "sky"], "--source"),
        (["download", "c.txt", "--dir", "out", "--endpoint-url", "ftp://mirror.example"], "--endpoint-url: expected an http:// or https:// URL"),
        (["download", "c.txt", "--dir", "out", "--resolve", "s3.example:443"], "--resolve s3.example:443: expected HOST:PORT:ADDRESS"),
        (["download", "c.txt", "--dir", "out", "--resolve", "s3.example:http:127.0.0.1"], "expected HOST:PORT:ADDRESS"),
        (["plan", "c.txt", "--shards", "2", "--out", "p", "--source", "auto"], "--source and --endpoint-url are not carried into a plan's shards"),
        (["script", "c.txt", "--source", "cloud"], "use --source auto"),
    ])
    func badOptions(arguments: [String], message: String) async throws {
        let folder = TemporaryFolder()
        try "mast:HST/product/a_flt.fits\n".write(toFile: folder.path + "/c.txt", atomically: true, encoding: .utf8)
        let run = try await runHaul(arguments + ["--archive", "http://127.0.0.1:9"], in: folder.path)
        #expect(run.status == 2, "\(arguments): \(run.stderr)")
        #expect(run.stderr.contains(message), "\(run.stderr)")
        #expect(!fileExists(folder.path + "/out") && !fileExists(folder.path + "/p"))
    }

    // MARK: Without a network

    @Test("The lookup's answer: found keys lose their leading slash, 404s and absent URIs are missing, a bad answer is an error")
    func parseLookup() throws {
        let body = Array(#"{"mast:HST/product/a.fits": {"status_code": 200, "path": "/hst/public/a/a.fits"}, "mast:HST/product/b.fits": {"status_code": 404, "path": null}}"#.utf8)
        let answers = try PathLookup.parse(body, uris: ["mast:HST/product/a.fits", "mast:HST/product/b.fits", "mast:HST/product/c.fits"])
        #expect(answers["mast:HST/product/a.fits"] == .found("hst/public/a/a.fits"))
        #expect(answers["mast:HST/product/b.fits"] == .missing("path lookup: 404"))
        #expect(answers["mast:HST/product/c.fits"] == .missing("not in the path lookup's answer"))
        #expect(throws: HaulError.self) { try PathLookup.parse(Array("<html>busy</html>".utf8), uris: ["x"]) }
        #expect(PathLookup.url("https://mast.stsci.edu/api/v0.1/path_lookup/", uris: ["mast:HST/product/a b.fits", "mast:X/y"])
            == "https://mast.stsci.edu/api/v0.1/path_lookup/?uri=mast:HST/product/a%20b.fits&uri=mast:X/y")
    }

    @Test("Bucket URLs: virtual-hosted HTTPS on AWS, path style under --endpoint-url, s3:// mapped, keys escaped")
    func bucketURLs() throws {
        let aws = CloudBucket()
        #expect(aws.url(key: "hst/public/u9o4/u9o40504m/u9o40504m_c0f.fits") == "https://stpubdata.s3.us-east-1.amazonaws.com/hst/public/u9o4/u9o40504m/u9o40504m_c0f.fits")
        #expect(aws.url(key: "a b/c+d.fits") == "https://stpubdata.s3.us-east-1.amazonaws.com/a%20b/c%2Bd.fits")
        #expect(aws.url(bucket: "other-bucket", key: "k") == "https://other-bucket.s3.amazonaws.com/k")
        #expect(aws.url(bucket: "dotted.bucket", key: "k") == "https://s3.us-east-1.amazonaws.com/dotted.bucket/k")
        let mirror = CloudBucket(endpoint: try CloudBucket.endpoint("http://127.0.0.1:9000/"))
        #expect(mirror.url(key: "jwst/public/x.fits") == "http://127.0.0.1:9000/stpubdata/jwst/public/x.fits")
        #expect(throws: HaulError.self) { try CloudBucket.endpoint("s3://stpubdata") }
        var resolver = try URLResolver(archive: "http://127.0.0.1:1")
        #expect(resolver.url(for: "s3://stpubdata/tess/public/a.fits") == "https://stpubdata.s3.us-east-1.amazonaws.com/tess/public/a.fits")
        resolver.bucket = mirror
        #expect(resolver.url(for: "s3://stpubdata/tess/public/a.fits") == "http://127.0.0.1:9000/stpubdata/tess/public/a.fits")
        #expect(CloudBucket.parse(s3: "s3://stpubdata/") == nil && CloudBucket.parse(s3: "s3:///k") == nil)
        #expect(SourcePolicy.defaultPolicy(archive: URLResolver.defaultArchive) == .auto)
        #expect(SourcePolicy.defaultPolicy(archive: "http://127.0.0.1:8080") == .archive)
    }

    @Test("--refresh asks the archive about a file the bucket gave by its time alone: S3's ETag is no archive's")
    func refreshConditionsOfCloudFiles() {
        var done = CompleteFile(size: 10, note: "", crc32: nil, lastModified: 1_700_000_000, etag: "\"0123abcd\"", fileTime: nil)
        #expect(done.conditions == ["If-None-Match: \"0123abcd\"", "If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT"])
        done.source = .cloud
        #expect(done.conditions == ["If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT"])
    }

    @Test("S3's XML error body gives its code and message; other bodies give none")
    func s3ErrorBodies() {
        let body = Array(#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate &amp; retry.</Message></Error>"#.utf8)
        #expect(S3Error(body: body)?.description == "SlowDown: Please reduce your request rate & retry.")
        #expect(S3Error(body: Array("fault injected: HTTP 503\n".utf8)) == nil)
        #expect(S3Error(body: []) == nil)
    }
}
