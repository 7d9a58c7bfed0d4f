import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns the first Ctrl-C (SIGINT) or SIGTERM into a graceful stop: `action` runs once, the download
/// cancels and still writes its manifest. A second signal ends the process at once with status 130.
final class Interrupt: @unchecked Sendable {
    private var sources: [any DispatchSourceSignal] = []
    private var count = 0
    private let queue = DispatchQueue(label: "haul.signals")

    init(_ action: @escaping @Sendable () -> Void) {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [unowned self] in
                count += 1
                if count == 1 {
                    Terminal.standardError("\r\u{1B}[2K")
                    Terminal.note("interrupted: stopping transfers and writing the manifest (Ctrl-C again to quit at once)")
                    action()
                } else {
                    exit(130)
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Restores the default handling.
    func cancel() {
        queue.sync {
            for source in sources { source.cancel() }
            sources.removeAll()
        }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
