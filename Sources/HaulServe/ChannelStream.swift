import Foundation
import Haul
import NIOCore
import NIOHTTP1

/// The bundle's bytes as the body of an HTTP response: a ``DownloadTarget/ByteStream`` over a NIO channel, with
/// back-pressure.
///
/// The ZIP writer calls ``write(_:)`` on its own dispatch queue (never on an event loop or the
/// cooperative pool), so this may block it: while more than `highWater` bytes are queued on the
/// channel and not yet written to the socket, the writer waits. A client that reads slowly therefore
/// holds back the ZIP writer, whose staged entries hold back the transfers through the memory budget:
/// memory stays bounded whatever the client's speed. A closed connection wakes the writer with an
/// error at once, so it never waits on a client that has gone.
final class ChannelStream: DownloadTarget.ByteStream, @unchecked Sendable {
    private let channel: any Channel
    private let highWater: Int
    // Guarded by `condition`: bytes handed to the channel and not yet written, and whether the
    // connection failed or closed.
    private let condition = NSCondition()
    private var queued = 0
    private var closed = false
    private var sentTotal: Int64 = 0
    private var heldHead: HTTPResponseHead?
    private var headWentOut = false

    init(channel: any Channel, highWater: Int = 4 << 20) {
        self.channel = channel
        self.highWater = highWater
    }

    /// Bytes the socket has taken so far.
    var sent: Int64 { condition.withLock { sentTotal } }

    /// Whether the connection failed or closed (the client has gone).
    var isClosed: Bool { condition.withLock { closed } }

    /// Holds the response's head until the first byte of its body: until then the answer can still
    /// be another (an error that says what went wrong, instead of a body cut short).
    func hold(_ head: HTTPResponseHead) {
        condition.withLock { heldHead = head }
    }

    /// Whether the held head went out (with the first byte of the body, or ``sendHeldHead()``).
    var headSent: Bool { condition.withLock { headWentOut } }

    /// Sends the held head now, if it has not gone out with a body byte.
    func sendHeldHead() {
        let head = takeHead()
        if let head { channel.write(HTTPServerResponsePart.head(head), promise: nil) }
    }

    private func takeHead() -> HTTPResponseHead? {
        condition.withLock {
            defer { heldHead = nil }
            if heldHead != nil { headWentOut = true }
            return heldHead
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        condition.lock()
        while queued > highWater && !closed { condition.wait() }
        if closed {
            condition.unlock()
            throw HaulError(.output, "the browser closed the connection")
        }
        queued += bytes.count
        let head = heldHead
        heldHead = nil
        if head != nil { headWentOut = true }
        condition.unlock()
        // Writes from one thread reach the event loop in the order made: the head, then the body.
        if let head { channel.write(HTTPServerResponsePart.head(head), promise: nil) }
        let count = bytes.count
        let buffer = channel.allocator.buffer(bytes: bytes)
        channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer))).whenComplete { result in
            self.condition.lock()
            self.queued -= count
            switch result {
            case .success: self.sentTotal += Int64(count)
            case .failure: self.closed = true
            }
            self.condition.broadcast()
            self.condition.unlock()
        }
    }

    /// Wakes a waiting writer with an error: the client has gone.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
