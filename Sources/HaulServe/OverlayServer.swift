import Foundation
import Haul
import NIOCore
import NIOHTTP1
import NIOPosix

/// The Download Overlay as a web server: the overlay's page, and the HTTP interface it uses, which
/// programs may use too (`/summary.json`, `/preview.json`, `/export.csv`, `/script.sh`,
/// `/download.zip`).
///
/// Every answer comes from the library's own code (the plan, its preview and export, the curl
/// script, the streamed ZIP): the server only maps requests onto it. Downloads run on the engine the
/// server is given, so several at once share its transfers.
///
/// Safety on a laptop: it listens on loopback unless told otherwise; a request whose `Host` header is
/// not a name of this server is refused (DNS rebinding); a random per-run key, in the printed URL, is
/// needed by the page and by every request that starts a download, uploads a list or carries a token,
/// so no other local web page can drive it.
public final class OverlayServer: Sendable {
    /// What to serve, and where.
    public struct Configuration: Sendable {
        /// The catalogs' names as the command line gave them (the curl script's "Written by" line,
        /// and the default folder name).
        public var catalogNames: [String] = []
        /// The products served; `nil` until a list is uploaded.
        public var catalog: Catalog?
        /// Resolves `mast:` URIs (the archive).
        public var resolver: URLResolver
        /// The address to listen on: loopback by default.
        public var host = "127.0.0.1"
        /// The port; 0 picks a free one.
        public var port = 0
        /// The largest request body (an uploaded or posted product list), in bytes.
        public var maximumUpload = 64 << 20
        /// Bundles streamed at once; one more is answered 503 with `Retry-After`. Each download runs its
        /// own `parallel` transfers and memory budget on the shared engine, so downloads get equal
        /// shares and the server's memory is bounded by this many budgets.
        public var maximumDownloads = 4
        /// Connections open at once, at most; more wait in the kernel's queue until one closes. Never
        /// more than the descriptor limit leaves room for (``OverlayServer/connectionCap``).
        public var maximumConnections = 4096
        /// The transfers each download runs at once (the engine's `parallel`): what the descriptors
        /// kept free for downloads are counted from.
        public var transfersPerDownload = 16
        /// Seconds a client has, from connecting, to send its request's whole head.
        public var headTimeout: Double = 10
        /// Seconds without a byte from a client, its request not yet whole, before it is cut off.
        public var idleTimeout: Double = 10
        /// Seconds a request's body has to arrive, besides a second for every ``minimumBodyRate`` bytes.
        public var bodyTimeout: Double = 30
        /// Bytes a second a body must average, at least.
        public var minimumBodyRate: Double = 262_144
        /// Bytes of request bodies (product lists) held at once by all connections together; a body
        /// past it is answered 503. At least ``maximumUpload``.
        public var maximumBodyMemory = 256 << 20
        /// The key requests must carry (``ServerKey``); `nil`: a new random one for this run.
        public var key: String?
        /// A folder to keep the records of stored bundles in (what CRC-32 and time each entry went out
        /// with: ``ServerKey/recordsFolder(beside:)``), so that a restarted server resumes them safely;
        /// `nil`: in memory only.
        public var recordsFolder: String?
        /// Where the server says what it does (one line a request: method, path, status). Never a
        /// query string, a body or a token.
        public var log: @Sendable (String) -> Void = { _ in }

        public init(resolver: URLResolver) {
            self.resolver = resolver
        }
    }

    /// The per-run key: the page's URL carries it; downloads, uploads and tokens need it.
    public let key: String
    /// The port it listens on.
    public let port: Int
    /// The address it listens on.
    public let host: String
    /// The page's address, key included: what to open in a browser.
    public var url: String { "http://\(Self.urlHost(host)):\(port)/?key=\(key)" }
    /// The address without the key.
    public var baseURL: String { "http://\(Self.urlHost(host)):\(port)" }

    let configuration: Configuration
    let engine: Engine
    /// Threads of the server's own for answering requests: in a process that also runs other work (a
    /// program embedding the server, a test suite), a shared pool busy with that work would otherwise
    /// hold back every answer, the start of every bundle included (``WorkerPool``).
    let requestThreads = WorkerPool(name: "haul-serve")
    let state: Locked<State>
    private let group: MultiThreadedEventLoopGroup
    private let channel: Locked<(any Channel)?>
    let connections: OpenConnections
    /// The cap on open connections in force (the configured one, lowered to what descriptors allow).
    public let connectionLimit: Int
    /// Connections open now.
    public var openConnections: Int { connections.count }

    struct State {
        var catalog: Catalog?
        var catalogNames: [String]
        var downloads = 0
        /// Bytes of request bodies held now (``Configuration/maximumBodyMemory`` at most).
        var bodyBytes = 0
        /// Stored bundles this server knows, newest last, by their `ETag`, with the records of what went
        /// out of each (CRC-32s, times). At most ``resumableLimit``.
        var resumable: [(tag: String, bundle: StoredBundle)] = []
        /// Requests streaming each stored bundle now, by its tag (together one of ``downloads``).
        var active: [String: Int] = [:]
        /// The entries (positions in the bundle's order) each request of a stored bundle is sending
        /// now, by the bundle's tag: the end of a bundle waits for these rather than fetch them again.
        var coverage: [String: [UUID: Range<Int>]] = [:]
    }

    /// How many stored bundles the server can resume, and how many files they may hold in all: each
    /// keeps its plan and a few dozen bytes per file (offset, position, CRC-32 and time).
    static let resumableLimit = 16
    static let resumableFileLimit = 1_000_000

    /// Downloads being streamed now.
    public var activeDownloads: Int { state.withLock { $0.downloads } }

    private init(
        configuration: Configuration, engine: Engine, key: String, group: MultiThreadedEventLoopGroup, channel: any Channel,
        connections: OpenConnections, connectionLimit: Int
    ) {
        self.configuration = configuration
        self.connections = connections
        self.connectionLimit = connectionLimit
        self.engine = engine
        self.key = key
        self.group = group
        self.channel = Locked(channel)
        self.host = configuration.host
        self.port = channel.localAddress?.port ?? configuration.port
        self.state = Locked(State(catalog: configuration.catalog, catalogNames: configuration.catalogNames))
    }

    /// Starts a server; stop it with ``stop()``. ``withOverlayServer(_:engine:_:)`` does both.
    ///
    /// - Throws: ``HaulError`` (`invalidArgument`) when the address cannot be bound.
    public static func start(_ configuration: Configuration, engine: Engine) async throws -> OverlayServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let key = configuration.key ?? Self.randomKey()
        let box = Locked<OverlayServer?>(nil)
        let connections = OpenConnections()
        let limit = connectionCap(
            descriptorLimit: descriptorLimit(), requested: configuration.maximumConnections,
            downloads: configuration.maximumDownloads, parallel: configuration.transfersPerDownload
        )
        let idle = TimeAmount.nanoseconds(Int64(configuration.idleTimeout * 1e9))
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            // One connection an accept, so the cap is never passed by a burst.
            .serverChannelOption(ChannelOptions.maxMessagesPerRead, value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // An accept that fails for want of descriptors (EMFILE, ENFILE) or memory is tried
                    // again a second later, not at once: the listening socket stays readable, and
                    // retrying at once spins a core while answering nothing.
                    try channel.pipeline.syncOperations.addHandler(AcceptBackoffHandler(shouldForwardIOErrorCaught: false))
                    try channel.pipeline.syncOperations.addHandler(ConnectionLimit(maximum: limit, counter: connections))
                }
            }
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            // Queued bytes above 1 MiB make the channel unwritable; ChannelStream waits on its own mark.
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 256 << 10, high: 1 << 20))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let server = box.withLock({ $0 }) else { throw ChannelError.ioOnClosedChannel }
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idle))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(OverlayHandler(server: server))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        } catch {
            try? await group.shutdownGracefully()
            throw HaulError(.invalidArgument, "cannot listen on \(configuration.host) port \(configuration.port): \(error)", underlyingError: error)
        }
        let server = OverlayServer(
            configuration: configuration, engine: engine, key: key, group: group, channel: channel,
            connections: connections, connectionLimit: limit
        )
        box.withLock { $0 = server }
        return server
    }

    /// Stops listening, ends every download still streaming, and shuts the event loop down.
    public func stop() async {
        let channel = self.channel.withLock { c -> (any Channel)? in defer { c = nil }; return c }
        try? await channel?.close()
        try? await group.shutdownGracefully()
        // Connections closed with the loop cancel their downloads; wait until they have ended.
        for _ in 0..<3000 where activeDownloads > 0 {
            try? await Wakeups.sleep(for: .milliseconds(10))
        }
    }

    /// 32 hex digits from the system's random source.
    static func randomKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let n = generator.next() as UInt32
            let hex = String(n, radix: 16)
            return String(repeating: "0", count: 8 - hex.count) + hex
        }.joined()
    }

    static func urlHost(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }

    /// The `Host` header values this server answers to: its address, and for loopback `localhost`.
    func accepts(host value: String) -> Bool {
        let value = value.lowercased()
        var names = [Self.urlHost(host.lowercased())]
        if ["127.0.0.1", "::1", "localhost", "0.0.0.0", "::"].contains(host) {
            names += ["127.0.0.1", "localhost", "[::1]"]
        }
        return names.contains { value == "\($0):\(port)" || (port == 80 && value == $0) }
    }

    /// Holds `bytes` of a request body against the servers' total; `false` when they do not fit.
    func reserveBody(_ bytes: Int) -> Bool {
        let limit = max(configuration.maximumBodyMemory, configuration.maximumUpload)
        return state.withLock { state in
            guard state.bodyBytes + bytes <= limit else { return false }
            state.bodyBytes += bytes
            return true
        }
    }

    func releaseBody(_ bytes: Int) {
        guard bytes > 0 else { return }
        state.withLock { $0.bodyBytes -= bytes }
    }

    /// Bytes of request bodies held now.
    public var bodyBytesHeld: Int { state.withLock { $0.bodyBytes } }

    /// The routes that need the key (checked on the request's head), and those that take a body.
    static let routesNeedingKey: Set<String> = ["/", "/index.html", "/catalog", "/download.zip"]
    static let routesTakingBody: Set<String> = ["/catalog", "/download.zip"]
    static let keyNeeded = "this needs the server's key: open the URL `haul serve` printed (it ends in ?key=…)"

    /// A request target's path and query: of the path itself (`/x?q`), or of an address in absolute
    /// form (`http://host:port/x?q`, as sent to a proxy).
    static func target(_ uri: String) -> (path: String, query: Substring) {
        var rest = Substring(uri)
        if authority(uri) != nil {
            rest = rest.dropFirst("http://".count)
            rest = rest.drop { $0 != "/" && $0 != "?" }
        }
        let path = rest.prefix { $0 != "?" }
        return (path.isEmpty ? "/" : String(path), rest.dropFirst(path.count).dropFirst())
    }

    /// The host and port of a target in absolute form (`http://host:port/…`); `nil` for any other form.
    static func authority(_ uri: String) -> String? {
        guard uri.count > 7, uri.prefix(7).lowercased() == "http://" else { return nil }
        return String(uri.dropFirst(7).prefix { $0 != "/" && $0 != "?" && $0 != "#" })
    }

    /// Text from a request, fit to quote in an answer: printable ASCII, the rest as `?`, at most 200 characters.
    static func printable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.prefix(200).map { (0x20..<0x7F).contains($0.value) ? $0 : "?" }))
    }

    /// Compares in time independent of where the strings differ.
    func isKey(_ candidate: String?) -> Bool {
        guard let candidate else { return false }
        let a = Array(candidate.utf8), b = Array(key.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}

/// Runs `body` with a started server, and stops it when `body` returns or throws.
///
/// - Parameters:
///   - configuration: What to serve, and where.
///   - engine: The engine every download of this server runs on.
/// - Returns: What `body` returns.
public func withOverlayServer<Result: Sendable>(
    _ configuration: OverlayServer.Configuration, engine: Engine,
    _ body: (OverlayServer) async throws -> Result
) async throws -> Result {
    let server = try await OverlayServer.start(configuration, engine: engine)
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}
