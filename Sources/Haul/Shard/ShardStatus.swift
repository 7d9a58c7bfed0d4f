import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a running shard says of itself in `status/NNNNN.json`, rewritten (atomically) about once a
/// second and at its end: the one view `haul status` builds over all shards, without a server.
package struct ShardStatus: Codable, Sendable, Hashable {
    package enum State: String, Codable, Sendable {
        /// Fetching; ``ShardStatus/updated`` says when it last said so.
        case running
        /// Every file complete.
        case done
        /// Ended with files failed (a run again may fetch them), or an error.
        case failed
        /// Stopped by a signal (SIGINT, SIGTERM: `scancel`, a pod deleted).
        case interrupted
    }

    package var shard: Int
    package var state: State
    /// The node and process, and which run of this index this is (1 for the first).
    package var host: String
    package var pid: Int32
    package var run: Int
    /// Unix seconds: when this run started and when this file was written.
    package var started: Double
    package var updated: Double
    package var filesTotal: Int
    package var filesDone: Int
    package var filesFailed: Int
    package var bytesTotal: Int64
    package var bytesDone: Int64
    /// Bytes a second over the last few seconds.
    package var rate: Double
    /// The exit status, once ended.
    package var exitStatus: Int32?
    /// Failed files (`PATH: reason`), the first 100; and an error that ended the run, if any.
    package var failures: [String]
    package var error: String?

    package init(shard: Int, host: String, pid: Int32, run: Int, started: Double, filesTotal: Int, bytesTotal: Int64) {
        self.shard = shard
        self.state = .running
        self.host = host
        self.pid = pid
        self.run = run
        self.started = started
        self.updated = started
        self.filesTotal = filesTotal
        self.filesDone = 0
        self.filesFailed = 0
        self.bytesTotal = bytesTotal
        self.bytesDone = 0
        self.rate = 0
        self.failures = []
    }

    package static func path(_ folder: String, shard: Int, width: Int) -> String {
        folder + "/status/" + ShardPlan.name(shard, width: width) + ".json"
    }

    package func write(_ folder: String, width: Int) throws {
        // Rewritten every second: flushed only by the kernel (a lost status costs a stale view, not data).
        try ShardPlan.writeJSON(self, to: Self.path(folder, shard: shard, width: width), synchronize: state != .running)
    }

    package static func read(_ folder: String, shard: Int, width: Int) -> ShardStatus? {
        guard let data = FileManager.default.contents(atPath: path(folder, shard: shard, width: width)) else { return nil }
        return try? JSONDecoder().decode(ShardStatus.self, from: data)
    }

    package static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    package static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        let length = buffer.firstIndex(of: 0) ?? buffer.count
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
