import NIOCore
import NIOHTTP1

/// One connection of the loopback archive: answers requests in order, streaming product bodies as
/// fast as the client reads them (it writes only while the channel is writable), with the faults
/// the archive chose for each request.
final class ArchiveHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let archive: TestArchive
    private var head: HTTPRequestHead?
    private var body: TestArchive.BodyPlan?
    private var position: Int64 = 0
    private var keepAlive = true
    private var responding = false
    private var sent: Int64 = 0
    private var tickPending = false
    private static let chunk: Int64 = 64 << 10

    init(archive: TestArchive) {
        self.archive = archive
    }

    func channelActive(context: ChannelHandlerContext) {
        archive.connectionOpened()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        endResponse()
        body = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body:
            break
        case .end:
            guard let h = head else { return }
            head = nil
            respond(context, to: h)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { pump(context) }
        context.fireChannelWritabilityChanged()
    }

    private func respond(_ context: ChannelHandlerContext, to request: HTTPRequestHead) {
        var reply = archive.reply(to: request)
        if reply.delayMilliseconds > 0 {
            // An added latency: the answer goes out later, from the event loop's timer. A client sends
            // its next request on this connection only after this answer, so nothing overtakes it.
            let delay = reply.delayMilliseconds
            reply.delayMilliseconds = 0
            let bound = NIOLoopBound((self, context, reply), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(Int64(delay))) {
                let (handler, context, reply) = bound.value
                guard context.channel.isActive else { return }
                handler.send(reply, context, to: request)
            }
            return
        }
        send(reply, context, to: request)
    }

    private func send(_ reply: TestArchive.Reply, _ context: ChannelHandlerContext, to request: HTTPRequestHead) {
        keepAlive = request.isKeepAlive && !reply.closeAfter
        var headers = HTTPHeaders(reply.headers)
        if reply.body == nil, !headers.contains(name: "Content-Length"), !headers.contains(name: "Transfer-Encoding") {
            headers.add(name: "Content-Length", value: String(reply.text.count))
        }
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: reply.status, headers: headers))), promise: nil)
        archive.responseStarted()
        responding = true
        sent = 0
        if let plan = reply.body {
            body = plan
            position = plan.start
            pump(context)
        } else {
            if !reply.text.isEmpty, request.method != .HEAD {
                var buffer = context.channel.allocator.buffer(capacity: reply.text.count)
                buffer.writeBytes(reply.text)
                context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            }
            finish(context)
        }
    }

    /// Writes body chunks while the client keeps reading.
    private func pump(_ context: ChannelHandlerContext) {
        guard let plan = body, !tickPending else { return }
        if plan.held {
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            let released = archive.mayRelease {
                eventLoop.execute {
                    let (handler, context) = bound.value
                    guard handler.body != nil else { return }
                    handler.body?.held = false
                    handler.pump(context)
                }
            }
            guard released else {
                context.flush()
                return
            }
            body?.held = false
        }
        while context.channel.isWritable {
            if position >= plan.end {
                finish(context)
                return
            }
            if let cut = plan.cutAt, position >= cut {
                body = nil
                closeAfterFlush(context)
                return
            }
            if let stall = plan.stallAt, position >= stall {
                // Hold the connection open and send nothing more.
                context.flush()
                return
            }
            var limit = plan.end
            if let cut = plan.cutAt { limit = min(limit, cut) }
            if let stall = plan.stallAt { limit = min(limit, stall) }
            var n = min(Self.chunk, limit - position)
            if let rate = plan.bytesPerSecond { n = min(n, Int64(max(1, rate / 10))) }
            var buffer = context.channel.allocator.buffer(capacity: Int(n))
            plan.content.forEachSlice(position..<position + n) { buffer.writeBytes($0) }
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            position += n
            sent += n
            if plan.bytesPerSecond != nil {
                if position >= plan.end || plan.cutAt.map({ position >= $0 }) == true {
                    continue
                }
                context.flush()
                tickPending = true
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .milliseconds(100)) {
                    let (handler, context) = bound.value
                    handler.tickPending = false
                    handler.pump(context)
                }
                return
            }
        }
        context.flush()
    }

    private func finish(_ context: ChannelHandlerContext) {
        body = nil
        endResponse()
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let promise = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            promise.futureResult.whenComplete { _ in bound.value.close(promise: nil) }
        }
    }

    /// Sends what is written, then closes the connection without ending the response.
    private func closeAfterFlush(_ context: ChannelHandlerContext) {
        endResponse()
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(capacity: 0)))), promise: promise)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        promise.futureResult.whenComplete { _ in bound.value.close(promise: nil) }
    }

    private func endResponse() {
        guard responding else { return }
        responding = false
        archive.responseEnded(sent: sent)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        endResponse()
        context.close(promise: nil)
    }
}
