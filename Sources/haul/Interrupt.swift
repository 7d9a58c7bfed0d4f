import Dispatch
import Haul
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns the first Ctrl-C (SIGINT) or SIGTERM into a graceful stop: `action` runs once, the download
/// cancels and still writes its manifest. A second signal ends the process at once with status 130.
final class Interrupt: @unchecked Sendable {
    private let sources = Locked<[any DispatchSourceSignal]>([])
    // Touched only on `queue`, where the handlers run.
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
            sources.withLock { $0.append(source) }
        }
    }

    /// Restores the default handling. Never waits: it is called from tasks, whose threads must not block.
    func cancel() {
        for source in sources.withLock({ s in defer { s = [] }; return s }) { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}

extension Interrupt {
    /// Runs `work` so that the first Ctrl-C or SIGTERM cancels it (a download then stops its transfers
    /// and still writes its manifest), and so does cancelling the calling task.
    static func cancelling<Result: Sendable>(_ work: @escaping @Sendable () async throws -> Result) async throws -> Result {
        // A task of its own, awaited here: the signal handler can cancel it, not the caller's task.
        let running = Task { try await work() }
        let interrupt = Interrupt { running.cancel() }
        defer { interrupt.cancel() }
        return try await withTaskCancellationHandler {
            try await running.value
        } onCancel: {
            running.cancel()
        }
    }
}
