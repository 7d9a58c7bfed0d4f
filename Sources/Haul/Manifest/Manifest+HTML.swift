extension Manifest {
    /// The manifest as a standalone HTML page: a table a browser shows as is, every value escaped.
    package func html(title: String) -> String {
        var out = ""
        html(title: title) { out += $0 }
        return out
    }

    /// The same page, a piece at a time (a row a piece): for a length or a digest without holding it all.
    func html(title: String, _ piece: (String) -> Void) {
        var out = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>\(Self.escape(title)) — download manifest</title>
        <style>
        body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; }
        table { border-collapse: collapse; }
        th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
        th { background: #eee; position: sticky; top: 0; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        tr.failed td { background: #fde8e8; } tr.cancelled td, tr.excluded td { background: #fff6e0; }
        h2 { font-size: 1.1em; } svg { max-width: 100%; height: auto; display: block; margin: 0.4em 0 1.2em; }
        </style>
        </head>
        <body>
        <h1>\(Self.escape(title))</h1>
        <p>\(summaryLine())</p>
        \(throughputSection)<table>
        <thead><tr>
        """
        out += Manifest.columns.map { "<th>\(Self.escape($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
        piece(out)
        for row in rows {
            let kind: String
            switch row.status {
            case .failed: kind = " class=\"failed\""
            case .cancelled: kind = " class=\"cancelled\""
            case .excluded: kind = " class=\"excluded\""
            default: kind = ""
            }
            let cells = fields(row).enumerated().map { index, value in
                Manifest.numericColumns.contains(index) ? "<td class=\"num\">\(Self.escape(value))</td>" : "<td>\(Self.escape(value))</td>"
            }
            piece("<tr\(kind)>" + cells.joined() + "</tr>\n")
        }
        piece("</tbody>\n</table>\n</body>\n</html>\n")
    }

    /// The throughput-over-time plot (inline SVG, as `haul bench --html` draws it), when the run lasted
    /// long enough to have one.
    var throughputSection: String {
        guard throughput.count > 1, !omitsTransferDetails else { return "" }
        return "<h2>Throughput over time</h2>\n" + SVGChart.throughput(throughput)
    }

    func summaryLine() -> String {
        var ok = 0, failed = 0, duplicate = 0, excluded = 0, cancelled = 0
        for row in rows {
            switch row.status {
            case .ok: ok += 1
            case .failed: failed += 1
            case .duplicate: duplicate += 1
            case .excluded: excluded += 1
            case .cancelled: cancelled += 1
            }
        }
        return "\(ok) OK, \(failed) failed, \(duplicate) duplicate, \(excluded) excluded, \(cancelled) cancelled."
    }

    /// Escapes text for HTML element content and attribute values.
    package static func escape(_ text: String) -> String {
        // Byte scan first: most values have nothing to escape, and a manifest has a million of them.
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">")
            || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "'") }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
