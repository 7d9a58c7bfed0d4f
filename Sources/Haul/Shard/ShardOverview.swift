import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
