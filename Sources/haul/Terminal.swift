import Foundation
import Haul
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writing to the terminal: errors and the summary on standard error, unbuffered.
enum Terminal {
    static func standardError(_ text: String) { emit(text, to: 2) }

    static func standardOutput(_ text: String) { emit(text, to: 1) }

    /// Writes all of `text`, retrying interrupted and partial writes; gives up silently on a closed pipe.
    static func emit(_ text: String, to descriptor: Int32) {
        _ = Array(text.utf8).withUnsafeBytes { FileIO.writeAll(descriptor, $0) }
    }

    static func error(_ message: String) {
        standardError("haul: error: \(message)\n")
    }

    static func note(_ message: String) {
        if !quiet { standardError("haul: \(message)\n") }
    }

    static func warning(_ message: String) {
        if !quiet { standardError("haul: warning: \(message)\n") }
    }

    /// -q: notes and warnings are not shown (errors always are). Set once, before anything runs.
    nonisolated(unsafe) static var quiet = false

    static var standardErrorIsTerminal: Bool { isatty(2) == 1 }
    static var standardInputIsTerminal: Bool { isatty(0) == 1 }

    /// Asks on standard error and reads one line from the terminal on standard input without echoing
    /// it. `nil` when the answer is empty or input ends; echo is restored whatever happens.
    static func readSecret(_ prompt: String) -> String? {
        standardError(prompt)
        var saved = termios()
        let canHide = tcgetattr(0, &saved) == 0
        if canHide {
            var hidden = saved
            hidden.c_lflag &= ~tcflag_t(ECHO)
            hidden.c_lflag |= tcflag_t(ECHONL)
            _ = tcsetattr(0, TCSAFLUSH, &hidden)
        }
        defer { if canHide { _ = tcsetattr(0, TCSAFLUSH, &saved) } }
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while bytes.count < 16 << 10 {
            let n = read(0, &byte, 1)
            if n < 0, errno == EINTR { continue }
            if n <= 0 || byte == 0x0A || byte == 0x0D { break }
            bytes.append(byte)
        }
        if !canHide { standardError("\n") }
        let text = String(decoding: bytes, as: UTF8.self)
        return text.trimmingCharacters(in: .whitespaces).isEmpty ? nil : text
    }
    static var standardOutputIsTerminal: Bool { isatty(1) == 1 }

    /// Columns of the terminal on standard error, 80 when unknown.
    static var width: Int {
        var size = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }
}

/// Human-readable quantities.
enum Format {
    static func bytes(_ n: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB", "PB"]
        var value = Double(n)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(n) B" : fixed(value, value < 10 ? 2 : value < 100 ? 1 : 0) + " " + units[unit]
    }

    static func rate(_ bytesPerSecond: Double) -> String {
        bytes(Int64(bytesPerSecond.isFinite ? max(0, bytesPerSecond) : 0)) + "/s"
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--:--" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600):" + two((s / 60) % 60) + ":" + two(s % 60) }
        return "\(s / 60):" + two(s % 60)
    }

    static func seconds(_ value: Double) -> String {
        fixed(value, value < 10 ? 2 : 1) + " s"
    }

    static func fixed(_ value: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (value * scale).rounded()
        let whole = Int64(scaled / scale)
        guard digits > 0 else { return String(whole) }
        let fraction = Int64(scaled) - whole * Int64(scale)
        let text = String(fraction)
        return "\(whole)." + String(repeating: "0", count: digits - text.count) + text
    }

    private static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// "1 file", "2 files", "1,024 files": a count with its noun in agreement.
    static func count(_ n: Int, _ noun: String, plural: String? = nil) -> String {
        "\(n.grouped) \(n == 1 ? noun : plural ?? noun + "s")"
    }
}
