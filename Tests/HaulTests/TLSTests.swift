import Foundation
import Haul
import HaulArchive
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `openssl s_server -WWW` on 127.0.0.1, on a port it picks, serving the files of a folder over TLS
/// with a self-signed certificate for 127.0.0.1 made by `openssl req -x509`. Stopped by its PID.
final class SelfSignedServer {
    let folder: String
    let certificate: String
    let url: String
    private let process: Spawned

    /// - Parameter folder: The files to serve; `cert.pem` and `key.pem` are written there.
    init(serving folder: String) async throws {
        self.folder = folder
        certificate = folder + "/cert.pem"
        let made = try await runTool("openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", folder + "/key.pem", "-out", certificate,
        ])
        guard made.status == 0 else { throw WaitTimedOut(description: "openssl req could not make a certificate: \(made.output)") }
        let log = folder + "/s_server.log"
        let process = try Spawned(
            "/usr/bin/openssl", ["s_server", "-WWW", "-accept", "127.0.0.1:0", "-cert", certificate, "-key", folder + "/key.pem"],
            environment: environment([:]), directory: folder, stdout: .file(log), stderr: .standardOutput
        )
        // It prints `ACCEPT 127.0.0.1:PORT` once it listens.
        func port() -> Int? {
            guard let text = try? String(contentsOfFile: log, encoding: .utf8),
                  let line = text.split(separator: "\n").first(where: { $0.hasPrefix("ACCEPT") }),
                  let colon = line.lastIndex(of: ":") else { return nil }
            return Int(line[line.index(after: colon)...])
        }
        do {
            try await waitUntil("openssl s_server to listen", timeout: .seconds(30), seen: { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }) {
                port() != nil || process.poll() != nil
            }
        } catch {
            kill(process.pid, SIGTERM)
            _ = process.waitBlocking()
            throw error
        }
        self.process = process
        guard let port = port() else {
            kill(process.pid, SIGTERM)
            _ = process.waitBlocking()
            throw WaitTimedOut(description: "openssl s_server exited: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        url = "https://127.0.0.1:\(port)"
    }

    func stop() {
        kill(process.pid, SIGTERM)
        _ = process.waitBlocking()
    }
}

@Suite("TLS")
struct TLSTests {
    @Test("A self-signed certificate is refused with the reason and the fix, and trusted with --cacert or --capath (library and command)")
    func selfSigned() async throws {
        let folder = TemporaryFolder()
        let served = folder.path + "/www"
        try FileManager.default.createDirectory(atPath: served, withIntermediateDirectories: true)
        let bytes = ArchiveContent(uri: "tls", size: 200_000).allBytes
        try Data(bytes).write(to: URL(fileURLWithPath: served + "/tls_cal.fits"))
        let server = try await SelfSignedServer(serving: served)
        defer { server.stop() }
        let product = Product(uri: server.url + "/tls_cal.fits", filename: "tls_cal.fits", dataset: "d", size: 200_000)
        let plan = Plan(products: [product], selection: Selection(), root: "r", resolver: try URLResolver())

        func run(_ change: (inout Configuration) -> Void, into root: String) async throws -> DownloadReport {
            var config = testConfiguration(retries: 1)
            change(&config)
            return try await withEngine(config) { try await $0.download(plan, to: .directory(root)) }
        }

        // Not trusted: a final failure at the first attempt, nothing written.
        let refused = try await run({ _ in }, into: folder.path + "/refused")
        let status = refused.status(product.uri) ?? ""
        #expect(status.hasPrefix("FAILED: TLS certificate not trusted (SSL certificate problem: self"), "\(status)")
        #expect(status.hasSuffix("): trust its issuer with --cacert FILE or --capath DIR"), "\(status)")
        #expect(refused.row(product.uri)?.attempts == 1)
        #expect(!fileExists(folder.path + "/refused/d/tls_cal.fits"))

        // Trusted by a CA file, and by a hashed CA folder.
        let byFile = try await run({ $0.caFile = server.certificate }, into: folder.path + "/file")
        #expect(byFile.status(product.uri) == "OK")
        #expect(Bytes(readBytes(folder.path + "/file/d/tls_cal.fits")) == Bytes(bytes))
        let authorities = folder.path + "/authorities"
        try FileManager.default.createDirectory(atPath: authorities, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: server.certificate, toPath: authorities + "/haul-test.pem")
        let rehash = try await runTool("openssl", ["rehash", authorities])
        #expect(rehash.status == 0, "\(rehash.output)")
        let byFolder = try await run({ $0.caPath = authorities }, into: folder.path + "/folder")
        #expect(byFolder.status(product.uri) == "OK")
        #expect(Bytes(readBytes(folder.path + "/folder/d/tls_cal.fits")) == Bytes(bytes))
        // Another authority is no better than none.
        let other = try await run({ $0.caFile = "/etc/ssl/certs/ca-certificates.crt" }, into: folder.path + "/other")
        #expect(other.status(product.uri)?.hasPrefix("FAILED: TLS certificate not trusted") == true)

        // The command: refused (exit 1) without --cacert, exit 0 with it, exit 2 when the file is not there.
        try (product.uri + "\n").write(toFile: folder.path + "/list.txt", atomically: true, encoding: .utf8)
        let plain = try await runHaul(["download", "list.txt", "--dir", "plain", "--progress", "none", "--retries", "0"], in: folder.path)
        #expect(plain.status == 1)
        #expect(plain.stderr.contains("FAILED: TLS certificate not trusted"), "\(plain.stderr)")
        let trusted = try await runHaul(["download", "list.txt", "--dir", "trusted", "--progress", "none", "--cacert", server.certificate], in: folder.path)
        #expect(trusted.status == 0, "\(trusted.stderr)")
        #expect(Bytes(readBytes(folder.path + "/trusted/127.0.0.1/tls_cal.fits")) == Bytes(bytes))
        let hashed = try await runHaul(["download", "list.txt", "--dir", "hashed", "--progress", "none", "--capath", authorities], in: folder.path)
        #expect(hashed.status == 0, "\(hashed.stderr)")
        let missing = try await runHaul(["download", "list.txt", "--dir", "missing", "--progress", "none", "--cacert", "nowhere.pem"], in: folder.path)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("--cacert nowhere.pem: no readable file there; name a PEM file of certificate authorities"), "\(missing.stderr)")
        #expect(!fileExists(folder.path + "/missing"))
    }
}
