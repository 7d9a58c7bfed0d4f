import Foundation
import Haul
import HaulArchive
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What the overlay lets a person do before and around the download, from the shell: select, preview,
/// export, the curl script, and exclusive access with a token (`haul select`, `haul script`, `--token-file`).
@Suite("Overlay commands")
struct OverlayTests {
    static let token = "s3cr3t-Tok3n-0123456789abcdef"
    static let user = "Ada Lovelace"
    let caom = fixture("jwst-program.caom.json")

    /// The rows of a manifest.csv written by Haul (no field in these fixtures holds a comma).
    func manifestRows(_ path: String) async throws -> [[String]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\r\n").dropFirst()
            .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }

    /// Every file under `root` but the manifests, with its bytes.
    func tree(_ root: String) -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for item in listing(root) where !item.hasSuffix("/") && !item.hasPrefix("manifest.") {
            files[item] = readBytes(root + "/" + item)
        }
        return files
    }

    // MARK: select

    @Test("select prints the summary, a page grouped by dataset with its range, and exact JSON")
    func select() async throws {
        let folder = TemporaryFolder()
        let run = try await runHaul(["select", caom, "--page", "2", "--page-size", "8"], in: folder.path)
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "19 of 28 files (399 kB of 514 kB) selected")
        #expect(lines[1] == "4 exclusive-access files excluded: they need a MAST API token ($MAST_API_TOKEN or --token-file)")
        #expect(lines[2] == "4 duplicate rows: the same URI as an earlier row, fetched once")
        #expect(lines.contains("9–16 of 27 (page 2 of 4; --page N for another)"))
        // Rows 9…16: the end of the first exposure's dataset (rows 5…10), then the second's.
        #expect(lines.contains("jw02734001001_02101_00001-seg001_nis  (6 files, 100 kB) continued"))
        #expect(lines.contains("jw02734001001_02101_00002-seg001_nis  (8 files, 112 kB)"))
        #expect(lines.contains { $0.hasPrefix("  jw02734_20230712t145013_pool.csv") && $0.contains("duplicate of jw02734-o001_t001_niriss_clear-gr700xd-substrip256/jw02734_20230712t145013_pool.csv") })
        #expect(lines.filter { $0.hasPrefix("  jw") }.count == 8)
        let third = try await runHaul(["select", caom, "--page", "3", "--page-size", "8"], in: folder.path)
        #expect(third.stdout.contains("17–24 of 27 (page 3 of 4; --page N for another)"))
        #expect(third.stdout.split(separator: "\n").contains { $0.hasPrefix("  jw04567001001_02101_00001_nrs1_uncal.fits") && $0.hasSuffix("EXCLUSIVE_ACCESS  excluded: exclusive access needs a token") })

        let json = try await runHaul(["select", caom, "--guidestar", "--level", "3", "--json", "--page-size", "2"], in: folder.path)
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        // Level 3: x1dints, whtlt, the association and the pool, the HST drizzle and the HASP spectrum;
        // guide stars: two fine-guiding exposures at 2b, one acquisition at 1b.
        #expect(object["selected_files"] as? Int == 9)
        #expect(object["selected_bytes"] as? Int == 41230 + 2210 + 3120 + 8800 + 50000 + 9000 + 4001 + 4002 + 3001)
        #expect(object["total_files"] as? Int == 28)
        #expect(object["total_bytes"] as? Int == 513_724)
        #expect(object["excluded_exclusive"] as? Int == 0)
        #expect(object["duplicates"] as? Int == 0)
        #expect(object["rows_total"] as? Int == 9 && object["pages"] as? Int == 5 && object["first"] as? Int == 1 && object["last"] as? Int == 2)
        let rows = try #require(object["rows"] as? [[String: Any]])
        #expect(rows.map { $0["filename"] as? String } == ["jw02734-o001_t001_niriss_clear-gr700xd-substrip256_x1dints.fits", "jw02734-o001_t001_niriss_clear-gr700xd-substrip256_whtlt.ecsv"])
        #expect(rows[0]["product_level"] as? String == "3" && rows[0]["suffix"] as? String == "_x1dints" && rows[0]["size"] as? Int == 41230)
        #expect(rows[0]["access"] as? String == "PUBLIC" && rows[0]["status"] as? String == "download")
    }

    @Test("select: a page past the end, a bad pattern and a command-line token are input errors", arguments: [
        (["--page", "4", "--page-size", "10"], "--page 4: the selection has 27 rows, 3 pages of 10"),
        (["--regex", "/_cal(/"], "--regex: a ( is never closed with ), at character 6:"),
        (["--token", OverlayTests.token], "--token: a token on the command line shows in the process list"),
        (["--page-size", "0"], "--page-size must be between 1 and 1000000"),
        (["--level", ""], "--level needs a value"),
    ])
    func selectErrors(arguments: [String], message: String) async throws {
        let folder = TemporaryFolder()
        let run = try await runHaul(["select", caom] + arguments, in: folder.path)
        #expect(run.status == 2)
        #expect(run.stderr.contains(message), "\(run.stderr)")
        #expect(!run.stderr.contains(Self.token))
    }

    @Test("--export-csv writes the overlay's columns; read back, the export selects the same files")
    func exportRoundTrip() async throws {
        let folder = TemporaryFolder()
        let selectors = ["--quick", "recommended", "--guidestar", "--pipeline-inputs"]
        let export = try await runHaul(["select", caom] + selectors + ["--export-csv", "-"], in: folder.path)
        #expect(export.status == 0, "\(export.stderr)")
        let lines = export.stdout.split(separator: "\r\n").map(String.init)
        #expect(lines[0] == "Dataset,Filename,Product Level,Suffix,Instrument,Filter / Grating,URI,Size,Access")
        #expect(lines[1] == "jw02734-o001_t001_niriss_clear-gr700xd-substrip256,jw02734-o001_t001_niriss_clear-gr700xd-substrip256_x1dints.fits,3,_x1dints,NIRISS/SOSS,CLEAR;GR700XD,mast:JWST/product/jw02734-o001_t001_niriss_clear-gr700xd-substrip256_x1dints.fits,41230,PUBLIC")
        #expect(export.stderr.contains("haul: 14 of 28 files"))
        try export.stdout.write(toFile: folder.path + "/selection.csv", atomically: true, encoding: .utf8)
        let original = try await runHaul(["select", caom] + selectors + ["--json", "--page-size", "1000"], in: folder.path)
        let back = try await runHaul(["select", "selection.csv", "--json", "--page-size", "1000"], in: folder.path)
        #expect(back.status == 0, "\(back.stderr)")
        let a = try #require(try JSONSerialization.jsonObject(with: Data(original.stdout.utf8)) as? [String: Any])
        let b = try #require(try JSONSerialization.jsonObject(with: Data(back.stdout.utf8)) as? [String: Any])
        for key in ["selected_files", "selected_bytes", "excluded_exclusive", "duplicates", "rows_total"] {
            #expect(a[key] as? Int == b[key] as? Int, "\(key)")
        }
        let rowsA = (a["rows"] as? [[String: Any]] ?? []).map { "\($0["uri"]!) \($0["path"]!) \($0["status"]!) \($0["size"]!) \($0["access"]!)" }
        let rowsB = (b["rows"] as? [[String: Any]] ?? []).map { "\($0["uri"]!) \($0["path"]!) \($0["status"]!) \($0["size"]!) \($0["access"]!)" }
        #expect(rowsA == rowsB)
        #expect(rowsA.count == 20)
        // To a file: the same bytes, and the summary and page still shown.
        let toFile = try await runHaul(["select", caom] + selectors + ["--export-csv", "out.csv"], in: folder.path)
        #expect(toFile.status == 0)
        #expect(try String(contentsOfFile: folder.path + "/out.csv", encoding: .utf8) == export.stdout)
        #expect(toFile.stdout.hasPrefix("14 of 28 files"))
        #expect(toFile.stderr.contains("exported 20 rows to out.csv"))
    }

    // MARK: script

    @Test("The curl script, executed, writes exactly the files download --dir writes", arguments: ["nested", "flat"])
    func script(layout: String) async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try serveCatalog(caom, in: archive)
            archive.addToken(Self.token, user: Self.user)
            let selectors = ["--quick", "all", "--guidestar", "--layout", layout, "--archive", archive.url]
            let made = try await runHaul(["script", caom] + selectors + ["-o", "fetch.sh"], in: folder.path)
            #expect(made.status == 0, "\(made.stderr)")
            #expect(made.stderr.contains("wrote fetch.sh: 26 files to fetch with curl"))
            #expect(made.stderr.contains("4 exclusive-access files: fetched with a token ($MAST_API_TOKEN, or asked for), else skipped"))
            let text = try String(contentsOfFile: folder.path + "/fetch.sh", encoding: .utf8)
            // One row per unique URI: path, URL, size, access (22 public, 4 exclusive at the archive).
            let lines = text.split(separator: "\n")
            let rows = lines.drop { $0 != "files=(" }.dropFirst().prefix { $0 != ")" }.filter { !$0.isEmpty }
            #expect(rows.count == 26)
            let urls = rows.map { $0.split(separator: " ")[1] }
            #expect(Set(urls).count == 26 && urls.allSatisfy { $0.hasPrefix("'\(archive.url)/api/v0.1/Download/file?uri=mast:") })
            #expect(rows.filter { $0.hasSuffix(" x") }.count == 4 && rows.filter { $0.hasSuffix(" p") }.count == 22)
            #expect(text.contains("options=(--fail --location --create-dirs --retry 5 --silent --show-error)"))
            #expect(text.contains("\"$@\" -H @<(token)"))
            #expect(!text.contains(Self.token))
            #expect(access(folder.path + "/fetch.sh", X_OK) == 0)

            // Without a token and without a terminal: the public files, and a warning for the others.
            var before = archive.statistics
            let anonymous = try await runHaul(["fetch.sh", "anonymous"], in: folder.path, executable: "/bin/bash")
            #expect(anonymous.status == 0, "\(anonymous.stderr)")
            #expect(anonymous.stderr.contains("warning: 4 exclusive-access files skipped: they need a MAST API token (set MAST_API_TOKEN)"))
            #expect(anonymous.stderr.contains("22 fetched, 0 already complete, 4 skipped (exclusive access, no token), 0 failed, of 26 files in anonymous"))
            #expect(archive.statistics.requests - before.requests == 22)
            #expect(archive.statistics.authorizationHeaders == before.authorizationHeaders)
            #expect(tree(folder.path + "/anonymous").count == 22)

            before = archive.statistics
            let ran = try await runHaul(["fetch.sh", "by-script"], in: folder.path, environment: ["MAST_API_TOKEN": Self.token], executable: "/bin/bash")
            #expect(ran.status == 0, "\(ran.stderr)")
            #expect(archive.statistics.requests - before.requests == 26)
            // The token went with the exclusive files only.
            #expect(archive.statistics.authorizationHeaders - before.authorizationHeaders == 4)
            #expect(archive.statistics.authorizedRequests - before.authorizedRequests == 4)
            let fetched = try await runHaul(["download", caom] + selectors + ["--dir", "by-haul", "--progress", "none"], in: folder.path, environment: ["MAST_API_TOKEN": Self.token])
            #expect(fetched.status == 0, "\(fetched.stderr)")
            let script = tree(folder.path + "/by-script")
            let haul = tree(folder.path + "/by-haul")
            #expect(script.count == 26)
            #expect(script.keys.sorted() == haul.keys.sorted())
            #expect(script == haul)
            #expect(!listing(folder.path + "/by-script").contains { $0.hasPrefix("manifest") || $0.hasSuffix(".part") || $0.hasSuffix(".haul-part") })
            // Byte for byte what the archive serves.
            let pool = layout == "nested" ? "jw02734-o001_t001_niriss_clear-gr700xd-substrip256/jw02734_20230712t145013_pool.csv" : "jw02734_20230712t145013_pool.csv"
            #expect(Bytes(script[pool]) == Bytes(archive.content(of: "mast:JWST/product/jw02734_20230712t145013_pool.csv")))
        }
    }

    @Test("A script without exclusive-access files never asks for a token; a failed file is counted, never left partial")
    func publicScript() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try serveCatalog(caom, in: archive)
            archive.add(uri: "mast:JWST/product/jw02734001001_02101_00001-seg001_nis_rate.fits", size: 20001, faults: [.init(.closeAfter(5000))])
            let made = try await runHaul(["script", caom, "--quick", "recommended", "--level", "2a", "--regex", "/^(jw02734|ieqw|hst)/", "--archive", archive.url, "--retries", "1"], in: folder.path)
            #expect(made.status == 0)
            #expect(!made.stdout.contains("MAST_API_TOKEN") && !made.stdout.contains("read -r -s") && !made.stdout.contains("Authorization"))
            try made.stdout.write(toFile: folder.path + "/s.sh", atomically: true, encoding: .utf8)
            let ran = try await runHaul(["s.sh", "out"], in: folder.path, executable: "/bin/bash")
            #expect(ran.status == 1)
            #expect(ran.stderr.contains("10 fetched, 0 already complete, 0 skipped (exclusive access, no token), 1 failed, of 11 files in out"), "\(ran.stderr)")
            let files = tree(folder.path + "/out")
            #expect(files.count == 10)
            #expect(!listing(folder.path + "/out").contains { $0.hasSuffix(".haul-part") })
            #expect(files["jw02734001001_02101_00001-seg001_nis/jw02734001001_02101_00001-seg001_nis_rate.fits"] == nil)
        }
    }

    @Test("The curl script runs its transfers in parallel, bounded, with curl --parallel or background jobs; a re-run fetches only what is missing", arguments: ["curl --parallel", "jobs"])
    func scriptParallel(mode: String) async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            // Bodies held until released: the transfers in flight pile up to the script's bound.
            let uris = try writeURIList((0..<8).map { ("mast:JWST/product/par\($0).fits", Int64(5_000 + $0), [.init(.hold)]) }, to: archive, at: folder.path + "/list.txt")
            let made = try await runHaul(["script", "list.txt", "--archive", archive.url, "--parallel", "4", "-o", "s.sh"], in: folder.path)
            #expect(made.status == 0, "\(made.stderr)")
            let environment = mode == "jobs" ? ["HAUL_CURL_PARALLEL": "0"] : [:]
            let script = try HaulProcess(["s.sh", "out"], in: folder.path, environment: environment, executable: "/bin/bash")
            try await waitUntil("4 transfers at once", timeout: .seconds(60), seen: { "\(archive.statistics.peakConcurrentResponses) at once" }) {
                archive.statistics.peakConcurrentResponses >= 4
            }
            archive.release()
            #expect(await script.wait() == 0, "\(script.stderr)")
            #expect(archive.statistics.peakConcurrentResponses == 4)
            #expect(script.stderr.contains("8 fetched, 0 already complete, 0 skipped (exclusive access, no token), 0 failed, of 8 files in out"), "\(script.stderr)")
            for uri in uris { #expect(Bytes(readBytes(folder.path + "/out/JWST/product/" + uri.dropFirst(18))) == Bytes(archive.content(of: uri))) }
            #expect(listing(folder.path + "/out") == ["JWST/", "JWST/product/"] + (0..<8).map { "JWST/product/par\($0).fits" })

            // Again: every file is complete, nothing is asked.
            var before = archive.statistics.requests
            let again = try await runHaul(["s.sh", "out"], in: folder.path, environment: environment, executable: "/bin/bash")
            #expect(again.status == 0)
            #expect(again.stderr.contains("0 fetched, 8 already complete"), "\(again.stderr)")
            #expect(archive.statistics.requests == before)

            // One file lost, another interrupted (a partial file under the temporary name): those two only.
            unlink(folder.path + "/out/JWST/product/par3.fits")
            unlink(folder.path + "/out/JWST/product/par5.fits")
            try "partial".write(toFile: folder.path + "/out/JWST/product/.par5.fits.haul-part", atomically: true, encoding: .utf8)
            before = archive.statistics.requests
            let rest = try await runHaul(["s.sh", "out"], in: folder.path, environment: environment, executable: "/bin/bash")
            #expect(rest.status == 0)
            #expect(rest.stderr.contains("2 fetched, 6 already complete"), "\(rest.stderr)")
            #expect(archive.statistics.requests - before == 2)
            #expect(Bytes(readBytes(folder.path + "/out/JWST/product/par3.fits")) == Bytes(archive.content(of: uris[3])))
            #expect(Bytes(readBytes(folder.path + "/out/JWST/product/par5.fits")) == Bytes(archive.content(of: uris[5])))
            #expect(!listing(folder.path + "/out").contains { $0.hasSuffix(".haul-part") })
        }
    }

    @Test("The script's re-run fetches again a file whose size is not the catalog's")
    func scriptSizeCheck() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try serveCatalog(caom, in: archive)
            let made = try await runHaul(["script", caom, "--quick", "recommended", "--level", "2a", "--regex", "/^jw02734/", "--archive", archive.url, "-o", "s.sh"], in: folder.path)
            #expect(made.status == 0, "\(made.stderr)")
            let first = try await runHaul(["s.sh", "out"], in: folder.path, executable: "/bin/bash")
            #expect(first.status == 0, "\(first.stderr)")
            let files = tree(folder.path + "/out")
            let (name, bytes) = try #require(files.sorted { $0.key < $1.key }.first)
            try "truncated".write(toFile: folder.path + "/out/" + name, atomically: true, encoding: .utf8)
            let before = archive.statistics.requests
            let again = try await runHaul(["s.sh", "out"], in: folder.path, executable: "/bin/bash")
            #expect(again.status == 0)
            #expect(again.stderr.contains("1 fetched, \(files.count - 1) already complete"), "\(again.stderr)")
            #expect(archive.statistics.requests - before == 1)
            #expect(Bytes(readBytes(folder.path + "/out/" + name)) == Bytes(bytes))
        }
    }

    // MARK: Tokens

    @Test("With a token: exclusive files arrive, the manifest names the user in the authenticated wording, and the token is nowhere")
    func authenticated() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try serveCatalog(caom, in: archive)
            archive.addToken(Self.token, user: Self.user)
            let run = try await runHaul(
                ["download", caom, "--quick", "recommended", "--pipeline-inputs", "--dir", "out", "--archive", archive.url, "--progress", "json"],
                in: folder.path, environment: ["MAST_API_TOKEN": Self.token]
            )
            #expect(run.status == 0, "\(run.stderr)")
            let secret = "jw04567001001_02101_00001_nrs1"
            #expect(Bytes(readBytes(folder.path + "/out/\(secret)/\(secret)_cal.fits")) == Bytes(archive.content(of: "mast:JWST/product/\(secret)_cal.fits")))
            let rows = try await manifestRows(folder.path + "/out/manifest.csv")
            #expect(rows.allSatisfy { $0[4] == Self.user })
            let cal = rows.first { $0[1] == "\(secret)/\(secret)_cal.fits" }!
            #expect(cal[2] == "EXCLUSIVE_ACCESS")
            #expect(cal[3] == "\(secret)/\(secret)_cal.fits associated with \(secret) ... SUCCESS")
            let obs2 = "jw02734001001_02101_00002-seg001_nis"
            let level3 = "jw02734-o001_t001_niriss_clear-gr700xd-substrip256"
            let duplicate = rows.first { $0[1] == "\(level3)/jw02734_20230712t145013_pool.csv" && $0[3].contains("Duplicate") && $0[3].contains(obs2) }
            #expect(duplicate?[3] == "\(level3)/jw02734_20230712t145013_pool.csv associated with \(obs2) ... Duplicate of file jw02734_20230712t145013_pool.csv associated with \(level3)")

            // Secrecy: not in any output, progress event, manifest or file written.
            #expect(!run.stdout.contains(Self.token) && !run.stderr.contains(Self.token))
            for item in listing(folder.path) where !item.hasSuffix("/") {
                let bytes = readBytes(folder.path + "/" + item) ?? []
                #expect(!String(decoding: bytes, as: UTF8.self).contains(Self.token), "\(item)")
            }
            // Every request carried it: /whoami and each product (13 unique files).
            #expect(archive.statistics.authorizedRequests == 13)
            #expect(archive.statistics.authorizationHeaders == archive.statistics.requests)
        }
    }

    @Test("--token-file works; a token the archive refuses stops before any download, without echoing it")
    func tokenFile() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try serveCatalog(caom, in: archive)
            archive.addToken(Self.token, user: Self.user)
            try (Self.token + "\n").write(toFile: folder.path + "/token", atomically: true, encoding: .utf8)
            let good = try await runHaul(["download", caom, "--quick", "recommended", "--zip", "r.zip", "--compression", "store", "--token-file", "token", "--archive", archive.url, "--progress", "none"], in: folder.path)
            #expect(good.status == 0, "\(good.stderr)")
            #expect(good.stderr.contains("signed in to \(archive.url) as \(Self.user)"))
            _ = try await readWithPython(folder.path + "/r.zip", extractTo: folder.path + "/x")
            let manifest = try String(contentsOfFile: folder.path + "/x/r/manifest.csv", encoding: .utf8)
            #expect(manifest.contains("associated with jw04567001001_02101_00001_nrs1 ... SUCCESS,\(Self.user)"))
            for item in listing(folder.path) where !item.hasSuffix("/") {
                #expect(!String(decoding: readBytes(folder.path + "/" + item) ?? [], as: UTF8.self).contains(Self.token) || item == "token", "\(item)")
            }

            let wrong = "not-the-right-token-42"
            try wrong.write(toFile: folder.path + "/wrong", atomically: true, encoding: .utf8)
            let before = archive.statistics.requests
            let refused = try await runHaul(["download", caom, "--dir", "no", "--token-file", "wrong", "--archive", archive.url], in: folder.path)
            #expect(refused.status == 2)
            #expect(refused.stderr.contains("the archive did not accept the token: \(archive.url)/whoami says anonymous"))
            #expect(!refused.stderr.contains(wrong))
            #expect(archive.statistics.requests - before == 1)
            #expect(!fileExists(folder.path + "/no"))

            try "first-secret-line\nsecond-secret-line\n".write(toFile: folder.path + "/multi", atomically: true, encoding: .utf8)
            let malformed = try await runHaul(["download", caom, "--dir", "no", "--token-file", "multi", "--archive", archive.url], in: folder.path)
            #expect(malformed.status == 2)
            #expect(malformed.stderr.contains("--token-file multi: expected the token alone on one line, found 2 lines"))
            #expect(!malformed.stderr.contains("secret-line"))
        }
    }

    @Test("Without a token: anonymous, exclusive rows EXCLUDED, nothing sent with an Authorization header")
    func anonymous() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try serveCatalog(caom, in: archive)
            let run = try await runHaul(["download", caom, "--quick", "recommended", "--dir", "out", "--archive", archive.url, "--progress", "none"], in: folder.path)
            #expect(run.status == 0, "\(run.stderr)")
            let rows = try await manifestRows(folder.path + "/out/manifest.csv")
            #expect(rows.allSatisfy { $0[4] == "anonymous" })
            #expect(rows.map { $0[3] } == ["OK", "OK", "OK", "EXCLUDED: exclusive access needs a token", "OK", "OK", "OK"])
            #expect(archive.statistics.authorizationHeaders == 0)
            #expect(archive.statistics.requests == 6)
        }
    }

    @Test("The token goes to the archive only: a redirect to another server arrives without it")
    func redirectKeepsToken() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try await withTestArchive { other in
                archive.addToken(Self.token, user: Self.user)
                let uri = "mast:JWST/product/jw04567001001_02101_00001_nrs1_cal.fits"
                other.add(uri: "/files/moved_cal.fits", size: 4321)
                archive.add(uri: uri, size: 4321, faults: [.init(.redirectTo(other.url + "/files/moved_cal.fits"))])
                // A plain URL on the other server, listed in the catalog itself: no token there either.
                other.add(uri: "/elsewhere/plain_cal.fits", size: 99)
                try "\(uri)\n\(other.url)/elsewhere/plain_cal.fits\n".write(toFile: folder.path + "/list.txt", atomically: true, encoding: .utf8)
                let run = try await runHaul(["download", "list.txt", "--dir", "out", "--archive", archive.url, "--progress", "none"], in: folder.path, environment: ["MAST_API_TOKEN": Self.token])
                #expect(run.status == 0, "\(run.stderr)")
                #expect(Bytes(readBytes(folder.path + "/out/JWST/product/jw04567001001_02101_00001_nrs1_cal.fits")) == Bytes(other.content(of: "/files/moved_cal.fits")))
                #expect(other.statistics.requests == 2)
                #expect(other.statistics.authorizationHeaders == 0)
                // The archive had it for /whoami and the product request it redirected.
                #expect(archive.statistics.authorizationHeaders == 2)
            }
        }
    }

    @Test("On a terminal, haul asks for the token without echoing it")
    func prompt() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try serveCatalog(caom, in: archive)
            archive.addToken(Self.token, user: Self.user)
            // A pseudo-terminal as standard input: type the token when asked, record what the terminal shows.
            let driver = """
            import os, pty, sys, select, time
            pid, fd = pty.fork()
            if pid == 0:
                os.execv(sys.argv[1], sys.argv[1:])
            shown = b""
            deadline = time.time() + 60
            typed = False
            while time.time() < deadline:
                r, _, _ = select.select([fd], [], [], 0.1)
                if r:
                    try:
                        chunk = os.read(fd, 4096)
                    except OSError:
                        break
                    if not chunk:
                        break
                    shown += chunk
                if not typed and b"MAST API token" in shown:
                    time.sleep(0.2)
                    os.write(fd, sys.stdin.buffer.read() + b"\\n")
                    typed = True
            _, status = os.waitpid(pid, 0)
            sys.stdout.buffer.write(shown)
            sys.exit(os.WEXITSTATUS(status))
            """
            try driver.write(toFile: folder.path + "/drive.py", atomically: true, encoding: .utf8)
            try Self.token.write(toFile: folder.path + "/typed", atomically: true, encoding: .utf8)
            let run = try await runHaul(["-c", "python3 drive.py '\(haulExecutable)' download '\(caom)' --quick recommended --dir out --archive \(archive.url) --progress none < typed"], in: folder.path, executable: "/bin/sh")
            #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
            #expect(run.stdout.contains("1 exclusive-access file is selected. MAST API token (input hidden; Enter to go on without it):"))
            #expect(!run.stdout.contains(Self.token))
            #expect(run.stdout.contains("signed in to \(archive.url) as \(Self.user)"))
            let rows = try await manifestRows(folder.path + "/out/manifest.csv")
            #expect(rows.allSatisfy { $0[4] == Self.user })
            #expect(fileExists(folder.path + "/out/jw04567001001_02101_00001_nrs1/jw04567001001_02101_00001_nrs1_cal.fits"))
        }
    }
}
