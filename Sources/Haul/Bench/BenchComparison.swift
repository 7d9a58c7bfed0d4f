import Foundation

/// The same products benched from two sources in turn (`haul bench --compare-sources`: the archive,
/// then MAST's bucket), reported side by side.
package struct BenchComparison: Sendable {
    /// The runs, in the order they ran; each report's label names its source.
    package var runs: [BenchReport]

    package init(runs: [BenchReport]) {
        self.runs = runs
    }

    /// One figure of every run, and the last run's over the first's.
    package struct Row: Sendable {
        package var name: String
        /// What ``values`` count, for programs (`bytes/s`, `seconds`, …).
        package var unit: String
        package var values: [Double]
        package var texts: [String]
        /// The last run's value over the first's; `nil` where either is zero.
        package var ratio: Double? {
            guard values.count >= 2, let first = values.first, let last = values.last, first > 0, last > 0 else { return nil }
            return last / first
        }
    }

    /// The figures compared: throughput, request rate, latency percentiles, errors, connections, time.
    package var rows: [Row] {
        func row(_ name: String, _ unit: String, _ value: (BenchReport) -> Double, _ text: (Double) -> String) -> Row {
            let values = runs.map(value)
            return Row(name: name, unit: unit, values: values, texts: values.map(text))
        }
        let count: (Double) -> String = { String(Int64($0)) }
        return [
            row("throughput", "bytes/s", \.bytesPerSecond, BenchReport.rate),
            row("requests a second", "requests/s", \.requestsPerSecond, { String(format: "%.1f", $0) }),
            row("time to first byte p50", "seconds", { $0.ttfb.summary.p50 }, BenchReport.time),
            row("time to first byte p99", "seconds", { $0.ttfb.summary.p99 }, BenchReport.time),
            row("total time p50", "seconds", { $0.total.summary.p50 }, BenchReport.time),
            row("total time p99", "seconds", { $0.total.summary.p99 }, BenchReport.time),
            row("OK", "fetches", { Double($0.ok) }, count),
            row("errors", "fetches", { Double($0.errorCount) }, count),
            row("retries", "attempts", { Double($0.retryCount) }, count),
            row("connections opened", "connections", { Double($0.connectionsOpened) }, count),
            row("run time", "seconds", \.seconds, BenchReport.time),
        ]
    }

    /// The labels of the runs, in order.
    package var labels: [String] { runs.map(\.options.label) }

    /// `{"sources": [labels], "comparison": [{"figure", "unit", "values", "ratio"}], "runs": [each run's
    /// report, as `haul bench --json` writes one]}`; `ratio` is the last run's value over the first's,
    /// `null` where either is zero.
    package func json() -> String {
        let object: [String: Any] = [
            "haul_version": haulVersion,
            "sources": labels,
            "comparison": rows.map { row -> [String: Any] in
                ["figure": row.name, "unit": row.unit, "values": row.values, "ratio": row.ratio.map { $0 as Any } ?? NSNull()]
            },
            "runs": runs.map(\.jsonObject),
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// One self-contained page: the comparison table, then each run's figures, tables and plots.
    package func html(title: String = "haul bench") -> String {
        let e = Manifest.escape
        let last = labels.last ?? "", first = labels.first ?? ""
        var body = "<p class=\"meta\">The same \(runs.first?.requests ?? 0) requests from each source, one run after the other, in this order.</p>\n"
        body += "<h2>Side by side</h2>\n<table><thead><tr><th></th>"
            + labels.map { "<th>\(e($0))</th>" }.joined() + "<th>\(e(last)) / \(e(first))</th></tr></thead><tbody>\n"
        for row in rows {
            body += "<tr><th>\(e(row.name))</th>" + row.texts.map { "<td class=\"num\">\(e($0))</td>" }.joined()
                + "<td class=\"num\">\(row.ratio.map { String(format: "%.2f×", $0) } ?? "–")</td></tr>\n"
        }
        body += "</tbody></table>\n"
        for run in runs {
            body += "<h2>\(e(run.options.label))</h2>\n<p class=\"meta\">\(e(run.description))</p>\n" + run.sections(heading: "h3")
        }
        return BenchReport.page(title: title, heading: "\(e(title)) — \(labels.map(e).joined(separator: " against "))", body: body)
    }
}
