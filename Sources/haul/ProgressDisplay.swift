import Foundation
import ArgumentParser
import Haul

/// How progress is shown.
enum ProgressMode: String, ExpressibleByArgument, CaseIterable {
    /// A bar on a terminal; nothing but the summary otherwise.
    case auto
    /// A live bar on standard error, redrawn at most every 100 ms.
    case bar
    /// One JSON event a line on standard output (standard error when the archive goes there).
    case json
    /// Nothing but the summary.
    case none

    /// `auto` decided for this process.
    var resolved: ProgressMode {
        self == .auto ? (Terminal.standardErrorIsTerminal ? .bar : .none) : self
    }
}

/// Shows a download's events: a bar, JSON lines, or nothing.
struct ProgressDisplay {
    let mode: ProgressMode
    /// Where JSON lines go: 1, or 2 when standard output carries the archive.
    let jsonDescriptor: Int32
    private var lastDraw: ContinuousClock.Instant?
    private var drawn = false

    /// -v: a line per finished transfer.
    let verbose: Bool

    init(mode: ProgressMode, jsonDescriptor: Int32 = 1, verbose: Bool = false) {
        self.mode = mode.resolved
        self.jsonDescriptor = jsonDescriptor
        self.verbose = verbose
    }

    /// `-v`'s line: `URL: HTTP 200, 1,000 bytes in 0.01 s, 0 retries` (and the status when not OK).
    static func transferLine(_ t: DownloadEvent.TransferRecord) -> String {
        let retries = max(0, t.attempts - 1)
        var line = "\(t.url): " + (t.httpStatus == 0 ? "no HTTP status" : "HTTP \(t.httpStatus)")
        line += ", \(Format.count(Int(t.bytes), "byte")) in \(Format.seconds(t.seconds)), \(Format.count(retries, "retry", plural: "retries"))"
        if t.status != .ok { line += " — " + t.status.text }
        return line
    }

    mutating func show(_ event: DownloadEvent) {
        switch (mode, event) {
        case (.bar, .progress(let p)):
            let now = ContinuousClock.now
            if let lastDraw, lastDraw.duration(to: now) < .milliseconds(100), p.filesDone < p.filesTotal { return }
            lastDraw = now
            Terminal.standardError("\r\u{1B}[2K" + Self.bar(p, width: Terminal.width))
            drawn = true
        case (.json, .progress(let p)):
            Terminal.emit(JSONLine.progress(p) + "\n", to: jsonDescriptor)
        case (.json, .file(let row)):
            Terminal.emit(JSONLine.file(row) + "\n", to: jsonDescriptor)
        case (.json, .warning(let text)):
            Terminal.emit(JSONLine.object([("event", JSONLine.string("warning")), ("message", JSONLine.string(text))]) + "\n", to: jsonDescriptor)
        case (_, .warning(let text)):
            finish()
            Terminal.warning(text)
        case (_, .transfer(let record)) where verbose:
            finish()
            Terminal.note(Self.transferLine(record))
        default:
            break
        }
    }

    /// Clears the bar before the summary is printed.
    mutating func finish() {
        if drawn { Terminal.standardError("\r\u{1B}[2K") }
        drawn = false
    }

    /// `  120/300 files  45.6 MB/120 MB  38.2 MB/s  ETA 0:02  [#######.........]`
    static func bar(_ p: DownloadEvent.Progress, width: Int) -> String {
        var text = " \(p.filesDone)/\(p.filesTotal) file\(p.filesTotal == 1 ? "" : "s")"
        if p.filesFailed > 0 { text += " (\(p.filesFailed) failed)" }
        text += "  " + Format.bytes(p.bytesDone)
        if let total = p.bytesTotal { text += "/" + Format.bytes(total) }
        text += "  " + Format.rate(p.bytesPerSecond)
        let fraction: Double
        if let total = p.bytesTotal, total > 0 {
            fraction = min(1, Double(p.bytesDone) / Double(total))
            let left = Double(total - p.bytesDone)
            if p.filesDone == p.filesTotal {
                text += "  done"
            } else {
                text += "  ETA " + (p.bytesPerSecond > 0 ? Format.duration(max(0, left) / p.bytesPerSecond) : "--:--")
            }
        } else {
            fraction = p.filesTotal > 0 ? Double(p.filesDone) / Double(p.filesTotal) : 1
        }
        text += "  \(p.activeTransfers) active"
        // "  [" + cells + "]", and one column spare so the cursor never wraps.
        let cells = min(40, width - 1 - text.count - 4)
        if cells >= 10 {
            let filled = Int(Double(cells) * fraction)
            text += "  [" + String(repeating: "#", count: filled) + String(repeating: ".", count: cells - filled) + "]"
        }
        return String(text.prefix(max(1, width - 1)))
    }
}

/// Progress as one JSON object a line, for programs.
enum JSONLine {
    /// A JSON string, or `null`.
    static func optional(_ text: String?) -> String { text.map(string) ?? "null" }

    static func progress(_ p: DownloadEvent.Progress) -> String {
        var fields = [
            ("event", string("progress")), ("files_done", String(p.filesDone)), ("files_total", String(p.filesTotal)),
            ("files_failed", String(p.filesFailed)), ("bytes_done", String(p.bytesDone)),
        ]
        fields.append(("bytes_total", p.bytesTotal.map(String.init) ?? "null"))
        fields += [
            ("bytes_per_second", String(Int64(p.bytesPerSecond.isFinite ? p.bytesPerSecond : 0))),
            ("active", String(p.activeTransfers)), ("elapsed", Format.fixed(p.elapsed.seconds, 3)),
        ]
        return object(fields)
    }

    static func file(_ row: Manifest.Row) -> String {
        object([
            ("event", string("file")), ("uri", string(row.uri)), ("file", string(row.file)), ("status", string(row.statusText)),
            ("size", row.size.map(String.init) ?? "null"),
            ("crc32", row.crc32.map { crc in string(String(repeating: "0", count: 8 - String(crc, radix: 16).count) + String(crc, radix: 16)) } ?? "null"),
            ("last_modified", row.lastModified.map(String.init) ?? "null"), ("etag", row.etag.map(string) ?? "null"),
            ("attempts", String(row.attempts)),
            ("seconds", Format.fixed(row.seconds, 3)), ("note", string(row.note)), ("source", optional(row.source?.rawValue)),
        ])
    }

    static func summary(_ r: DownloadReport) -> String {
        object([
            ("event", string("summary")), ("ok", String(r.ok)), ("skipped", String(r.skipped)),
            ("unchanged", String(r.unchanged)), ("replaced", String(r.replaced)), ("failed", String(r.failed)),
            ("cancelled", String(r.cancelled)), ("duplicates", String(r.duplicates)), ("excluded", String(r.excluded)),
            ("from_cloud", String(r.fromCloud)), ("from_archive", String(r.fromArchive)), ("lookup_calls", String(r.lookupCalls)),
            ("bytes_received", String(r.bytesReceived)), ("seconds", Format.fixed(r.seconds, 3)),
            ("peak_buffered_bytes", String(r.peakBufferedBytes)), ("memory_pauses", String(r.memoryPauses)),
            ("peak_rss_bytes", ResidentMemory.peak.map(String.init) ?? "null"),
            ("root", string(r.root)), ("exit_status", String(r.exitStatus)),
        ])
    }

    static func object(_ fields: [(String, String)]) -> String { JSONText.object(fields) }

    static func string(_ s: String) -> String { JSONText.quoted(s) }
}

/// The process's resident memory as the kernel counts it.
enum ResidentMemory {
    /// The most this process has had resident (`VmHWM` of `/proc/self/status`), in bytes; `nil` where
    /// the system does not say.
    static var peak: Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kib = Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        else { return nil }
        return kib << 10
    }
}
