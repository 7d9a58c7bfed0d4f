import Haul
import NIOCore
import NIOHTTP1

/// One connection of the overlay server: reads one request, checks its head, reads its body (when
/// the route takes one) within bounds, and hands it to the server's routes on a task of its own. One
/// request a connection (`Connection: close`): a streamed bundle ends with its connection, and closing
/// the connection is how a client stops one. There is therefore no keep-alive to time out: a
/// connection is idle only before its request is whole, which the deadlines below bound.
///
/// What a client must do, or lose the connection:
/// - send its whole head within ``OverlayServer/Configuration/headTimeout`` of connecting;
/// - never leave ``OverlayServer/Configuration/idleTimeout`` between two of its bytes until its
///   request is whole;
/// - send its whole body within ``OverlayServer/Configuration/bodyTimeout`` plus a second for every
///   ``OverlayServer/Configuration/minimumBodyRate`` bytes it announced (a `Content-Length` larger
///   than what is sent ends there).
///
/// Everything decided by the head is decided before a byte of the body is read: the `Host` (exactly
/// one, naming this server), the form of the target, and the key for the routes that need it. A body
/// is kept only for a route that takes one (a product list), only once the head has passed, and only
/// within the server's total for bodies in flight; any other body is dropped as it arrives.
final class OverlayHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: OverlayServer
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    /// Whether the body is kept (a route that takes one), and the bytes of the server's total it holds.
    private var keepsBody = false
    private var reserved = 0
    private var refused = false
    private var started = false
    /// The request's task and the stream a download writes into: both end when the connection does.
    private var task: Task<Void, Never>?
    private var stream: ChannelStream?
    /// When the request must be whole (the head's deadline, then the body's).
    private var deadline: Scheduled<Void>?

    init(server: OverlayServer) {
        self.server = server
    }

    func handlerAdded(context: ChannelHandlerContext) {
        arm(context, after: server.configuration.headTimeout, "the request's head")
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        release()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Closing the tab or cancelling the download: cancel every transfer of it, and wake its writer.
        deadline?.cancel()
        task?.cancel()
        stream?.close()
        if task == nil { release() }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? IdleStateHandler.IdleStateEvent, event == .read, !started {
            // Nothing from the client for the idle time, its request not yet whole.
            if head == nil || refused { context.close(promise: nil) } else { timeOut(context, "the request's body") }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func arm(_ context: ChannelHandlerContext, after seconds: Double, _ what: String) {
        deadline?.cancel()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) {
            let (handler, context) = bound.value
            guard !handler.started else { return }
            if handler.head == nil || handler.refused {
                // A head never finished: the client gets nothing, not even an answer to read.
                context.close(promise: nil)
            } else {
                handler.timeOut(context, what)
            }
        }
    }

    private func timeOut(_ context: ChannelHandlerContext, _ what: String) {
        guard !refused else { return context.close(promise: nil) }
        body = nil
        release()
        refuse(context, .requestTimeout, "\(what) did not arrive in time")
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused, !started else { return }
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            server.connections.headArrived(context.channel)
            if let problem = check(h) {
                return refuse(context, problem.status, problem.message)
            }
            let (route, _) = OverlayServer.target(h.uri)
            keepsBody = h.method == .POST && OverlayServer.routesTakingBody.contains(route)
            let length = h.headers.first(name: "Content-Length").flatMap(Int.init)
            if keepsBody, let length {
                if length > server.configuration.maximumUpload {
                    return refuse(context, .payloadTooLarge, "the request body (\(length) bytes) is larger than the limit of \(server.configuration.maximumUpload) bytes")
                }
                guard reserve(length) else { return busy(context) }
            }
            if h.headers.first(name: "Expect")?.lowercased() == "100-continue" {
                // Only now, the head accepted, is the client told to send its body.
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: .continue))), promise: nil)
            }
            let announced = Double(length ?? (keepsBody ? server.configuration.maximumUpload : 0))
            arm(context, after: server.configuration.bodyTimeout + announced / server.configuration.minimumBodyRate, "the request's body")
        case .body(var part):
            guard keepsBody else { return }
            let total = (body?.readableBytes ?? 0) + part.readableBytes
            if total > server.configuration.maximumUpload {
                body = nil
                release()
                return refuse(context, .payloadTooLarge, "the request body is larger than the limit of \(server.configuration.maximumUpload) bytes")
            }
            // A body without a Content-Length reserves as it arrives.
            if total > reserved, !reserve(total - reserved) {
                body = nil
                release()
                return busy(context)
            }
            if body == nil {
                body = part
            } else {
                body!.writeBuffer(&part)
            }
        case .end:
            guard let head else { return }
            started = true
            deadline?.cancel()
            let bytes = body.map { Array($0.readableBytesView) } ?? []
            body = nil
            let stream = ChannelStream(channel: context.channel)
            self.stream = stream
            let server = self.server
            let channel = context.channel
            let held = reserved
            reserved = 0
            task = Task(executorPreference: server.requestThreads) {
                await server.respond(to: head, body: bytes, channel: channel, stream: stream)
                server.releaseBody(held)
            }
        }
    }

    /// What is wrong with a request's head, decided before any of its body is read.
    private func check(_ h: HTTPRequestHead) -> (status: HTTPResponseStatus, message: String)? {
        // One Host, no more: which one a proxy in front would have used is anyone's guess.
        let hosts = h.headers["Host"]
        guard hosts.count <= 1 else { return (.badRequest, "\(hosts.count) Host headers: a request has one") }
        guard let host = hosts.first else { return (.badRequest, "no Host header: a request names the server it is for") }
        // DNS rebinding: a page of another site, under a name that resolves here, must not be answered.
        guard server.accepts(host: host) else {
            return (.forbidden, "Host \(OverlayServer.printable(host)) is not this server's name: open \(server.baseURL)")
        }
        // A target in absolute form (`http://127.0.0.1:8080/path`, as sent to a proxy) is served like
        // its path, when the name in it is this server's too.
        guard let authority = OverlayServer.authority(h.uri) ?? (h.uri.hasPrefix("/") ? host : nil) else {
            return (.badRequest, "the request's target is not a path (/…) nor an http:// address")
        }
        guard server.accepts(host: authority) else {
            return (.forbidden, "\(OverlayServer.printable(authority)) is not this server's name: open \(server.baseURL)")
        }
        let (route, query) = OverlayServer.target(h.uri)
        if OverlayServer.routesNeedingKey.contains(route) {
            let pairs = (try? OverlayQuery.pairs(query)) ?? []
            guard server.isKey(pairs.last(where: { $0.0 == "key" })?.1 ?? h.headers.first(name: "X-Haul-Key")) else {
                return (.forbidden, OverlayServer.keyNeeded)
            }
        }
        return nil
    }

    private func reserve(_ bytes: Int) -> Bool {
        guard server.reserveBody(bytes) else { return false }
        reserved += bytes
        return true
    }

    private func release() {
        server.releaseBody(reserved)
        reserved = 0
    }

    private func busy(_ context: ChannelHandlerContext) {
        var reply = Reply.text(.serviceUnavailable, "the server holds as many uploaded lists as it may at once: try again shortly")
        reply.headers.append(("Retry-After", "10"))
        refuse(context, reply)
    }

    private func refuse(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ message: String) {
        refuse(context, Reply.text(status, message))
    }

    private func refuse(_ context: ChannelHandlerContext, _ reply: Reply) {
        refused = true
        deadline?.cancel()
        let path = head.map { OverlayServer.target($0.uri).path } ?? "?"
        server.configuration.log("\(head?.method.rawValue ?? "?") \(path) \(reply.status.code)")
        OverlayServer.send(reply, on: context.channel)
        // The answer gets a few seconds to leave; a client that reads nothing loses the connection then.
        let channel = context.channel
        context.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
