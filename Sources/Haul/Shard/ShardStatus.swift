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

/// The view over all shards of a plan, from their status files.
package struct ShardOverview: Sendable {
    package enum Condition: String, Sendable {
        /// No status file yet: not started (queued, or never submitted).
        case waiting
        case running
        /// Said it was running, but its process is gone (on this host) or it has said nothing for
        /// longer than the staleness limit: killed (kill -9, node lost). Run the index again.
        case lost
        case done
        case failed
        case interrupted
    }

    package struct Shard: Sendable {
        package var index: Int
        package var condition: Condition
        package var status: ShardStatus?
        package var plannedFiles: Int
        package var plannedBytes: Int64
    }

    package var record: ShardPlan.Record
    package var shards: [Shard]
    /// Unix seconds the view was taken.
    package var now: Double

    /// - Parameter stale: Seconds without a word after which a running shard on another host counts as lost.
    package init(folder: String, stale: Double = 120) throws {
        let record = try ShardPlan.read(folder)
        let now = ShardStatus.now()
        self.record = record
        self.now = now
        let host = ShardStatus.hostName()
        let width = record.width
        shards = record.shards.enumerated().map { index, planned in
            let status = ShardStatus.read(folder, shard: index, width: width)
            var condition: Condition = .waiting
            if let status {
                switch status.state {
                case .done: condition = .done
                case .failed: condition = .failed
                case .interrupted: condition = .interrupted
                case .running:
                    let gone = status.host == host && kill(status.pid, 0) != 0 && errno == ESRCH
                    condition = gone || now - status.updated > stale ? .lost : .running
                }
            }
            return Shard(index: index, condition: condition, status: status, plannedFiles: planned.files, plannedBytes: planned.bytes)
        }
    }

    package func count(_ condition: Condition) -> Int { shards.filter { $0.condition == condition }.count }

    package var filesTotal: Int { record.shards.reduce(0) { $0 + $1.files } }
    package var bytesTotal: Int64 { record.shards.reduce(0) { $0.addingSize($1.bytes) } }
    /// Files ended OK (done minus failed) and bytes held, over every shard that has said anything.
    package var filesDone: Int { shards.reduce(0) { $0 + ($1.status.map { $0.filesDone - $0.filesFailed } ?? 0) } }
    package var filesFailed: Int { shards.reduce(0) { $0 + ($1.condition == .running ? 0 : $1.status?.filesFailed ?? 0) } }
    package var bytesDone: Int64 { shards.reduce(0) { $0.addingSize($1.status?.bytesDone ?? 0) } }
    /// The running shards' rates, summed.
    package var rate: Double { shards.reduce(0) { $0 + ($1.condition == .running ? $1.status?.rate ?? 0 : 0) } }
    /// Seconds left at the current rate; `nil` when nothing is moving.
    package var eta: Double? {
        let left = max(0, bytesTotal - bytesDone)
        if left == 0 { return 0 }
        return rate > 0 ? Double(left) / rate : nil
    }

    /// Every shard done with all its files.
    package var complete: Bool { shards.allSatisfy { $0.condition == .done } }
}
