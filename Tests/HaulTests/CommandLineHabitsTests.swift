import Foundation
import Haul
import HaulArchive
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A loopback port nothing listens on: bound, read and closed again.
func closedPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #expect(fd >= 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    try #require(bound)
    return Int(UInt16(bigEndian: address.sin_port))
}

/// The Status column of a folder download's manifest.csv, in row order.
func manifestStatuses(_ root: String) throws -> [String] {
    let csv = try String(contentsOfFile: root + "/manifest.csv", encoding: .utf8)
    return csv.split(separator: "\r\n").dropFirst().map { String($0.split(separator: ",", omittingEmptySubsequences: false)[3]) }
}

/// Exit codes a pipeline can trust, and curl's and aria2's habits (docs/guide.md: "Downloading", "Exit status").
@Suite("haul command: exit codes and habits")
struct CommandLineHabitsTests {
    let caom = fixture("jwst-program.caom.json")

    // MARK: Exit codes

    @Test("A selector value the catalog does not have is exit 2 naming the values it has; select and download alike", arguments: [
        (["--level", "foo"], "haul: error: --level foo: this catalog has 1, 1b, 2, 2a, 2b, 3, aux, calibrated, hasp, uncalibrated\n"),
        (["--level", "4"], "haul: error: --level 4: this catalog has 1, 1b, 2, 2a, 2b, 3, aux, calibrated, hasp, uncalibrated\n"),
        (["--suffix", "cal,nosuch"], "haul: error: --suffix nosuch: this catalog has ASN, CAL, CSPEC, DRZ, FLT, GS-ACQ1, GS-FG, POOL, RATE, RATEINTS, RAW, S2D, SPT, TRAPSFILLED, UNCAL, WHTLT, X1DINTS\n"),
        (["--where", "productType=SCIENCE,SCIENCEY"], "haul: error: --where productType=SCIENCEY: this catalog has AUXILIARY, INFO, PREVIEW, SCIENCE\n"),
        (["--where", "prodType=SCIENCE"], "haul: error: --where prodType=SCIENCE: no column 'prodType'; the columns are productType, calib_level, productSubGroupDescription, productGroupDescription, dataRights, obs_id, obs_collection, instrument_name, filters, productFilename, dataURI, category, size, description, project, proposal_id, dataproduct_type\n"),
        (["--extension", "fitz"], "haul: error: --extension fitz: this catalog has csv, ecsv, fits, jpg, json\n"),
    ])
    func unknownValue(selectors: [String], message: String) async throws {
        let folder = TemporaryFolder()
        let select = try await runHaul(["select", caom] + selectors, in: folder.path)
        #expect(select.status == 2)
        #expect(select.stderr == message)
        #expect(select.stdout.isEmpty)
        let download = try await runHaul(["download", caom, "--dir", "out", "--archive", "http://127.0.0.1:9"] + selectors, in: folder.path)
        #expect(download.status == 2)
        #expect(download.stderr == message)
        #expect(!fileExists(folder.path + "/out"))
    }

    @Test("--where on a column kept only for filters (proposal_id, description): the command line loads them")
    func detailColumns() async throws {
        let folder = TemporaryFolder()
        let data = try Data(contentsOf: URL(fileURLWithPath: caom))
        let rows = try #require((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["data"] as? [[String: Any]])
        for (column, value) in [("proposal_id", "17183"), ("description", "preview")] {
            let select = try await runHaul(["select", caom, "--where", "\(column)=\(value)", "--json"], in: folder.path)
            #expect(select.status == 0, "\(select.stderr)")
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(select.stdout.utf8)) as? [String: Any])
            let expected = Set(rows.filter { ($0[column] as? String)?.lowercased() == value.lowercased() && ($0["dataRights"] as? String) == "PUBLIC" }
                .compactMap { $0["dataURI"] as? String })
            #expect(summary["selected_files"] as? Int == expected.count, "--where \(column)=\(value): \(select.stdout.prefix(300))")
            #expect(expected.count > 0)
        }
    }

    @Test("An empty selection: select says so with status 0; download is exit 2 with the reason, nothing created")
    func emptySelection() async throws {
        let folder = TemporaryFolder()
        let select = try await runHaul(["select", caom, "--regex", "nothing-like-this"], in: folder.path)
        #expect(select.status == 0, "\(select.stderr)")
        #expect(select.stdout.hasSuffix("\nNothing is selected.\n"))

        let filtered = try await runHaul(["download", caom, "--regex", "nothing-like-this", "--dir", "out", "--archive", "http://127.0.0.1:9"], in: folder.path)
        #expect(filtered.status == 2)
        #expect(filtered.stderr == "haul: error: nothing is selected: --regex, --where and --extension leave none of the 27 products the other selectors pick (haul select shows them)\n")

        let none = try await runHaul(["download", caom, "--quick", "none", "--zip", "out.zip", "--archive", "http://127.0.0.1:9"], in: folder.path)
        #expect(none.status == 2)
        #expect(none.stderr == "haul: error: nothing is selected: the selectors pick none of the 32 products in the catalog (haul select shows what they pick)\n")

        // Only exclusive-access files, and no token.
        let secret = try await runHaul(["download", caom, "--where", "dataRights=EXCLUSIVE_ACCESS", "--dir", "out", "--archive", "http://127.0.0.1:9"], in: folder.path)
        #expect(secret.status == 2)
        #expect(secret.stderr == "haul: error: nothing is selected: 4 selected files are exclusive-access and need a MAST API token ($MAST_API_TOKEN or --token-file)\n")
        #expect(listing(folder.path).allSatisfy { $0.hasPrefix("stdout-") || $0.hasPrefix("stderr-") })
    }

    @Test("A token the archive refuses only warns when no exclusive-access file is selected; it blocks when one is")
    func unusableToken() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try serveCatalog(caom, in: archive)
            // No token is registered: /whoami answers anonymous for any.
            let publicOnly = try await runHaul(
                ["download", caom, "--where", "dataRights=PUBLIC", "--mrp-only", "--dir", "public", "--archive", archive.url, "--progress", "none"],
                in: folder.path, environment: ["MAST_API_TOKEN": "not-a-real-token"]
            )
            #expect(publicOnly.status == 0, "\(publicOnly.stderr)")
            #expect(publicOnly.stderr.contains("haul: warning: the archive did not accept the token: \(archive.url)/whoami says anonymous (check MAST_API_TOKEN or --token-file); going on without the token: only public files are selected\n"))
            #expect(try manifestStatuses(folder.path + "/public") == Array(repeating: "OK", count: 6))
            #expect(try String(contentsOfFile: folder.path + "/public/manifest.csv", encoding: .utf8).contains(",anonymous,"))

            let withSecret = try await runHaul(
                ["download", caom, "--where", "obs_id=jw04567001001_02101_00001_nrs1", "--dir", "secret", "--archive", archive.url, "--progress", "none"],
                in: folder.path, environment: ["MAST_API_TOKEN": "not-a-real-token"]
            )
            #expect(withSecret.status == 2)
            #expect(withSecret.stderr.hasSuffix("haul: error: the archive did not accept the token: \(archive.url)/whoami says anonymous (check MAST_API_TOKEN or --token-file)\n"))
            #expect(!withSecret.stderr.contains("not-a-real-token") && !publicOnly.stderr.contains("not-a-real-token"))
        }
    }

    @Test("A host that refuses every connection ends the run at once, named with the reason: exit 1, every file FAILED", .prompt)
    func unreachableHost() async throws {
        let folder = TemporaryFolder()
        let port = try closedPort()
        try (0..<40).map { "mast:HST/product/f\($0).fits\n" }.joined().write(toFile: folder.path + "/list.txt", atomically: true, encoding: .utf8)
        let started = ContinuousClock.now
        // One transfer at a time and the default retries (5, waits of 0.25–0.5 s doubling to 4–8 s, about
        // 11 s a file): without the early end, 40 files would take about 8 minutes.
        let run = try await runHaul(
            ["download", "list.txt", "--dir", "out", "--archive", "http://127.0.0.1:\(port)", "--parallel", "1", "--progress", "none"],
            in: folder.path, timeout: .seconds(240)
        )
        let elapsed = started.duration(to: .now)
        let reason = "cannot reach 127.0.0.1:\(port): connection refused"
        #expect(run.status == 1, "\(run.stderr)")
        // Seconds in fact (about 2 s with the process's start). The bound is half the 8 minutes the files
        // would take without the early end: it tells the two apart on a machine however loaded.
        #expect(elapsed < .seconds(240), "took \(elapsed)")
        #expect(run.stderr.contains("haul: 0 files OK, 40 FAILED"))
        #expect(run.stderr.contains("haul:   40 files FAILED: \(reason)\n"))
        #expect(try manifestStatuses(folder.path + "/out") == Array(repeating: "FAILED: \(reason)", count: 40))
    }

    // MARK: Options of curl and aria2

    @Test("-q prints nothing but errors; the files and the exit status are the same")
    func quiet() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try writeURIList((0..<3).map { ("mast:HST/product/q\($0).fits", 2_000, []) }, to: archive, at: folder.path + "/list.txt")
            let run = try await runHaul(["download", "list.txt", "--dir", "out", "--archive", archive.url, "-q"], in: folder.path)
            #expect(run.status == 0)
            #expect(run.stderr.isEmpty && run.stdout.isEmpty)
            #expect(Bytes(readBytes(folder.path + "/out/HST/product/q2.fits")) == Bytes(archive.content(of: "mast:HST/product/q2.fits")))
            let failing = try await runHaul(["download", "list.txt", "missing.txt", "--dir", "out", "--archive", archive.url, "--quiet"], in: folder.path)
            #expect(failing.status == 2)
            #expect(failing.stderr == "haul: error: missing.txt: cannot read: no such file\n")
        }
    }

    @Test("-v prints one line per finished transfer: URL, status, bytes, seconds, retries")
    func verbose() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            archive.add(uri: "mast:HST/product/a.fits", size: 1_000)
            archive.add(uri: "mast:HST/product/b.fits", size: 1, faults: [.failing(1, status: 503, retryAfter: 0)])
            try "mast:HST/product/a.fits\nmast:HST/product/b.fits\nmast:HST/product/gone.fits\n".write(toFile: folder.path + "/list.txt", atomically: true, encoding: .utf8)
            let run = try await runHaul(["download", "list.txt", "--dir", "out", "--archive", archive.url, "--progress", "none", "-v"], in: folder.path)
            #expect(run.status == 1)
            let lines = run.stderr.split(separator: "\n").map(String.init).filter { $0.hasPrefix("haul: \(archive.url)/") }
            #expect(lines.count == 3, "\(run.stderr)")
            func line(_ name: String) -> String? { lines.first { $0.contains("mast:HST/product/\(name)") } }
            let pattern = #/haul: (\S+): HTTP (\d+), ([\d,]+) (bytes?) in (\d+\.\d+) s, (\d+) (retry|retries)( — .*)?/#
            let a = try #require(line("a.fits").flatMap { try? pattern.wholeMatch(in: $0) })
            #expect(a.1 == "\(archive.url)/api/v0.1/Download/file?uri=mast:HST/product/a.fits")
            #expect(a.2 == "200" && a.3 == "1,000" && a.4 == "bytes" && a.6 == "0" && a.7 == "retries" && a.8 == nil)
            let b = try #require(line("b.fits").flatMap { try? pattern.wholeMatch(in: $0) })
            #expect(b.2 == "200" && b.3 == "1" && b.4 == "byte" && b.6 == "1" && b.7 == "retry")
            let gone = try #require(line("gone.fits").flatMap { try? pattern.wholeMatch(in: $0) })
            #expect(gone.2 == "404" && gone.3 == "0" && gone.8 == " — FAILED: HTTP 404")
        }
    }

    @Test("-vv adds libcurl's trace; the token never shows, in the trace or anywhere else")
    func trace() async throws {
        let folder = TemporaryFolder()
        let token = "s3cr3t-t0ken-\(UInt32.random(in: 0...UInt32.max))"
        try await withTestArchive { archive in
            archive.addToken(token, user: "Ada")
            archive.add(uri: "mast:JWST/product/x_cal.fits", size: 3_000, access: .exclusive)
            try "mast:JWST/product/x_cal.fits\n".write(toFile: folder.path + "/list.txt", atomically: true, encoding: .utf8)
            let run = try await runHaul(
                ["download", "list.txt", "--zip", "out.zip", "--archive", archive.url, "--progress", "json", "-vv"],
                in: folder.path, environment: ["MAST_API_TOKEN": token]
            )
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stderr.contains("> GET /whoami HTTP/1.1"))
            #expect(run.stderr.contains("> GET /api/v0.1/Download/file?uri=mast:JWST/product/x_cal.fits HTTP/1.1"))
            #expect(run.stderr.contains("< HTTP/1.1 200 OK"))
            #expect(run.stderr.components(separatedBy: "> Authorization: <redacted>").count - 1 == 2)
            #expect(!run.stderr.contains(token) && !run.stdout.contains(token))
            #expect(!(try Data(contentsOf: URL(fileURLWithPath: folder.path + "/out.zip"))).contains(Data(token.utf8)))
            #expect(archive.statistics.authorizedRequests == 1)
        }
    }

    @Test("-H goes to the archive's origin (across its redirects too) and to no other host unless --header-everywhere; --user-agent replaces haul's")
    func headers() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try await withTestArchive { other in
                archive.recordRequests()
                other.recordRequests()
                archive.add(uri: "mast:HST/product/here.fits", size: 500)
                archive.add(uri: "/moved.fits", size: 700)
                other.add(uri: "/elsewhere.fits", size: 600)
                other.add(uri: "/away.fits", size: 800)
                // The other archive is on another port: another origin.
                let catalog = [
                    "mast:HST/product/here.fits", "\(archive.url)/hop/2//moved.fits", "\(other.url)/elsewhere.fits",
                    "\(archive.url)/redirect?to=\(other.url)/away.fits",
                ].joined(separator: "\n") + "\n"
                try catalog.write(toFile: folder.path + "/list.txt", atomically: true, encoding: .utf8)
                let run = try await runHaul(
                    ["download", "list.txt", "--dir", "out", "--archive", archive.url, "--progress", "none",
                     "-H", "X-Haul-Test: one", "--header", "X-Other: two", "--user-agent", "astro-pipeline/2.1"],
                    in: folder.path
                )
                #expect(run.status == 0, "\(run.stderr)")
                let here = archive.recordedRequests
                #expect(here.map(\.target).sorted() == [
                    "/api/v0.1/Download/file?uri=mast:HST/product/here.fits", "/hop/1//moved.fits", "/hop/2//moved.fits", "/moved.fits",
                    "/redirect?to=\(other.url)/away.fits",
                ])
                for request in here {
                    #expect(request.values("x-haul-test") == ["one"], "\(request.target)")
                    #expect(request.values("x-other") == ["two"])
                    #expect(request.values("user-agent") == ["astro-pipeline/2.1"])
                }
                // The other server, asked directly and at the end of the archive's redirect: no -H header.
                let there = other.recordedRequests
                #expect(there.map(\.target).sorted() == ["/away.fits", "/elsewhere.fits"])
                for request in there {
                    #expect(request.values("x-haul-test") == [] && request.values("x-other") == [], "\(request.target)")
                    #expect(request.values("user-agent") == ["astro-pipeline/2.1"])
                }
                // A URL keeps its path under its host in the nested layout (empty components dropped).
                #expect(Bytes(readBytes(folder.path + "/out/127.0.0.1/hop/2/moved.fits")) == Bytes(archive.content(of: "/moved.fits")))
                #expect(Bytes(readBytes(folder.path + "/out/127.0.0.1/redirect")) == Bytes(other.content(of: "/away.fits")))

                let everywhere = try await runHaul(
                    ["download", "list.txt", "--dir", "again", "--archive", archive.url, "--progress", "none", "-H", "X-Haul-Test: one", "--header-everywhere"],
                    in: folder.path
                )
                #expect(everywhere.status == 0, "\(everywhere.stderr)")
                let again = other.recordedRequests.dropFirst(2)
                #expect(again.count == 2)
                for request in again {
                    #expect(request.values("x-haul-test") == ["one"], "\(request.target)")
                    #expect(request.values("user-agent") == ["haul/\(haulVersion)"])
                }

                // --refresh asks the archive again with conditional requests: they carry -H too.
                let asked = archive.recordedRequests.count
                let refresh = try await runHaul(
                    ["download", "list.txt", "--dir", "out", "--archive", archive.url, "--progress", "none", "--refresh", "-H", "X-Haul-Test: one"],
                    in: folder.path
                )
                #expect(refresh.status == 0, "\(refresh.stderr)")
                let refreshed = archive.recordedRequests.dropFirst(asked)
                #expect(refreshed.contains { $0.target == "/moved.fits" })
                for request in refreshed {
                    #expect(request.values("x-haul-test") == ["one"], "\(request.target)")
                }
            }
        }
    }

    @Test("--proxy, and the http_proxy variable, send every request through the proxy; --noproxy bypasses it")
    func proxy() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            // The loopback archive answers absolute-form requests as a proxy would pass them on.
            try writeURIList((0..<3).map { ("mast:HST/product/p\($0).fits", 1_500, []) }, to: archive, at: folder.path + "/list.txt")
            let viaOption = try await runHaul(
                ["download", "list.txt", "--dir", "one", "--archive", "http://archive.haul.invalid", "--proxy", archive.url, "--progress", "none"],
                in: folder.path
            )
            #expect(viaOption.status == 0, "\(viaOption.stderr)")
            #expect(archive.statistics.proxiedRequests == 3)
            #expect(Bytes(readBytes(folder.path + "/one/HST/product/p1.fits")) == Bytes(archive.content(of: "mast:HST/product/p1.fits")))

            let viaEnvironment = try await runHaul(
                ["download", "list.txt", "--dir", "two", "--archive", "http://archive.haul.invalid", "--progress", "none"],
                in: folder.path, environment: ["http_proxy": archive.url]
            )
            #expect(viaEnvironment.status == 0, "\(viaEnvironment.stderr)")
            #expect(archive.statistics.proxiedRequests == 6)

            // --noproxy names the archive: it is asked directly, and `.invalid` does not resolve.
            let bypassed = try await runHaul(
                ["download", "list.txt", "--dir", "three", "--archive", "http://archive.haul.invalid", "--noproxy", "haul.invalid", "--progress", "none"],
                in: folder.path, environment: ["http_proxy": archive.url]
            )
            #expect(bypassed.status == 1)
            #expect(bypassed.stderr.contains("FAILED: cannot reach archive.haul.invalid:80: the host name does not resolve"))
            #expect(archive.statistics.proxiedRequests == 6)

            // A proxy that refuses: the message names the proxy, not the archive behind it.
            let port = try closedPort()
            let refused = try await runHaul(
                ["download", "list.txt", "--dir", "four", "--archive", "http://archive.haul.invalid", "--proxy", "http://127.0.0.1:\(port)", "--progress", "none"],
                in: folder.path
            )
            #expect(refused.status == 1)
            #expect(try manifestStatuses(folder.path + "/four") == Array(repeating: "FAILED: cannot reach the proxy 127.0.0.1:\(port): connection refused", count: 3), "\(refused.stderr)")
        }
    }

    @Test("--limit-rate bounds the whole run's rate, over all its transfers", .prompt)
    func limitRate() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try writeURIList((0..<4).map { ("mast:HST/product/r\($0).fits", 512 << 10, []) }, to: archive, at: folder.path + "/list.txt")
            let started = ContinuousClock.now
            // 2 MiB at 1 MiB/s over four transfers at once: about 2 s; without the limit, milliseconds.
            let run = try await runHaul(
                ["download", "list.txt", "--dir", "out", "--archive", archive.url, "--progress", "none", "--limit-rate", "1M"],
                in: folder.path
            )
            let elapsed = started.duration(to: .now)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(elapsed >= .milliseconds(1_600), "2 MiB at 1 MiB/s took only \(elapsed)")
            // The lower bound is the limit's; this one only says the run ended, on a machine however busy.
            #expect(elapsed < .seconds(180))
            #expect(Bytes(readBytes(folder.path + "/out/HST/product/r3.fits")) == Bytes(archive.content(of: "mast:HST/product/r3.fits")))
        }
    }

    @Test("--limit-rate takes curl's forms and refuses others", arguments: [("500K", "ok"), ("1.5M", "ok"), ("2000", "ok"), ("0", "bad"), ("fast", "bad"), ("-1M", "bad")])
    func limitRateValues(value: String, expected: String) async throws {
        let folder = TemporaryFolder()
        try "mast:HST/product/a.fits\n".write(toFile: folder.path + "/c.txt", atomically: true, encoding: .utf8)
        let run = try await runHaul(["script", "c.txt", "--archive", "http://127.0.0.1:9", "-q"], in: folder.path)
        #expect(run.status == 0)
        let download = try await runHaul(["download", "c.txt", "--dir", "out", "--archive", "http://127.0.0.1:1", "--retries", "0", "--progress", "none", "--limit-rate=\(value)"], in: folder.path)
        if expected == "ok" {
            #expect(download.status == 1, "\(download.stderr)")
        } else {
            #expect(download.status == 2)
            #expect(download.stderr.hasPrefix("haul: error: --limit-rate \(value): expected a positive number of bytes a second, with an optional K, M or G (500K, 10M)\n"))
        }
    }

    // MARK: Usage

    @Test("An unknown option is named, with the nearest one the command has", arguments: [
        (["download", "c.txt", "--dri", "x"], "haul: error: download: unknown option '--dri'; did you mean '--dir'? (haul download --help lists them)\n"),
        (["select", "c.txt", "--quiett"], "haul: error: select: unknown option '--quiett'; did you mean '--quiet'? (haul select --help lists them)\n"),
        (["download", "c.txt", "--dir", "out", "--paralel=4"], "haul: error: download: unknown option '--paralel'; did you mean '--parallel'? (haul download --help lists them)\n"),
        (["select", "c.txt", "--frobnicate"], "haul: error: select: unknown option '--frobnicate' (haul select --help lists them)\n"),
        (["select", "c.txt", "-qx"], "haul: error: select: unknown option '-x' in '-qx' (haul select --help lists the options)\n"),
    ])
    func unknownOption(arguments: [String], message: String) async throws {
        let folder = TemporaryFolder()
        try "mast:HST/product/a.fits\n".write(toFile: folder.path + "/c.txt", atomically: true, encoding: .utf8)
        let run = try await runHaul(arguments, in: folder.path)
        #expect(run.status == 2)
        #expect(run.stderr == message)
        #expect(!fileExists(folder.path + "/out"))
    }

    @Test("Option values that look like options are values; known options pass the check", arguments: [
        ["select", "c.txt", "--regex", "-a", "-q"],
        ["select", "c.txt", "-q", "--where=productFilename=a.fits", "--", "-"],
    ])
    func knownOptions(arguments: [String]) async throws {
        let folder = TemporaryFolder()
        try "mast:HST/product/a.fits\n".write(toFile: folder.path + "/c.txt", atomically: true, encoding: .utf8)
        let run = try await runHaul(arguments, in: folder.path)
        #expect(!run.stderr.contains("unknown option"), "\(run.stderr)")
    }

    @Test("Bare haul prints a short usage on standard error and exits 2")
    func bare() async throws {
        let folder = TemporaryFolder()
        let run = try await runHaul([], in: folder.path)
        #expect(run.status == 2)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.hasPrefix("usage: haul select CATALOG… [selectors]"))
        #expect(run.stderr.split(separator: "\n").count <= 6)
    }

    @Test("Every error has one prefix, haul: error:", arguments: [
        ["download", "c.txt"],
        ["download", "c.txt", "--dir", "out", "--parallel", "0"],
        ["download", "c.txt", "--dir", "out", "--layout", "sideways"],
        ["select", "c.txt", "--page", "x"],
        ["select", "."],
        ["frobnicate"],
    ])
    func onePrefix(arguments: [String]) async throws {
        let folder = TemporaryFolder()
        try "mast:HST/product/a.fits\n".write(toFile: folder.path + "/c.txt", atomically: true, encoding: .utf8)
        let run = try await runHaul(arguments, in: folder.path)
        #expect(run.status == 2)
        #expect(run.stderr.hasPrefix("haul: error: "), "\(run.stderr)")
        #expect(!run.stderr.contains("Error:"))
    }

    @Test("A folder given as the catalog is named as such")
    func folderCatalog() async throws {
        let folder = TemporaryFolder()
        try FileManager.default.createDirectory(atPath: folder.path + "/products", withIntermediateDirectories: false)
        let run = try await runHaul(["download", "products", "--dir", "out", "--archive", "http://127.0.0.1:9"], in: folder.path)
        #expect(run.status == 2)
        #expect(run.stderr == "haul: error: products: is a folder, not a product list: name a file (a MAST JSON product list, a CSV export or a list of URIs)\n")
    }

    @Test("Counts agree with their nouns: 1 file, 2 files")
    func plurals() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try serveCatalog(caom, in: archive)
            // One public file and one exclusive-access file selected, no token.
            let one = try await runHaul(
                ["download", caom, "--where", "productFilename=jw02734001001_02101_00001-seg001_nis_cal.fits,jw04567001001_02101_00001_nrs1_cal.fits",
                 "--dir", "out", "--archive", archive.url, "--progress", "none"],
                in: folder.path
            )
            #expect(one.status == 0, "\(one.stderr)")
            #expect(one.stderr.contains("haul: 1 unique file selected (26.0 kB) of 28 in the catalog; 1 exclusive-access file excluded: it needs a token"))
            #expect(one.stderr.contains("haul: 1 file OK, 1 excluded"))
            let select = try await runHaul(["select", caom, "--where", "productFilename=jw04567001001_02101_00001_nrs1_cal.fits"], in: folder.path)
            #expect(select.stdout.contains("1 exclusive-access file excluded: it needs a MAST API token"))
            let script = try await runHaul(["script", caom, "--where", "productFilename=jw04567001001_02101_00001_nrs1_cal.fits", "-o", "get.sh", "--archive", archive.url], in: folder.path)
            #expect(script.stderr == "haul: wrote get.sh: 1 file to fetch with curl (27.0 kB); 1 exclusive-access file: fetched with a token ($MAST_API_TOKEN, or asked for), else skipped\n")
        }
    }
}
