#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How an engine transfers: concurrency, timeouts, retries and memory.
///
/// Every field has a default fit for a real archive; tests and benchmarks shorten the timeouts.
public struct Configuration: Sendable, Hashable {
    /// How many transfers run at once (hundreds to thousands are fine).
    public var parallel: Int = 64
    /// The most connections to one host; `nil` lets ``parallel`` alone decide.
    public var perHost: Int? = nil
    /// Time limits of each attempt.
    public var timeout = Timeout()
    /// When and how failed attempts are tried again.
    public var retry = RetryPolicy()
    /// The bytes held in memory between the network and the output, across all transfers: half for
    /// blocks and staged entries (the download's memory budget), the rest for libcurl's receive buffers (at most
    /// an eighth), zlib's streams and the pool of free pages. At least ``minimumMemoryLimit``.
    public var memoryLimit: Int = 256 << 20

    /// The smallest ``memoryLimit`` the progress guarantee (every run finishes) is stated and tested
    /// for. Smaller values are raised to it.
    public static let minimumMemoryLimit = 4 << 20
    /// Follow HTTP redirects (at most ``maxRedirects``).
    public var followRedirects = true
    public var maxRedirects = 10
    /// Offer HTTP/2 over TLS and multiplex transfers on one connection where the server agrees.
    public var http2 = true
    /// A PEM file of certificate authorities to trust for `https` instead of the system's bundle (as
    /// curl's `--cacert`): how a server with a private or self-signed certificate is reached. A
    /// certificate nobody trusts is never accepted: the transfer fails as `TLS certificate not trusted`.
    public var caFile: String? = nil
    /// A folder of certificate authorities (hashed names, as `openssl rehash` makes) to trust for `https`
    /// (as curl's `--capath`).
    public var caPath: String? = nil
    /// The `User-Agent` request header.
    public var userAgent = "haul/\(haulVersion)"
    /// Extra request headers (`Name: value`, as curl's `-H`), sent with every request to the origin of
    /// ``headersOrigin`` (the archive) and, when that is `nil`, with every request to any host.
    public var headers: [String] = []
    /// The URL whose scheme, host and port alone receive ``headers``, as the token goes only to the
    /// archive; `nil` sends them everywhere (`--header-everywhere`). A redirect to another origin is
    /// followed without them.
    public var headersOrigin: String? = nil
    /// The proxy every request goes through (`http://host:port`, `socks5h://host`…, as curl's
    /// `--proxy`); `nil` lets libcurl take it from `http_proxy`, `https_proxy`, `all_proxy` (and their
    /// upper-case forms); `""` uses none, whatever the environment says.
    public var proxy: String? = nil
    /// Hosts reached without the proxy: a comma-separated list of names, domains and addresses (curl's
    /// `--noproxy`; `*` for every host); `nil` lets libcurl take it from `no_proxy`/`NO_PROXY`.
    public var noProxy: String? = nil
    /// The most bytes a second all transfers together receive (curl's `--limit-rate`, for the whole
    /// run); `nil` for no limit. One token bucket is shared by every transfer: one that finds it empty
    /// is paused until its turn comes again (libcurl's own limit is per transfer).
    public var maxReceiveRate: Int64? = nil
    /// After this many connection failures in a row to one host (refused, unreachable, a name that does
    /// not resolve) without any answer from it ever, every transfer to it fails at once as
    /// `cannot reach HOST:PORT: REASON`, instead of each one retrying for minutes. 0 never gives up early.
    public var unreachableAfter = 3
    /// Receives libcurl's own trace of every transfer (curl's `--trace-ascii`, without the bodies): what
    /// it connects to, the request and response headers. An `Authorization` header's value shows as
    /// `<redacted>`. Called on the engine's thread: it must return quickly.
    package var trace: TraceHandler? = nil
    /// How often progress snapshots are delivered.
    public var progressInterval: Duration = .milliseconds(100)
    /// What to do when transfers stay paused and nothing moves (see ``Watchdog``).
    package var watchdog = Watchdog()
    /// When one big product is fetched over several connections (``Segmentation/off`` never).
    package var segmentation = Segmentation()
    /// The same for objects of MAST's public bucket: s5cmd's parts, at least 50 MiB and 5 at a time
    /// (objects of 64 MiB or more). S3 gives each connection about the same rate, so five carry a big
    /// object fast without the hundreds of connections 16 a file would make when many big objects
    /// run at once (on two cores those cost more than they bring: measured in docs/cloud.md, "How").
    /// Big objects fetched at the same time share 16 (eight take 2 each: 8 × 256 MiB from one nginx
    /// on two cores took 3.05 s of CPU with 5 a file, 2.38 s with 2; s5cmd, 5 a file, 2.62 s).
    package var cloudSegmentation = Segmentation(threshold: 64 << 20, minimumSegment: 50 << 20, maximumConnections: 5, sharedConnections: 16)
    /// Where public products come from: the archive, MAST's public bucket, or the bucket with the
    /// archive as each file's fallback (``SourcePolicy``). The bucket's address is the plan's
    /// bucket; lookups go to its ``URLResolver/archive``.
    package var source: SourcePolicy = .archive
    /// Host names pinned to addresses, as curl's `--resolve`: `HOST:PORT:ADDRESS[,ADDRESS…]` each
    /// (libcurl's `CURLOPT_RESOLVE`), for a mirror under a name DNS does not give, and for tests.
    public var resolve: [String] = []
    /// Flush what a download reports done to the disk before reporting it (`fsync`): under a folder,
    /// each file before its rename and, at the end, the folders that name them; a ZIP file and its
    /// folder at the end. Then a power cut after the end loses nothing the report called complete.
    public var synchronizesOutput = true

    /// Time limits of one transfer attempt.
    public struct Timeout: Sendable, Hashable {
        /// Establishing the connection (TCP and TLS).
        public var connect: Duration = .seconds(30)
        /// A transfer receiving fewer than ``minimumSpeed`` bytes a second for this long is stalled.
        public var stall: Duration = .seconds(60)
        /// Bytes a second below which a transfer counts as stalled.
        public var minimumSpeed: Int = 1
        public init() {}
    }

    public init() {}

    /// libcurl's receive buffer per transfer: large enough to cut callbacks, small enough that
    /// ``parallel`` of them stay within an eighth of ``memoryLimit``.
    var receiveBufferSize: Int {
        let share = memoryLimit / max(1, 8 * parallel)
        return min(512 << 10, max(16 << 10, share))
    }
}
