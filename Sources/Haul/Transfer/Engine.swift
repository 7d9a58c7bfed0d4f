import CCurl
import CHaulSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a scoped transfer engine: one thread drives a libcurl multi handle for every transfer
/// started through `engine`, and is stopped and joined when `body` returns or throws.
///
/// - Parameters:
///   - configuration: Concurrency, timeouts, retries, memory.
///   - body: Uses the engine; transfers still running when it returns are cancelled.
/// - Returns: What `body` returns.
/// - Throws: What `body` throws, or ``HaulError`` (`engine`) when libcurl cannot start.
public func withEngine<Result: Sendable>(
    _ configuration: Configuration = Configuration(),
    _ body: (Engine) async throws -> Result
) async throws -> Result {
    let engine = try Engine(configuration: configuration)
    do {
        let result = try await body(engine)
        await engine.shutdown()
        return result
    } catch {
        await engine.shutdown()
        throw error
    }
}

/// A libcurl multi handle and the one thread allowed to touch it.
///
/// Tasks never call libcurl: they post commands (start, cancel, resume) to a lock-protected inbox and
/// wake the thread. On Linux the thread sleeps in `epoll_wait` on the sockets libcurl asks it to watch
/// (its socket callback) and an eventfd the posts write, and drives libcurl with
/// `curl_multi_socket_action` for each ready socket and when libcurl's timer (its timer callback) is
/// due, so a turn of the loop costs in proportion to the sockets that are ready, not to the transfers
/// in flight. Elsewhere it runs `curl_multi_perform` and sleeps in `curl_multi_poll`, woken by
/// `curl_multi_wakeup`. Callbacks find their transfer, or the engine, through the `…DATA` pointer;
/// nothing captures a closure.
public final class Engine: Sendable {
    public let configuration: Configuration
    let core: EngineCore
    /// Which hosts answered, and which never could be reached (``Configuration/unreachableAfter``).
    let hosts: HostHealth
    /// The connections products fetched in segments share (``Configuration/Segmentation/sharedConnections``).
    let segmentShares = SegmentShares()

    init(configuration: Configuration) throws {
        self.configuration = configuration
        self.core = try EngineCore(configuration: configuration)
        self.hosts = HostHealth(limit: configuration.unreachableAfter)
    }

    /// Runs one HTTP GET attempt into `sink`. Cancelling the calling task stops it.
    ///
    /// - Returns: The outcome: status, bytes, validators, or why it stopped (`cancelled` when the task was).
    package func attempt(_ request: AttemptRequest, into sink: any TransferSink, counter: ByteCounter? = nil) async -> AttemptOutcome {
        let transfer = Transfer(request: request, sink: sink, counter: counter)
        let outcome = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                transfer.continuation = continuation
                core.post(.start(transfer))
            }
        } onCancel: {
            transfer.cancelled.store(true, ordering: .sequentiallyConsistent)
            core.post(.cancel(transfer))
        }
        _ = transfer.ended.load(ordering: .acquiring)  // pairs with finish()
        return outcome
    }

    /// Easy handles alive (running or pooled); zero once the engine has shut down.
    package var liveHandles: Int { core.liveHandles.load(ordering: .sequentiallyConsistent) }
    /// Whether the engine has stopped and joined its thread (after its scope ended).
    package var isShutDown: Bool { core.isShutDown }
    /// Transfers on the wire now.
    public var activeTransfers: Int { core.activeCount.load(ordering: .relaxed) }
    /// Transfers paused now because their sink could not take more (memory, a slow disk).
    package var pausedTransfers: Int { core.pausedCount.value.load(ordering: .relaxed) }

    func shutdown() async {
        await core.shutdown()
    }
}
