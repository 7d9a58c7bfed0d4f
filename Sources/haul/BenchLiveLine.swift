import Foundation
import Haul

/// What `haul bench` shows while it runs: one line on standard error, redrawn at each throughput
/// sample (every 250 ms), on a terminal; or one JSON event a line on standard output (`--progress json`).
final class BenchLiveLine: Sendable {
    let mode: ProgressMode
    private let drawn = Locked(false)

    init(mode: ProgressMode) {
        self.mode = mode
    }

    func show(_ p: BenchProgress) {
        switch mode {
        case .bar:
            var line = "\(Format.seconds(p.seconds))  \(p.done.grouped) done"
            if p.failed > 0 { line += ", \(p.failed.grouped) failed" }
            line += "  \(Format.bytes(p.bytes))  \(Format.rate(p.bytesPerSecond))  \(p.inFlight.grouped) in flight"
            drawn.withLock { drawn in
                Terminal.standardError("\r\u{1B}[2K" + String(line.prefix(max(20, Terminal.width - 1))))
                drawn = true
            }
        case .json:
            Terminal.standardOutput(JSONText.object([
                ("event", JSONText.quoted("progress")), ("seconds", String(p.seconds)), ("done", String(p.done)),
                ("failed", String(p.failed)), ("bytes", String(p.bytes)), ("bytes_per_second", String(p.bytesPerSecond.rounded())),
                ("in_flight", String(p.inFlight)),
            ]) + "\n")
        case .auto, .none:
            break
        }
    }

    /// Clears the line, before the summary is printed.
    func finish() {
        drawn.withLock { drawn in
            if drawn { Terminal.standardError("\r\u{1B}[2K") }
            drawn = false
        }
    }
}
