import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// moto's S3 server (`Fixtures/cloud/s3_server.py`, moto[server] from PyPI) on 127.0.0.1, on a port
/// the system picks, holding the public bucket `stpubdata`; every request it answers is logged.
struct S3Server: Sendable {
    /// `http://127.0.0.1:PORT`, the value for `--endpoint-url`.
    let url: String
    let port: Int
    let logPath: String

    /// The requests answered since the objects were put, as `METHOD PATH STATUS`, oldest first.
    var requests: [String] {
        ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// The requests whose path holds `text`.
    func requests(for text: String) -> [String] {
        requests.filter { $0.contains(text) }
    }
}

/// Runs moto's S3 server for `body`, with `objects` (key → bytes) public in `stpubdata`; stops it (by
/// its PID) when `body` ends.
func withS3Server<Result: Sendable>(
    objects: [String: [UInt8]], in folder: String, _ body: (S3Server) async throws -> Result
) async throws -> Result {
    let store = folder + "/s3-objects"
    for (key, bytes) in objects {
        let path = store + "/" + key
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
    try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/cloud/s3_server.py").path
    let portPath = folder + "/s3-port", logPath = folder + "/s3-log", errorPath = folder + "/s3-stderr"
    let server = try Spawned("/usr/bin/env", ["python3", script, store, logPath], environment: ProcessInfo.processInfo.environment,
                             stdout: .file(portPath), stderr: .file(errorPath))
    defer {
        kill(server.pid, SIGTERM)
        _ = server.waitBlocking()
    }
    var port = 0
    // Generous: moto's first start imports a good deal of Python on a machine shared with builds.
    try await waitUntil("moto's S3 server to print its port", timeout: .seconds(120), seen: {
        ((try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "").suffix(2000).description
    }) {
        if let status = server.poll() {
            throw WaitTimedOut(description: "moto's S3 server exited with status \(status): \((try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")")
        }
        port = Int(((try? String(contentsOfFile: portPath, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        return port > 0
    }
    return try await body(S3Server(url: "http://127.0.0.1:\(port)", port: port, logPath: logPath))
}
