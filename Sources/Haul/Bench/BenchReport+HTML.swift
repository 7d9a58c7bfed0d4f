import Foundation

extension BenchReport {
    /// The report as one self-contained HTML page (`haul bench --html FILE`): tables and inline SVG
    /// plots, no script, no stylesheet or font from elsewhere, so it opens offline and can be mailed.
    package func html(title: String = "haul bench") -> String {
        let e = Manifest.escape
        return Self.page(
            title: title,
            heading: "\(e(title))\(options.label.isEmpty ? "" : " — " + e(options.label))",
            body: "<p class=\"meta\">\(e(description))</p>\n" + sections(heading: "h2")
        )
    }

    /// A page around `body`: the shared head and style, `heading` (HTML) as its title, the footer.
    static func page(title: String, heading: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>\(Manifest.escape(title))</title>
        <style>
        body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 800px; color: #222; padding: 0 1em; }
        h1 { font-size: 1.4em; margin-bottom: 0.2em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
        h3 { font-size: 1em; margin-top: 1.4em; }
        p.meta { color: #555; margin-top: 0; }
        table { border-collapse: collapse; margin: 0.5em 0; }
        th, td { border: 1px solid #ccc; padding: 3px 9px; text-align: left; }
        th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
        .figures { display: flex; flex-wrap: wrap; gap: 0.4em 2em; margin: 0.8em 0; }
        .figure b { display: block; font-size: 1.3em; } .figure span { color: #666; font-size: 0.9em; }
        svg { max-width: 100%; height: auto; display: block; margin: 0.6em 0; }
        </style>
        </head>
        <body>
        <h1>\(heading)</h1>
        \(body)<p class="meta">haul \(Manifest.escape(haulVersion)); percentiles from an HDR histogram (3 significant digits); a request's latency counts only when it ended OK.</p>
        </body>
        </html>

        """
    }

    /// The report's figures, tables and plots, each part under a `heading` element (`h2` on a page of
    /// its own, `h3` inside a comparison).
    func sections(heading h: String) -> String {
        let e = Manifest.escape
        var out = ""
        out += "<div class=\"figures\">\n"
        for (value, label) in [
            (Self.rate(bytesPerSecond), "throughput"),
            (String(format: "%.1f/s", requestsPerSecond), "requests"),
            (Self.time(total.summary.p50), "p50 total"),
            (Self.time(total.summary.p99), "p99 total"),
            ("\(ok) / \(requests)", "OK"),
            ("\(errorCount)", "errors"),
        ] {
            out += "<div class=\"figure\"><b>\(e(value))</b><span>\(e(label))</span></div>\n"
        }
        out += "</div>\n"

        out += "<\(h)>Latency</\(h)>\n"
        if uncorrected != nil {
            out += "<p>Measured from each request's intended start at \(Self.number(rateValue ?? 0)) a second (coordinated omission corrected, as wrk2 does); <i>service</i> rows from its actual start. \(lateStarts) of \(requests) requests started more than 1 ms late.</p>\n"
        }
        out += "<table><thead><tr><th></th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>mean</th><th>count</th></tr></thead><tbody>\n"
        var rows: [(String, LatencySummary)] = [("time to first byte", ttfb.summary), ("total time", total.summary)]
        if let uncorrected {
            rows += [("service: time to first byte", uncorrected.ttfb.summary), ("service: total time", uncorrected.total.summary)]
        }
        for (name, s) in rows {
            out += "<tr><th>\(e(name))</th>" + [s.p50, s.p90, s.p99, s.max, s.mean].map { "<td class=\"num\">\(Self.time($0))</td>" }.joined()
                + "<td class=\"num\">\(s.count)</td></tr>\n"
        }
        out += "</tbody></table>\n"
        out += latencyChart()

        out += "<\(h)>Throughput over time</\(h)>\n"
        out += SVGChart.throughput(throughput)
        out += completionsChart()

        out += "<\(h)>Transfers</\(h)>\n<table><tbody>\n"
        for (name, value) in [
            ("requests", "\(requests)"), ("OK", "\(ok)"), ("failed", "\(failed)"), ("cancelled at the end", "\(cancelled)"),
            ("bytes received", "\(bytes) (\(Self.bytesText(bytes)))"), ("seconds", String(format: "%.3f", seconds)),
            ("connections opened", "\(connectionsOpened)"), ("connections reused", "\(connectionsReused)"),
            ("retries", "\(retryCount)"),
        ] {
            out += "<tr><th>\(e(name))</th><td class=\"num\">\(e(value))</td></tr>\n"
        }
        out += "</tbody></table>\n"
        out += Self.countTable("Errors by kind", errors, empty: "No errors.", heading: h)
        out += Self.countTable("Retries by kind", retries, empty: "No retries.", heading: h)
        out += Self.countTable("HTTP statuses", Dictionary(uniqueKeysWithValues: statuses.map { (String($0.key), $0.value) }), empty: "No response.", heading: h)

        out += "<\(h)>Per host</\(h)>\n<table><thead><tr><th>host</th><th>requests</th><th>OK</th><th>failed</th><th>bytes</th><th>retries</th><th>connections opened / reused</th><th>ttfb p50</th><th>total p50</th><th>total p99</th></tr></thead><tbody>\n"
        for host in hosts {
            let t = host.total.summary
            out += "<tr><td>\(e(host.host))</td><td class=\"num\">\(host.requests)</td><td class=\"num\">\(host.ok)</td><td class=\"num\">\(host.failed)</td>"
                + "<td class=\"num\">\(e(Self.bytesText(host.bytes)))</td><td class=\"num\">\(host.retries)</td>"
                + "<td class=\"num\">\(host.connectionsOpened) / \(host.connectionsReused)</td>"
                + "<td class=\"num\">\(Self.time(host.ttfb.summary.p50))</td><td class=\"num\">\(Self.time(t.p50))</td><td class=\"num\">\(Self.time(t.p99))</td></tr>\n"
        }
        return out + "</tbody></table>\n"
    }

    /// One line: when, the load, how it stopped.
    var description: String {
        var parts = [ISO8601DateFormatter().string(from: started)]
        switch options.load {
        case .concurrency(let n): parts.append("\(n) in flight")
        case .rate(let r, let limit): parts.append("\(Self.number(r)) requests a second, at most \(limit) in flight")
        }
        switch options.stop {
        case .repeats(let n): parts.append(n == 1 ? "each URL once" : "each URL \(n) times")
        case .duration(let d): parts.append(String(format: "for %.0f s", d.seconds))
        }
        if options.computesCRC { parts.append("CRC-32 computed") }
        parts.append(String(format: "%.2f s", seconds))
        return parts.joined(separator: " · ")
    }

    var rateValue: Double? {
        if case .rate(let r, _) = options.load { return r }
        return nil
    }

    func latencyChart() -> String {
        var series = [
            SVGChart.Series(name: "total", color: "#1f6fb2", points: total.distribution().map { ($0.percentile, $0.seconds * 1000) }),
            SVGChart.Series(name: "time to first byte", color: "#e07b00", points: ttfb.distribution().map { ($0.percentile, $0.seconds * 1000) }),
        ]
        if let uncorrected {
            series.append(SVGChart.Series(name: "service total", color: "#1f6fb2",
                                          points: uncorrected.total.distribution().map { ($0.percentile, $0.seconds * 1000) }, dashed: true))
        }
        guard series.contains(where: { !$0.points.isEmpty }) else { return "<p>No request ended OK: no latency to plot.</p>\n" }
        var chart = SVGChart(title: "Latency by percentile", xLabel: "percentile", yLabel: "milliseconds (log scale)", series: series,
                             xAxis: .percentile, logarithmic: true)
        // n samples tell percentiles up to about 1 - 1/n: no further.
        chart.percentileLimit = max(2, ceil(log10(Double(max(1, total.count)))))
        return chart.svg()
    }

    func completionsChart() -> String {
        guard throughput.count > 1 else { return "" }
        let points = SVGChart.steps(SVGChart.merged(throughput)) { $0.interval > 0 ? Double($0.completed) / $0.interval : 0 }
        return SVGChart(title: "Requests ended per second", xLabel: "seconds", yLabel: "requests / s",
                        series: [SVGChart.Series(name: "requests", color: "#2a9d5c", points: points)], filled: true).svg()
    }

    static func countTable(_ title: String, _ counts: [String: Int], empty: String, heading h: String = "h2") -> String {
        var out = "<\(h)>\(Manifest.escape(title))</\(h)>\n"
        guard !counts.isEmpty else { return out + "<p>\(Manifest.escape(empty))</p>\n" }
        out += "<table><tbody>\n"
        for (key, n) in counts.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
            out += "<tr><th>\(Manifest.escape(key))</th><td class=\"num\">\(n)</td></tr>\n"
        }
        return out + "</tbody></table>\n"
    }

    /// Seconds as µs, ms or s, three significant digits.
    package static func time(_ seconds: Double) -> String {
        if seconds == 0 { return "0" }
        if seconds < 1e-3 { return String(format: "%.0f µs", seconds * 1e6) }
        if seconds < 1 { return String(format: seconds < 0.01 ? "%.2f ms" : seconds < 0.1 ? "%.1f ms" : "%.0f ms", seconds * 1e3) }
        return String(format: seconds < 10 ? "%.2f s" : "%.1f s", seconds)
    }

    static func bytesText(_ n: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var v = Double(n)
        var u = 0
        while v >= 1000, u < units.count - 1 { v /= 1000; u += 1 }
        return u == 0 ? "\(n) B" : String(format: v < 10 ? "%.2f %@" : v < 100 ? "%.1f %@" : "%.0f %@", v, units[u])
    }

    static func rate(_ bytesPerSecond: Double) -> String { bytesText(Int64(bytesPerSecond)) + "/s" }

    static func number(_ v: Double) -> String { v == v.rounded() ? String(Int64(v)) : String(format: "%.2f", v) }
}
