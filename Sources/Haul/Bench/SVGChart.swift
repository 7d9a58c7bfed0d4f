import Foundation

/// A line chart as inline SVG: axes, ticks, a legend, one polyline per series.
///
/// Written here rather than taken from a plotting library because the reports it serves (`haul bench
/// --html`, a download's `manifest.html`) must open anywhere with no network and no script: a page of
/// plain SVG is all a browser needs, and a few hundred lines of drawing are less than a dependency.
struct SVGChart {
    struct Series {
        var name: String
        var color: String
        var points: [(x: Double, y: Double)]
        var dashed = false
    }

    /// How the horizontal axis maps values: linear, or HdrHistogram's percentile axis, where a
    /// percentile p is drawn at log10(1 / (1 - p/100)), so 90 %, 99 %, 99.9 % are equally spaced.
    enum XAxis {
        case linear
        case percentile
    }

    var title: String
    var xLabel: String
    var yLabel: String
    var series: [Series]
    var xAxis: XAxis = .linear
    /// A logarithmic vertical axis (powers of ten), for latencies whose tail is a thousand times the median.
    var logarithmic = false
    /// Shade the area under the first series.
    var filled = false
    var yFormat: (Double) -> String = { SVGChart.short($0) }
    var width = 760.0
    var height = 300.0

    private let left = 64.0, right = 34.0, top = 34.0, bottom = 46.0

    func svg() -> String {
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let xs = series.flatMap { $0.points.map { mapX($0.x) } }
        let ys = series.flatMap { $0.points.map(\.y) }
        let xMin = xAxis == .percentile ? 0 : min(0, xs.min() ?? 0)
        var xMax = xs.max() ?? 1
        if xAxis == .percentile { xMax = max(2, min(xMax, percentileLimit)) }  // 99 % at least
        if xMax <= xMin { xMax = xMin + 1 }
        let yTicks: [Double]
        if logarithmic {
            let positive = ys.filter { $0 > 0 }
            let low = floor(log10(positive.min() ?? 1)), high = max(low + 1, ceil(log10(positive.max() ?? 10)))
            yTicks = stride(from: low, through: high, by: 1).map { pow(10, $0) }
        } else {
            yTicks = Self.ticks(upTo: max(ys.max() ?? 1, 1e-12))
        }
        let yMin = logarithmic ? yTicks.first ?? 1 : 0
        let yMax = yTicks.last ?? 1
        func px(_ x: Double) -> Double { left + (mapX(x) - xMin) / (xMax - xMin) * plotWidth }
        func pxMapped(_ m: Double) -> Double { left + (m - xMin) / (xMax - xMin) * plotWidth }
        func py(_ y: Double) -> Double {
            guard logarithmic else { return top + plotHeight - y / yMax * plotHeight }
            let v = log10(max(y, yMin))
            return top + plotHeight - (v - log10(yMin)) / (log10(yMax) - log10(yMin)) * plotHeight
        }

        var out = "<svg role=\"img\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"system-ui, sans-serif\" font-size=\"11\">\n"
        out += "<title>\(Manifest.escape(title))</title>\n"
        out += "<text x=\"\(f(left))\" y=\"18\" font-size=\"13\" font-weight=\"600\">\(Manifest.escape(title))</text>\n"
        // Grid and y ticks.
        for tick in yTicks {
            let y = py(tick)
            out += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(width - right))\" y2=\"\(f(y))\" stroke=\"#e3e3e3\"/>"
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\" fill=\"#555\">\(Manifest.escape(yFormat(tick)))</text>\n"
        }
        // X ticks.
        let xTicks: [(Double, String)]
        switch xAxis {
        case .linear:
            xTicks = Self.ticks(from: xMin, upTo: xMax).map { ($0, Self.short($0)) }
            for (value, label) in xTicks where value <= xMax {
                let x = pxMapped(value)
                out += "<line x1=\"\(f(x))\" y1=\"\(f(top + plotHeight))\" x2=\"\(f(x))\" y2=\"\(f(top + plotHeight + 4))\" stroke=\"#888\"/>"
                out += "<text x=\"\(f(x))\" y=\"\(f(top + plotHeight + 16))\" text-anchor=\"middle\" fill=\"#555\">\(label)</text>\n"
            }
        case .percentile:
            let labels = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"]
            for (k, label) in labels.enumerated() where Double(k) <= xMax + 1e-9 {
                let x = pxMapped(Double(k))
                out += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + plotHeight + 4))\" stroke=\"#e3e3e3\"/>"
                out += "<text x=\"\(f(x))\" y=\"\(f(top + plotHeight + 16))\" text-anchor=\"middle\" fill=\"#555\">\(label)</text>\n"
            }
        }
        out += "<line x1=\"\(f(left))\" y1=\"\(f(top + plotHeight))\" x2=\"\(f(width - right))\" y2=\"\(f(top + plotHeight))\" stroke=\"#888\"/>"
        out += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotHeight))\" stroke=\"#888\"/>\n"
        out += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\" fill=\"#333\">\(Manifest.escape(xLabel))</text>\n"
        out += "<text transform=\"translate(14 \(f(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\" fill=\"#333\">\(Manifest.escape(yLabel))</text>\n"
        // Series.
        for (n, s) in series.enumerated() where !s.points.isEmpty {
            let shown = xAxis == .percentile ? s.points.filter { mapX($0.x) <= xMax + 1e-9 } : s.points
            let coordinates = shown.map { "\(f(px($0.x))),\(f(py($0.y)))" }
            if n == 0, filled, let first = shown.first, let last = shown.last {
                let area = ["\(f(px(first.x))),\(f(py(yMin)))"] + coordinates + ["\(f(px(last.x))),\(f(py(yMin)))"]
                out += "<polygon points=\"\(area.joined(separator: " "))\" fill=\"\(s.color)\" fill-opacity=\"0.15\" stroke=\"none\"/>\n"
            }
            out += "<polyline points=\"\(coordinates.joined(separator: " "))\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.8\" stroke-linejoin=\"round\"\(s.dashed ? " stroke-dasharray=\"5 3\"" : "")/>\n"
        }
        // Legend, top right.
        var x = width - right
        for s in series.reversed() where series.count > 1 {
            let textWidth = Double(s.name.count) * 6.2
            x -= textWidth + 26
            out += "<line x1=\"\(f(x))\" y1=\"14\" x2=\"\(f(x + 16))\" y2=\"14\" stroke=\"\(s.color)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"5 3\"" : "")/>"
            out += "<text x=\"\(f(x + 20))\" y=\"18\" fill=\"#333\">\(Manifest.escape(s.name))</text>\n"
        }
        return out + "</svg>\n"
    }

    /// How far the percentile axis goes: as far as the samples can tell (100 samples tell 99 %, not
    /// 99.9 %), and at most 99.9999 %.
    var percentileLimit = 6.0

    private func mapX(_ x: Double) -> Double {
        switch xAxis {
        case .linear: return x
        case .percentile:
            let p = min(x, 99.9999) / 100
            return log10(1 / (1 - p))
        }
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }

    /// Round ticks from 0 to at least `maximum`: 1, 2 or 5 times a power of ten apart, about five.
    static func ticks(from minimum: Double = 0, upTo maximum: Double) -> [Double] {
        let span = max(maximum - minimum, 1e-12)
        let raw = span / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var ticks: [Double] = []
        var t = (minimum / step).rounded(.down) * step
        while t < maximum + step * 0.999 {
            ticks.append(t)
            t += step
            if ticks.count > 50 { break }
        }
        return ticks
    }

    /// A number in few characters: 1.5k, 20M, 0.25.
    static func short(_ v: Double) -> String {
        let a = abs(v)
        if a == 0 { return "0" }
        for (scale, suffix) in [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")] where a >= scale {
            return trim(v / scale) + suffix
        }
        return trim(v)
    }

    private static func trim(_ v: Double) -> String {
        var s = String(format: abs(v) >= 100 ? "%.0f" : abs(v) >= 10 ? "%.1f" : "%.2f", v)
        if s.contains(".") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        return s
    }
}
