import Haul
import NIOCore
import NIOHTTP1

/// One connection of the overlay server: reads one request (its body bounded), checks its `Host`,
/// and hands it to the server's routes on a task of its own. One request a connection
/// (`Connection: close`): a streamed bundle ends with its connection, and closing the connection
/// is how a client stops one.
final class OverlayHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: OverlayServer
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var refused = false
    private var started = false
    /// The request's task and the stream a download writes into: both end when the connection does.
    private var task: Task<Void, Never>?
    private var stream: ChannelStream?

    init(server: OverlayServer) {
        self.server = server
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Closing the tab or cancelling the download: cancel every transfer of it, and wake its writer.
        task?.cancel()
        stream?.close()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused, !started else { return }
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            // DNS rebinding: a page of another site, under a name that resolves here, must not be answered.
            let host = h.headers.first(name: "Host") ?? ""
            guard server.accepts(host: host) else {
                return refuse(context, .forbidden, "Host \(host.isEmpty ? "(none)" : host) is not this server's name: open \(server.baseURL)")
            }
            if let length = h.headers.first(name: "Content-Length").flatMap(Int.init), length > server.configuration.maximumUpload {
                return refuse(context, .payloadTooLarge, "the request body (\(length) bytes) is larger than the limit of \(server.configuration.maximumUpload) bytes")
            }
        case .body(var part):
            if body == nil {
                body = part
            } else {
                body!.writeBuffer(&part)
            }
            if body!.readableBytes > server.configuration.maximumUpload {
                body = nil
                return refuse(context, .payloadTooLarge, "the request body is larger than the limit of \(server.configuration.maximumUpload) bytes")
            }
        case .end:
            guard let head else { return }
            started = true
            let bytes = body.map { Array($0.readableBytesView) } ?? []
            body = nil
            let stream = ChannelStream(channel: context.channel)
            self.stream = stream
            let server = self.server
            let channel = context.channel
            task = Task {
                await server.respond(to: head, body: bytes, channel: channel, stream: stream)
            }
        }
    }

    private func refuse(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ message: String) {
        refused = true
        let path = head.map { OverlayServer.pathOnly($0.uri) } ?? "?"
        server.configuration.log("\(head?.method.rawValue ?? "?") \(path) \(status.code)")
        let reply = Reply.text(status, message)
        OverlayServer.send(reply, on: context.channel)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
