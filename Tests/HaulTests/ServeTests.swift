import Foundation
import Haul
import HaulArchive
import HaulServe
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `haul serve`'s HTTP interface against the loopback archive, driven by curl: every endpoint and
/// selector, the same answers as the command line, the streamed bundle read back by independent
/// readers, a cancelled download leaving no transfer, and the key, Host and token rules.
@Suite("Overlay server")
struct ServeTests {
    static let token = "s3rv3-Tok3n-0123456789abcdef"
    static let user = "Grace Hopper"
    static let caom = fixture("jwst-program.caom.json")

    /// An answer as curl saw it.
    struct Answer {
        var status: Int
        var body: [UInt8]
        var headers: String
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Runs curl against the server; `arguments` come before the URL.
    static func curl(_ url: String, _ arguments: [String] = [], in folder: String) async throws -> Answer {
        let name = UUID().uuidString
        let run = try await runHaul(
            ["-sS", "-o", "body-\(name)", "-D", "headers-\(name)", "-w", "%{http_code}"] + arguments + [url],
            in: folder, executable: "/usr/bin/curl"
        )
        let body = readBytes(folder + "/body-\(name)") ?? []
        let headers = (try? String(contentsOfFile: folder + "/headers-\(name)", encoding: .utf8)) ?? ""
        unlink(folder + "/body-\(name)")
        unlink(folder + "/headers-\(name)")
        return Answer(status: Int(run.stdout) ?? -run.status.hashValue, body: body, headers: headers)
    }

    /// A `haul serve` process: its address, key and log.
    struct Served {
        let process: HaulProcess
        let url: String
        var baseURL: String { String(url.prefix { $0 != "?" }.dropLast()) }
        var key: String { String(url.split(separator: "=").last ?? "") }
        var port: Int { Int(baseURL.split(separator: ":").last ?? "") ?? 0 }
        /// The server's log lines so far, without the `haul: ` prefix.
        var log: [String] { process.stderr.split(separator: "\n").map { String($0.hasPrefix("haul: ") ? $0.dropFirst(6) : $0) } }
        /// The downloads the log says have ended.
        var downloadsEnded: Int { log.filter { $0.contains(" /download.zip 200: ") }.count }
    }

    /// Starts `haul serve ARGUMENTS` in `folder` and waits for its address; stops it (SIGTERM, which
    /// must end it with status 0) when `body` returns.
    ///
    /// A process of its own, as the server runs: its event loop and tasks never wait for threads this
    /// test process (running every suite at once) keeps busy.
    ///
    /// - Parameter descriptors: A limit on the process's open descriptors (soft and hard), set with prlimit(1).
    static func withServeProcess(_ arguments: [String], in folder: String, descriptors: Int? = nil, _ body: (Served) async throws -> Void) async throws {
        let process: HaulProcess
        if let descriptors {
            let prlimit = try #require(["/usr/bin/prlimit", "/bin/prlimit"].first { FileManager.default.isExecutableFile(atPath: $0) }, "prlimit(1) (util-linux) is needed")
            process = try HaulProcess(["--nofile=\(descriptors):\(descriptors)", haulExecutable, "serve"] + arguments, in: folder, executable: prlimit)
        } else {
            process = try HaulProcess(["serve"] + arguments, in: folder)
        }
        var url = ""
        do {
            try await waitUntil("the server's address", timeout: .seconds(60), seen: { process.stderr }) {
                url = process.stderr.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix("http://127.0.0.1:") }.map(String.init) ?? ""
                return !url.isEmpty
            }
            try await body(Served(process: process, url: url))
        } catch {
            kill(process.pid, SIGKILL)
            _ = await process.wait()
            throw error
        }
        kill(process.pid, SIGTERM)
        #expect(await process.wait(timeout: .seconds(60)) == 0, "\(process.stderr.suffix(2000))")
    }

    /// A server over the fixture catalog, the loopback archive serving its files (a token accepted).
    static func withServer(
        _ extra: [String] = [], descriptors: Int? = nil, _ body: (Served, TestArchive, String) async throws -> Void
    ) async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            try serveCatalog(caom, in: archive)
            archive.addToken(token, user: user)
            try await withServeProcess(
                [caom, "--archive", archive.url, "--max-upload", "1", "--parallel", "16"] + extra, in: folder.path, descriptors: descriptors
            ) { server in
                try await body(server, archive, folder.path)
            }
        }
    }

    /// Selectors as query pairs, and the same as command-line options.
    static let selections: [[(String, String)]] = [
        [],
        [("quick", "recommended")],
        [("quick", "none")],
        [("level", "2b"), ("level", "3")],
        [("level", "1b"), ("suffix", "x1dints"), ("page", "2"), ("page-size", "2")],
        [("guidestar", "1"), ("level", "3")],
        [("pipeline-inputs", "1")],
        [("regex", "/_(cal|uncal)\\.fits$/i")],
        [("quick", "all"), ("layout", "flat")],
        [("suffix", "CAL"), ("suffix", "_uncal"), ("page-size", "3"), ("page", "3")],
    ]

    static func query(_ pairs: [(String, String)]) -> String {
        pairs.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" }.joined(separator: "&")
    }

    static func options(_ pairs: [(String, String)], paging: Bool) -> [String] {
        pairs.flatMap { name, value -> [String] in
            switch name {
            case "guidestar", "pipeline-inputs": return ["--\(name)"]
            case "page", "page-size": return paging ? ["--\(name)", value] : []
            default: return ["--\(name)", value]
            }
        }
    }

    @Test("/summary.json and /preview.json equal select --json, /export.csv equals --export-csv, /script.sh equals haul script")
    func sameAsTheCommandLine() async throws {
        try await Self.withServer { server, archive, folder in
            for pairs in Self.selections {
                let q = Self.query(pairs)
                let cli = try await runHaul(["select", Self.caom] + Self.options(pairs, paging: true) + ["--json"], in: folder)
                #expect(cli.status == 0, "\(cli.stderr)")
                for endpoint in ["summary.json", "preview.json"] {
                    let answer = try await Self.curl("\(server.baseURL)/\(endpoint)?\(q)", in: folder)
                    #expect(answer.status == 200, "\(endpoint)?\(q): \(answer.text)")
                    #expect(answer.text == cli.stdout, "\(endpoint)?\(q)")
                    #expect(answer.headers.lowercased().contains("content-type: application/json"))
                }
                let nonPaging = pairs.filter { $0.0 != "page" && $0.0 != "page-size" }
                let export = try await runHaul(["select", Self.caom] + Self.options(nonPaging, paging: false) + ["--export-csv", "-"], in: folder)
                let csv = try await Self.curl("\(server.baseURL)/export.csv?\(Self.query(nonPaging))", in: folder)
                #expect(csv.status == 200)
                #expect(csv.text == export.stdout, "export.csv?\(q)")
                #expect(csv.headers.contains("attachment; filename=\"jwst-program.caom-selection.csv\""))
                let script = try await runHaul(
                    ["script", Self.caom] + Self.options(nonPaging, paging: false), in: folder, environment: ["HAUL_ARCHIVE": archive.url]
                )
                let served = try await Self.curl("\(server.baseURL)/script.sh?\(Self.query(nonPaging))", in: folder)
                if script.status == 0 {
                    #expect(served.status == 200)
                    #expect(served.text == script.stdout, "script.sh?\(q)")
                    #expect(served.headers.contains("attachment; filename=\"jwst-program.caom.sh\""))
                }
            }
        }
    }

    @Test("Bad selectors answer 400 with the CLI's message; a bad regex names the character")
    func badSelectors() async throws {
        try await Self.withServer { server, _, folder in
            let regex = try await Self.curl("\(server.baseURL)/summary.json?regex=\("_(cal".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)", in: folder)
            #expect(regex.status == 400)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(regex.body)) as? [String: String])
            let cli = try await runHaul(["select", Self.caom, "--regex", "_(cal"], in: folder)
            #expect(cli.status == 2)
            #expect("haul: error: " + object["error"]! + "\n" == cli.stderr)
            #expect(object["error"]!.hasSuffix("^"))
            for (q, message) in [
                ("quick=some", "quick=some: expected all, recommended or none"),
                ("layout=sideways", "layout=sideways: expected nested or flat"),
                ("page=0", "page=0: expected a whole number"),
                ("colour=red", "colour: not a selector"),
                ("root=..%2Fup", "root=../up: expected a plain folder name"),
            ] {
                let answer = try await Self.curl("\(server.baseURL)/summary.json?\(q)", in: folder)
                #expect(answer.status == 400, "\(q)")
                #expect(answer.text.contains(message), "\(q): \(answer.text)")
            }
            let page = try await Self.curl("\(server.baseURL)/preview.json?page=99", in: folder)
            #expect(page.status == 400)
            #expect(try await Self.curl("\(server.baseURL)/nothing", in: folder).status == 404)
            #expect(try await Self.curl("\(server.baseURL)/summary.json", ["-X", "POST"], in: folder).status == 405)
        }
    }

    @Test("The key is needed by the page, downloads, uploads and tokens; a Host that is not the server is refused")
    func keyAndHost() async throws {
        try await Self.withServer { server, archive, folder in
            let base = server.baseURL
            for url in ["\(base)/", "\(base)/?key=0123", "\(base)/download.zip?quick=recommended", "\(base)/download.zip?quick=recommended&key=\(String(server.key.reversed()))"] {
                let answer = try await Self.curl(url, in: folder)
                #expect(answer.status == 403, "\(url)")
                #expect(answer.text.contains("this needs the server"), "\(answer.text)")
                #expect(!answer.text.contains(server.key) && !answer.headers.contains(server.key), "\(url)")
            }
            let post = try await Self.curl("\(base)/download.zip", ["--data-binary", "mast:JWST/product/x.fits"], in: folder)
            #expect(post.status == 403)
            let upload = try await Self.curl("\(base)/catalog", ["--data-binary", "mast:JWST/product/x.fits"], in: folder)
            #expect(upload.status == 403)
            let form = try await Self.curl("\(base)/download.zip", ["--data-urlencode", "token=\(Self.token)", "-d", "quick=all"], in: folder)
            #expect(form.status == 403)
            #expect(!form.text.contains(server.key) && !form.text.contains(Self.token))
            // A token never travels in a URL.
            let inURL = try await Self.curl("\(base)/download.zip?key=\(server.key)&token=\(Self.token)", in: folder)
            #expect(inURL.status == 400)
            #expect(!inURL.text.contains(Self.token))
            // DNS rebinding: the name a browser sends is the attacker's.
            for host in ["evil.example:\(server.port)", "127.0.0.1:\(server.port + 1)", "localhost.evil.example:\(server.port)", ""] {
                let answer = try await Self.curl("\(base)/summary.json", ["-H", "Host: \(host)"], in: folder)
                #expect(answer.status == 403, "Host: \(host)")
                #expect(answer.text.contains("is not this server's name"))
            }
            #expect(try await Self.curl("http://localhost:\(server.port)/summary.json", in: folder).status == 200)
            let page = try await Self.curl(server.url, in: folder)
            #expect(page.status == 200)
            #expect(page.text.contains("START DOWNLOAD") && page.text.contains("API QUERY"))
            #expect(page.headers.contains("Content-Security-Policy: default-src 'none'"))
            #expect(archive.statistics.requests == 0)
            #expect(!server.log.joined().contains(Self.token))
        }
    }

    /// What the plan of `pairs` puts in its bundle: entry names and the URI each holds.
    static func expected(_ pairs: [(String, String)], products: [Product], archive: TestArchive, authorized: Bool = false) throws -> [String: String] {
        var selection = Selection()
        var layout = Plan.Layout.nested
        for (name, value) in pairs {
            switch name {
            case "quick": selection.quick = Selection.Quick(rawValue: value)
            case "level": selection.levels.append(value)
            case "suffix": selection.suffixes.append(value)
            case "guidestar": selection.guideStars = true
            case "layout": layout = Plan.Layout(rawValue: value)!
            default: break
            }
        }
        let plan = Plan(products: products, selection: selection, layout: layout, root: "jwst-program.caom", resolver: try URLResolver(archive: archive.url), authorized: authorized)
        var names: [String: String] = [:]
        for i in plan.downloads { names[plan.root + "/" + plan.entries[i].path] = plan.entries[i].product.uri }
        return names
    }

    @Test("GET /download.zip streams the bundle: five readers accept it, every byte is the archive's", arguments: [
        [("quick", "recommended")],
        [("quick", "all"), ("guidestar", "1"), ("layout", "flat"), ("compression", "store")],
        [("level", "2b"), ("compression", "deflate"), ("compression-level", "1")],
    ])
    func streamed(pairs: [(String, String)]) async throws {
        try await Self.withServer { server, archive, folder in
            let answer = try await Self.curl("\(server.baseURL)/download.zip?key=\(server.key)&\(Self.query(pairs))", in: folder)
            #expect(answer.status == 200, "\(answer.text.prefix(500))")
            #expect(answer.headers.lowercased().contains("content-type: application/zip"))
            #expect(answer.headers.contains("Content-Disposition: attachment; filename=\"jwst-program.caom.zip\""))
            // Stored too: a file of the selection (the .jpg) has no stated size, so no length can be stated.
            #expect(answer.headers.lowercased().contains("transfer-encoding: chunked"))
            #expect(answer.headers.contains("Accept-Ranges: none"))
            let path = folder + "/bundle.zip"
            try Data(answer.body).write(to: URL(fileURLWithPath: path))
            let files = try Self.expected(pairs, products: try Catalog.load(paths: [Self.caom]).products, archive: archive)
            #expect(!files.isEmpty)
            let names = files.keys.sorted() + ["jwst-program.caom/manifest.html", "jwst-program.caom/manifest.csv"]
            try await checkWithReaders(path, names: names)
            let read = try await readWithPython(path, extractTo: folder + "/x")
            #expect(read.entries.count == names.count)
            for (name, uri) in files {
                #expect(Bytes(readBytes(folder + "/x/" + name)) == Bytes(archive.content(of: uri)), "\(name)")
            }
            // The line is written once the last bytes are handed to the socket, perhaps after curl has them.
            try await waitUntil("the download's log line", timeout: .seconds(30), seen: { server.log.joined(separator: "; ") }) {
                server.log.contains { $0.hasPrefix("GET /download.zip 200: \(files.count) OK, 0 failed, 0 cancelled, \(answer.body.count) bytes sent") }
            }
        }
    }

    /// The value of a response header.
    static func header(_ name: String, in headers: String) -> String? {
        headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
            .map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
    }

    @Test("Stored with every size known: exact Content-Length and an ETag; Range (with If-Range or not) gives the rest of the same bytes")
    func ranges() async throws {
        try await Self.withServer { server, archive, folder in
            // The FITS files: every one has a stated size.
            let url = "\(server.baseURL)/download.zip?key=\(server.key)&quick=all&regex=%5C.fits%24&compression=store"
            let whole = try await Self.curl(url, in: folder)
            #expect(whole.status == 200)
            let length = whole.body.count
            #expect(Self.header("Content-Length", in: whole.headers) == String(length))
            #expect(Self.header("Accept-Ranges", in: whole.headers) == "bytes")
            #expect(!whole.headers.lowercased().contains("transfer-encoding"))
            let tag = try #require(Self.header("ETag", in: whole.headers))
            #expect(tag.hasPrefix("\"haul-") && tag.hasSuffix("\""))
            let path = folder + "/whole.zip"
            try Data(whole.body).write(to: URL(fileURLWithPath: path))
            let reading = try await readWithPython(path)
            try await checkWithReaders(path, names: reading.names)

            // Where each file's entry ends (entries follow each other; the manifests come after the files).
            let starts = reading.entries.map(\.offset).sorted()
            let files = reading.entries.count - 2
            let ends = (0..<files).map { starts[$0 + 1] }
            for first in [1, length / 3, length - 100, length - 1] {
                let requests = archive.statistics.requests
                let rest = try await Self.curl(url, ["-H", "Range: bytes=\(first)-", "-H", "If-Range: \(tag)"], in: folder)
                #expect(rest.status == 206, "from \(first)")
                #expect(Self.header("Content-Range", in: rest.headers) == "bytes \(first)-\(length - 1)/\(length)")
                #expect(Self.header("ETag", in: rest.headers) == tag)
                #expect(Bytes(rest.body) == Bytes(Array(whole.body[first...])), "from \(first)")
                // Only the files whose entries end after the range's start are fetched again.
                #expect(archive.statistics.requests - requests == ends.filter { $0 > UInt64(first) }.count, "from \(first)")
            }
            // curl -C (a Range without If-Range) resumes the newest bundle of the same request.
            let partPath = folder + "/part.zip"
            try Data(whole.body[0..<(length / 2)]).write(to: URL(fileURLWithPath: partPath))
            let resumed = try await runHaul(["-sS", "-C", "-", "-o", partPath, url], in: folder, executable: "/usr/bin/curl")
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect(Bytes(readBytes(partPath)) == Bytes(whole.body))
            // A range in the middle: exactly those bytes.
            let middle = try await Self.curl(url, ["-r", "1000-1999"], in: folder)
            #expect(middle.status == 206)
            #expect(Bytes(middle.body) == Bytes(Array(whole.body[1000...1999])))

            // A range past the end; an If-Range naming another bundle; a selection never sent.
            let past = try await Self.curl(url, ["-H", "Range: bytes=\(length)-"], in: folder)
            #expect(past.status == 416)
            #expect(Self.header("Content-Range", in: past.headers) == "bytes */\(length)")
            // (The same selection is the same bundle: the whole of it, under the same tag.)
            let other = try await Self.curl(url, ["-H", "Range: bytes=100-", "-H", "If-Range: \"haul-not-this-one\""], in: folder)
            #expect(other.status == 200)
            #expect(Bytes(other.body) == Bytes(whole.body) && Self.header("ETag", in: other.headers) == tag)
            // A selection never sent is a bundle all the same: the range of it, exactly.
            let otherURL = url.replacingOccurrences(of: "quick=all", with: "quick=recommended")
            let never = try await Self.curl(otherURL, ["-H", "Range: bytes=100-"], in: folder)
            let otherWhole = try await Self.curl(otherURL, in: folder)
            #expect(never.status == 206)
            #expect(Self.header("Content-Range", in: never.headers) == "bytes 100-\(otherWhole.body.count - 1)/\(otherWhole.body.count)")
            #expect(Bytes(never.body) == Bytes(Array(otherWhole.body[100...])))
        }
    }

    @Test("A stored download cut off mid-stream resumes with curl -C - into a whole, checked bundle")
    func brokenThenResumed() async throws {
        try await Self.withServer { server, archive, folder in
            let url = "\(server.baseURL)/download.zip?key=\(server.key)&quick=all&regex=%5C.fits%24&compression=store"
            // A client that hangs up after a third of the body, as a browser whose connection broke.
            let partPath = folder + "/broken.zip"
            let script = #"""
import socket, sys
host, port, target, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.create_connection((host, port))
s.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
data = b""
while b"\r\n\r\n" not in data:
    data += s.recv(65536)
head, body = data.split(b"\r\n\r\n", 1)
length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
while len(body) < length // 3:
    body += s.recv(65536)
s.close()
open(out, "wb").write(body[:length // 3])
print(length)
"""#
            let target = String(url.dropFirst(server.baseURL.count))
            let cut = try await runHaul(["-c", script, "127.0.0.1", String(server.port), target, partPath], in: folder, executable: "/usr/bin/python3")
            #expect(cut.status == 0, "\(cut.stderr)")
            let length = try #require(Int(cut.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(readBytes(partPath)?.count == length / 3)
            // Its end in the log: stopped when the hang-up reached the server first, else whole (a small
            // bundle may sit entirely in the sockets' buffers when the client hangs up). Either way the
            // server keeps the bundle, and the client has only a third.
            try await waitUntil("the cut download to end", timeout: .seconds(60), seen: { server.log.joined(separator: "; ") }) {
                server.log.contains { $0.hasPrefix("GET /download.zip 200: ") }
            }
            let resumed = try await runHaul(["-sS", "-C", "-", "-o", partPath, "-D", folder + "/h", url], in: folder, executable: "/usr/bin/curl")
            #expect(resumed.status == 0, "\(resumed.stderr)")
            let headers = (try? String(contentsOfFile: folder + "/h", encoding: .utf8)) ?? ""
            #expect(headers.hasPrefix("HTTP/1.1 206"), "\(headers)")
            #expect(readBytes(partPath)?.count == length)
            let reading = try await readWithPython(partPath, extractTo: folder + "/x")
            try await checkWithReaders(partPath, names: reading.names)
            let products = try Catalog.load(paths: [Self.caom]).products
            let files = try Self.expected([("quick", "all")], products: products, archive: archive).filter { $0.key.hasSuffix(".fits") }
            #expect(reading.names.sorted() == (files.keys + ["jwst-program.caom/manifest.csv", "jwst-program.caom/manifest.html"]).sorted())
            for (name, uri) in files {
                #expect(Bytes(readBytes(folder + "/x/" + name)) == Bytes(archive.content(of: uri)), "\(name)")
            }
        }
    }

    @Test("Three downloads at once share the server's engine, and each bundle is whole")
    func concurrent() async throws {
        try await Self.withServer { server, archive, folder in
            let selections = [[("quick", "recommended")], [("quick", "all"), ("compression", "store")], [("level", "3"), ("layout", "flat")]]
            let answers = try await withThrowingTaskGroup(of: (Int, Answer).self) { group in
                for (i, pairs) in selections.enumerated() {
                    group.addTask {
                        (i, try await Self.curl("\(server.baseURL)/download.zip?key=\(server.key)&root=r\(i)&\(Self.query(pairs))", in: folder))
                    }
                }
                var answers: [Int: Answer] = [:]
                for try await (i, answer) in group { answers[i] = answer }
                return answers
            }
            let products = try Catalog.load(paths: [Self.caom]).products
            for (i, pairs) in selections.enumerated() {
                let answer = try #require(answers[i])
                #expect(answer.status == 200)
                let path = folder + "/c\(i).zip"
                try Data(answer.body).write(to: URL(fileURLWithPath: path))
                let read = try await readWithPython(path, extractTo: folder + "/c\(i)")
                var files: [String: String] = [:]
                for (name, uri) in try Self.expected(pairs, products: products, archive: archive) {
                    files["r\(i)" + name.dropFirst("jwst-program.caom".count)] = uri
                }
                #expect(read.entries.map(\.name).sorted() == (files.keys + ["r\(i)/manifest.csv", "r\(i)/manifest.html"]).sorted())
                for (name, uri) in files {
                    #expect(Bytes(readBytes(folder + "/c\(i)/" + name)) == Bytes(archive.content(of: uri)), "\(name)")
                }
            }
            try await waitUntil("the downloads to end", timeout: .seconds(30), seen: { server.log.joined(separator: "; ") }) { server.downloadsEnded == 3 }
        }
    }

    @Test("haul serve prints its address, answers, warns off loopback, and stops on Ctrl-C")
    func command() async throws {
        let folder = TemporaryFolder()
        let usage = try await runHaul(["serve", "--scale", "2"], in: folder.path)
        #expect(usage.status == 2)
        #expect(usage.stderr.contains("--scale sizes the demo's sample: it needs --demo"))
        let missing = try await runHaul(["serve", "missing.json"], in: folder.path)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("missing.json"))

        let serve = try HaulProcess(["serve", Self.caom, "--archive", "http://127.0.0.1:9"], in: folder.path)
        var address = ""
        try await waitUntil("the address", timeout: .seconds(30), seen: { serve.stderr }) {
            address = serve.stderr.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix("http://127.0.0.1:") }.map(String.init) ?? ""
            return !address.isEmpty
        }
        let base = String(address.prefix { $0 != "?" }.dropLast())
        #expect(address.hasPrefix(base + "/?key=") && address.count == base.count + 2 + 4 + 32)
        let summary = try await Self.curl(base + "/summary.json?quick=recommended", in: folder.path)
        let cli = try await runHaul(["select", Self.caom, "--quick", "recommended", "--json"], in: folder.path)
        #expect(summary.text == cli.stdout)
        let page = try await Self.curl(address, in: folder.path)
        #expect(page.status == 200 && page.text.contains("<title>Haul — Download Overlay: \(Self.caom)</title>"))
        kill(serve.pid, SIGINT)
        #expect(await serve.wait(timeout: .seconds(60)) == 0)
        #expect(serve.stderr.contains("GET /summary.json 200"))
        #expect(!serve.stderr.contains("warning"))

        let open = try HaulProcess(["serve", Self.caom, "--host", "0.0.0.0"], in: folder.path)
        try await waitUntil("the warning", timeout: .seconds(30), seen: { open.stderr }) { open.stderr.contains("Ctrl-C stops the server") }
        #expect(open.stderr.contains("warning: listening on 0.0.0.0: other machines can reach this page"))
        kill(open.pid, SIGTERM)
        #expect(await open.wait(timeout: .seconds(60)) == 0)
    }

    @Test("POST /download.zip with a product list streams its bundle; a bad list is a 400 naming the line")
    func posted() async throws {
        try await Self.withServer { server, archive, folder in
            let uris = [
                "mast:JWST/product/jw02734001001_02101_00001-seg001_nis_cal.fits",
                "mast:JWST/product/jw02734001001_02101_00001-seg001_nis_uncal.fits",
            ]
            try (uris.joined(separator: "\n") + "\n").write(toFile: folder + "/list.txt", atomically: true, encoding: .utf8)
            let answer = try await Self.curl("\(server.baseURL)/download.zip?key=\(server.key)&root=posted", ["--data-binary", "@list.txt", "-H", "Content-Type: text/plain"], in: folder)
            #expect(answer.status == 200, "\(answer.text.prefix(300))")
            try Data(answer.body).write(to: URL(fileURLWithPath: folder + "/posted.zip"))
            let read = try await readWithPython(folder + "/posted.zip", extractTo: folder + "/p")
            #expect(read.entries.map(\.name).sorted() == [
                "posted/JWST/product/jw02734001001_02101_00001-seg001_nis_cal.fits", "posted/JWST/product/jw02734001001_02101_00001-seg001_nis_uncal.fits",
                "posted/manifest.csv", "posted/manifest.html",
            ].sorted())
            #expect(Bytes(readBytes(folder + "/p/posted/JWST/product/jw02734001001_02101_00001-seg001_nis_cal.fits")) == Bytes(archive.content(of: uris[0])))

            try "{\"data\": [\n  {\"dataURI\": \"mast:X/a.fits\"},\n  {\"dataURI\": }\n]}\n".write(toFile: folder + "/bad.txt", atomically: true, encoding: .utf8)
            let bad = try await Self.curl("\(server.baseURL)/download.zip?key=\(server.key)", ["--data-binary", "@bad.txt", "-H", "Content-Type: text/plain"], in: folder)
            #expect(bad.status == 400)
            #expect(bad.text.hasPrefix("the posted list:3:15: malformed JSON"), "\(bad.text)")
            // Bigger than the limit (1 MiB here): refused before it is read.
            try String(repeating: "mast:JWST/product/a.fits\n", count: 50_000).write(toFile: folder + "/big.txt", atomically: true, encoding: .utf8)
            let big = try await Self.curl("\(server.baseURL)/download.zip?key=\(server.key)", ["--data-binary", "@big.txt", "-H", "Content-Type: text/plain"], in: folder)
            #expect(big.status == 413)
            #expect(archive.statistics.requests == 2)
        }
    }

    @Test("A list uploaded by the page replaces the catalog; an empty selection is refused before any request")
    func upload() async throws {
        try await Self.withServer { server, archive, folder in
            let upload = try await Self.curl("\(server.baseURL)/catalog?key=\(server.key)", ["--data-binary", "mast:JWST/product/jw02734001001_02101_00001-seg001_nis_cal.fits\n"], in: folder)
            #expect(upload.status == 200)
            #expect(upload.text == "{\"products\":1}\n")
            let summary = try await Self.curl("\(server.baseURL)/summary.json", in: folder)
            #expect(summary.text.hasPrefix("{\"selected_files\":1,"))
            let empty = try await Self.curl("\(server.baseURL)/download.zip?key=\(server.key)&quick=none", in: folder)
            #expect(empty.status == 400)
            #expect(empty.text.contains("nothing to download"))
            #expect(archive.statistics.requests == 0)
        }
    }

    @Test("A token in the form body includes exclusive files, signs in with /whoami, and appears in no answer or log")
    func token() async throws {
        try await Self.withServer { server, archive, folder in
            let base = server.baseURL
            let pairs = [("quick", "all")]
            // The key in the address (checked on the head, before the body is read), the token in the body.
            let form = ["-d", "quick=all", "--data-urlencode", "token=\(Self.token)"]
            let answer = try await Self.curl("\(base)/download.zip?key=\(server.key)", form, in: folder)
            #expect(answer.status == 200, "\(answer.text.prefix(300))")
            try Data(answer.body).write(to: URL(fileURLWithPath: folder + "/t.zip"))
            let read = try await readWithPython(folder + "/t.zip", extractTo: folder + "/t")
            let files = try Self.expected(pairs, products: try Catalog.load(paths: [Self.caom]).products, archive: archive, authorized: true)
            #expect(read.entries.count == files.count + 2)
            let manifest = try String(contentsOfFile: folder + "/t/jwst-program.caom/manifest.csv", encoding: .utf8)
            #expect(manifest.contains(Self.user))
            #expect(manifest.contains("SUCCESS"))
            #expect(archive.statistics.authorizedRequests > 0)
            #expect(!answer.body.containsBytes(of: Self.token) && !answer.headers.contains(Self.token))

            let wrong = try await Self.curl("\(base)/download.zip?key=\(server.key)", ["-d", "quick=all", "--data-urlencode", "token=not-the-token-0123456789"], in: folder)
            #expect(wrong.status == 401)
            #expect(wrong.text.contains("<pre id=\"error\">"))
            #expect(!wrong.text.contains("not-the-token-0123456789"))
            let lines = server.log
            #expect(lines.contains("POST /download.zip 401"))
            #expect(!lines.joined(separator: "\n").contains(Self.token) && !lines.joined().contains("not-the-token"))
        }
    }

    @Test("Closing the connection mid-stream cancels every transfer of that download", .prompt)
    func cancelled() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            var products: [Product] = []
            let size: Int64 = 8 << 20
            for i in 0..<24 {
                let name = String(format: "jw01000001001_02101_%05d_nrca1_cal.fits", i)
                products.append(product(name, size: size))
                // The last four trickle: they are certainly still arriving when the client hangs up.
                archive.add(uri: "mast:JWST/product/\(name)", size: size, faults: i >= 20 ? [.init(.trickle(bytesPerSecond: 64 << 10))] : [])
            }
            var configuration = OverlayServer.Configuration(resolver: try URLResolver(archive: archive.url))
            configuration.catalog = Catalog(products: products)
            configuration.catalogNames = ["big.json"]
            configuration.maximumDownloads = 1
            try await withEngine(testConfiguration()) { engine in
                try await withOverlayServer(configuration, engine: engine) { server in
                    // Store mode and a client reading 1 MB/s: the bundle (192 MiB) is far from done when it
                    // hangs up, once a megabyte has arrived (waited for, not timed: the machine may be busy).
                    let body = folder.path + "/partial.zip"
                    let client = try HaulProcess(
                        ["-sS", "-o", body, "--limit-rate", "1M", "\(server.baseURL)/download.zip?key=\(server.key)&compression=store"],
                        in: folder.path, executable: "/usr/bin/curl"
                    )
                    try await waitUntil("a megabyte of the bundle", timeout: .seconds(120), seen: { client.stderr }) {
                        (readBytes(body)?.count ?? 0) >= 1 << 20
                    }
                    #expect(server.activeDownloads == 1)
                    // One bundle at a time here: a second is told to come back later.
                    let second = try await Self.curl("\(server.baseURL)/download.zip?key=\(server.key)", in: folder.path)
                    #expect(second.status == 503)
                    #expect(second.headers.contains("Retry-After: 10"))
                    #expect(second.text.contains("1 download is running, the most this server streams at once"))
                    kill(client.pid, SIGKILL)
                    _ = await client.wait()
                    let received = readBytes(body)?.count ?? 0
                    #expect(received >= 1 << 20 && received < 24 * size)
                    try await waitUntil("the download to end", timeout: .seconds(120), seen: { "\(server.activeDownloads) downloads, \(engine.activeTransfers) transfers" }) {
                        server.activeDownloads == 0 && engine.activeTransfers == 0
                    }
                    // Nothing goes on behind it: once the writes the archive had already queued are done (on a
                    // busy machine its event loop counts them up to seconds late), it sends and is asked no more.
                    var sent = archive.statistics.bytesSent
                    let settle = ContinuousClock.now + .seconds(60)
                    while ContinuousClock.now < settle {
                        try await Task.sleep(for: .seconds(1))
                        let now = archive.statistics.bytesSent
                        if now == sent { break }
                        sent = now
                    }
                    let requests = archive.statistics.requests
                    try await Task.sleep(for: .seconds(1))
                    #expect(archive.statistics.bytesSent == sent, "the archive went on sending for 60 s after the download ended")
                    #expect(archive.statistics.requests == requests)
                    // The archive was not asked for everything: the cancelled transfers stopped.
                    #expect(archive.statistics.bytesSent < 24 * size)
                }
            }
        }
    }
}

extension [UInt8] {
    func containsBytes(of text: String) -> Bool {
        let needle = Array(text.utf8)
        guard needle.count <= count else { return false }
        for start in 0...(count - needle.count) where self[start] == needle[0] {
            if Array(self[start..<(start + needle.count)]) == needle { return true }
        }
        return false
    }
}
