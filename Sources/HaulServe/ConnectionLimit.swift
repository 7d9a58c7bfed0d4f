import Foundation
import Haul
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Keeps the server's open connections under a cap: the listening channel's handler that stops
/// accepting while the cap is reached, so the connections past it wait in the kernel's backlog
/// (holding no descriptor of this process) until one closes.
///
/// # Why the cap is below the descriptor limit, with room to spare
/// The process must never run out of file descriptors, and not only because a new connection or a
/// transfer's socket could not be opened then. On Linux, libdispatch (under Foundation and the ZIP
/// writer's queues) keeps its own pool of worker threads and, once a second while any of its queues
/// has work waiting, opens `/proc/<tid>/stat` of each worker to count the runnable ones; when that
/// `open` fails, as it does with `EMFILE` once the table is full, it stops the process on purpose
/// with a trap instruction (SIGILL, in `_dispatch_workq_monitor_pools`). Idle connections that
/// filled the descriptor table took the server down that way, in seconds, whenever a download was
/// running. So connections are capped well below the limit,
/// leaving room for every download's transfers, spool files and the runtime's own descriptors;
/// ``OverlayServer/raiseDescriptorLimit()`` first lifts the soft limit to the hard one.
final class ConnectionLimit: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel
    typealias OutboundIn = Never

    private let maximum: Int
    private let counter: OpenConnections
    /// A `read` (an accept) held back while the cap is reached.
    private var pendingRead = false
    private var retry: Scheduled<Void>?

    init(maximum: Int, counter: OpenConnections) {
        self.maximum = maximum
        self.counter = counter
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        counter.opened(child)
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        child.closeFuture.whenComplete { _ in
            loop.execute {
                let (handler, context) = bound.value
                handler.counter.closed(child)
                if handler.pendingRead, handler.counter.count < handler.maximum {
                    handler.pendingRead = false
                    context.read()
                }
            }
        }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        guard counter.count >= maximum else { return context.read() }
        // At the cap: no accept until a connection closes (its close issues the read held here). The
        // connection that has waited longest, over a second, for its request's head makes room: a
        // flood of connections that send nothing cannot keep out a client that sends its request.
        pendingRead = true
        if let idle = counter.longestWaiting(atLeast: .seconds(1)) {
            idle.close(promise: nil)
        } else {
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            retry?.cancel()
            retry = context.eventLoop.scheduleTask(in: .seconds(1)) {
                let (handler, context) = bound.value
                if handler.pendingRead {
                    handler.pendingRead = false
                    handler.read(context: context)
                }
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        retry?.cancel()
    }
}

extension OverlayServer {
    /// Raises the process's soft limit on open descriptors to its hard limit (the kernel's
    /// `RLIMIT_NOFILE`), and returns the limit in force.
    @discardableResult
    public static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: min(limit.rlim_cur, rlim_t(Int32.max)))
    }

    /// The process's limit on open descriptors now.
    static func descriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return Int(clamping: min(limit.rlim_cur, rlim_t(Int32.max)))
    }

    /// The most transfers each of `downloads` downloads may run so that their descriptors (three a
    /// transfer, as ``connectionCap`` counts them) leave a quarter of `descriptorLimit`, and 64, for
    /// connections and the runtime.
    public static func transfersThatFit(descriptorLimit: Int, downloads: Int) -> Int {
        let room = descriptorLimit - max(descriptorLimit / 4, 64) - 64
        return max(1, room / (3 * max(1, downloads)))
    }

    /// The most connections this process can hold open and still keep descriptors free for its
    /// downloads and the runtime: the descriptor limit less a reserve of 64 plus three per transfer
    /// of every download that may run at once (its socket, a spool file, a margin), and never more
    /// than `requested`. A quarter of the limit at least (and 8), when the reserve would leave less.
    static func connectionCap(descriptorLimit: Int, requested: Int, downloads: Int, parallel: Int) -> Int {
        let reserve = 64 + downloads * 3 * max(1, parallel)
        let room = max(descriptorLimit - reserve, descriptorLimit / 4, 8)
        return max(1, min(requested, room))
    }
}
