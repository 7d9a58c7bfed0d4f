import Foundation

extension BenchReport {
    /// The report as JSON (`haul bench --json FILE`), keys sorted, times in seconds, sizes in bytes:
    /// `bytes`, `seconds`, `errors` (failed fetches) and the `ttfb` and `total` percentiles (`p50`,
    /// `p90`, `p99`, `max`, with `min`, `mean` and `count`), then the rest: counts, errors and retries by
    /// kind, connections, statuses, per host, the HDR percentile distribution and throughput over time.
    /// Under a rate, `ttfb` and `total` are corrected for coordinated omission and `uncorrected` holds
    /// the service times; without one, `uncorrected` is `null`.
    package func json() -> String {
        let data = (try? JSONSerialization.data(withJSONObject: jsonObject, options: [.prettyPrinted, .sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    var jsonObject: [String: Any] {
        var load: [String: Any] = ["parallel": options.limit]
        switch options.load {
        case .concurrency: load["mode"] = "concurrency"
        case .rate(let rate, _):
            load["mode"] = "rate"
            load["rate"] = rate
        }
        let stop: [String: Any]
        switch options.stop {
        case .repeats(let n): stop = ["repeat": n]
        case .duration(let d): stop = ["duration": d.seconds]
        }
        let formatter = ISO8601DateFormatter()
        return [
            "haul_version": haulVersion,
            "label": options.label,
            "started": formatter.string(from: started),
            "load": load,
            "stop": stop,
            "crc": options.computesCRC,
            "seconds": seconds,
            "requests": requests,
            "ok": ok,
            "failed": failed,
            "cancelled": cancelled,
            "bytes": bytes,
            "bytes_per_second": bytesPerSecond,
            "requests_per_second": requestsPerSecond,
            "errors": errorCount,
            "errors_by_kind": errors,
            "retries": retryCount,
            "retries_by_kind": retries,
            "connections": ["opened": connectionsOpened, "reused": connectionsReused],
            "statuses": Dictionary(uniqueKeysWithValues: statuses.map { (String($0.key), $0.value) }),
            "ttfb": Self.json(ttfb.summary),
            "total": Self.json(total.summary),
            "uncorrected": uncorrected.map { ["ttfb": Self.json($0.ttfb.summary), "total": Self.json($0.total.summary)] as [String: Any] } ?? NSNull(),
            "late_starts": uncorrected == nil ? NSNull() : lateStarts,
            "distribution": [
                "ttfb": ttfb.distribution().map { [$0.percentile, $0.seconds] },
                "total": total.distribution().map { [$0.percentile, $0.seconds] },
            ],
            "throughput": throughput.map {
                ["t": $0.seconds, "interval": $0.interval, "bytes": $0.bytes, "bytes_per_second": $0.bytesPerSecond, "completed": $0.completed] as [String: Any]
            },
            "hosts": hosts.map { host -> [String: Any] in
                [
                    "host": host.host, "requests": host.requests, "ok": host.ok, "failed": host.failed, "bytes": host.bytes,
                    "retries": host.retries, "connections": ["opened": host.connectionsOpened, "reused": host.connectionsReused],
                    "ttfb": Self.json(host.ttfb.summary), "total": Self.json(host.total.summary),
                ]
            },
        ]
    }

    static func json(_ s: LatencySummary) -> [String: Any] {
        ["p50": s.p50, "p90": s.p90, "p99": s.p99, "max": s.max, "min": s.min, "mean": s.mean, "count": s.count]
    }
}
