import Foundation
import Haul

/// `haul bench`'s summary for a person, in the manner of wrk and h2load: counts, throughput, a table
/// of latency percentiles, a sparkline of throughput over time, errors and retries by kind, per host.
struct BenchSummary {
    let report: BenchReport
    let width: Int

    init(_ report: BenchReport, width: Int) {
        self.report = report
        self.width = max(40, min(width, 120))
    }

    var text: String {
        let r = report
        var lines: [String] = []
        var head = "\(Format.count(r.requests, "request")) in \(Format.seconds(r.seconds))"
        switch r.options.load {
        case .concurrency(let n): head += ", \(n.grouped) in flight"
        case .rate(let rate, let limit): head += ", \(Self.number(rate)) a second (at most \(limit.grouped) in flight)"
        }
        if !r.options.label.isEmpty { head = r.options.label + ": " + head }
        lines.append(head)
        var counts = "  \(r.ok.grouped) OK"
        if r.failed > 0 { counts += ", \(r.failed.grouped) failed" }
        if r.cancelled > 0 { counts += ", \(r.cancelled.grouped) cancelled at the end" }
        counts += ", \(Format.count(r.retryCount, "retry", plural: "retries"))"
        lines.append(counts)
        lines.append("  received \(Format.bytes(r.bytes)) at \(Format.rate(r.bytesPerSecond)), \(Self.number(r.requestsPerSecond)) requests/s")
        lines.append("  connections: \(r.connectionsOpened.grouped) opened, \(r.connectionsReused.grouped) reused")
        lines.append("")
        var table: [(String, LatencySummary)] = [("time to first byte", r.ttfb.summary), ("total time", r.total.summary)]
        if let u = r.uncorrected {
            table += [("service: first byte", u.ttfb.summary), ("service: total", u.total.summary)]
        }
        lines.append(Self.pad("", 22) + ["p50", "p90", "p99", "max"].map { Self.pad($0, 10, right: true) }.joined())
        for (name, s) in table {
            lines.append("  " + Self.pad(name, 20) + [s.p50, s.p90, s.p99, s.max].map { Self.pad(BenchReport.time($0), 10, right: true) }.joined())
        }
        if r.uncorrected != nil {
            lines.append("  (latency from each request's intended start; service: from its actual start; \(r.lateStarts.grouped) started late)")
        }
        if r.throughput.count > 1 {
            let peak = r.throughput.map(\.bytesPerSecond).max() ?? 0
            lines.append("")
            lines.append("  throughput over \(Format.seconds(r.seconds)), peak \(Format.rate(peak)):")
            lines.append("  " + Self.sparkline(r.throughput, columns: width - 4))
        }
        if !r.errors.isEmpty { lines.append("  errors: " + Self.kinds(r.errors)) }
        if !r.retries.isEmpty { lines.append("  retries: " + Self.kinds(r.retries)) }
        if r.hosts.count > 0 {
            lines.append("")
            lines.append("  per host:")
            for h in r.hosts {
                var line = "    \(h.host)  \(Format.count(h.requests, "request")), \(h.ok.grouped) OK"
                if h.failed > 0 { line += ", \(h.failed.grouped) failed" }
                line += ", \(Format.bytes(h.bytes)), total p50 \(BenchReport.time(h.total.summary.p50)) p99 \(BenchReport.time(h.total.summary.p99))"
                line += ", connections \(h.connectionsOpened.grouped) opened \(h.connectionsReused.grouped) reused"
                lines.append(line)
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The figures of runs from several sources, a column each, and the last's over the first's.
    static func comparison(_ c: BenchComparison) -> String {
        let labels = c.labels
        let rows = c.rows
        let nameWidth = max(24, (rows.map(\.name.count).max() ?? 0) + 4)
        let ratioHead = "\(labels.last ?? "") / \(labels.first ?? "")"
        let widths = labels.indices.map { i in max(12, labels[i].count + 2, (rows.map { $0.texts[i].count }.max() ?? 0) + 2) }
        var lines = ["\(labels.joined(separator: " against ")): the same \(Format.count(c.runs.first?.requests ?? 0, "request")), one run after the other"]
        lines.append(pad("", nameWidth) + labels.indices.map { pad(labels[$0], widths[$0], right: true) }.joined() + "  " + ratioHead)
        for row in rows {
            let ratio = row.ratio.map { Format.fixed($0, 2) + "×" } ?? "–"
            lines.append("  " + pad(row.name, nameWidth - 2) + row.texts.indices.map { pad(row.texts[$0], widths[$0], right: true) }.joined() + "  " + ratio)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `HTTP 503 ×3, timeout ×1`, most frequent first.
    static func kinds(_ counts: [String: Int]) -> String {
        counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { "\($0.key) ×\($0.value.grouped)" }.joined(separator: ", ")
    }

    /// Throughput samples as block characters, one a column, neighbours merged to fit.
    static func sparkline(_ samples: [ThroughputSample], columns: Int) -> String {
        let groups = max(1, (samples.count + columns - 1) / columns)
        var rates: [Double] = []
        var i = 0
        while i < samples.count {
            let slice = samples[i..<min(samples.count, i + groups)]
            let interval = slice.reduce(0) { $0 + $1.interval }
            rates.append(interval > 0 ? Double(slice.reduce(0) { $0 + $1.bytes }) / interval : 0)
            i += groups
        }
        let peak = rates.max() ?? 0
        let blocks = Array(" ▁▂▃▄▅▆▇█")
        return String(rates.map { peak > 0 ? blocks[min(8, Int(($0 / peak * 8).rounded()))] : " " })
    }

    static func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, n - s.count))
        return right ? fill + s : s + fill
    }

    static func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? Int64(v).grouped : Format.fixed(v, v < 10 ? 2 : 1)
    }
}
