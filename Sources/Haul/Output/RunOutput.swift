import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a run puts each product: a folder tree (``DirectoryOutput``) or a ZIP (``ZipOutput``).
protocol RunOutput: Sendable {
    associatedtype Sink: TransferSink
    /// Where the root is, for the report.
    var location: String { get }
    /// Opens the output (and reads what an earlier run left there).
    func open() async throws
    /// Readies one product: already complete, impossible to write, or a sink to fetch it into.
    func prepare(_ index: Int) async -> Preparation<Sink>
    /// A sink to fetch again a product ``prepare(_:)`` found complete (`--refresh`): when it completes,
    /// the new version replaces the old one; otherwise the old one stays.
    func refetch(_ index: Int) async -> Preparation<Sink>
    /// After the transfer: keeps the product when the fetch succeeded, drops it otherwise (and when the
    /// answer was `notModified`), and says how it ended.
    func complete(_ index: Int, sink: Sink, result: FetchResult) async -> Completion
    /// Writes the manifests and closes the output.
    func close(_ manifest: Manifest) async throws -> Void
    /// A failure of the output itself (a full disk, a closed pipe): the run stops at once.
    var failure: HaulError? { get }
    /// Frees what memory it can now (entries staged in memory spill to disk): the watchdog's recovery.
    func relieve()
    /// The order products are to be fetched in, when the output writes them in an order of its own (a
    /// ``StoredBundle``'s): its first unwritten product must never wait behind later ones for a worker.
    /// `nil`: the plan's order.
    var order: [Int]? { get }
    /// Whether the transfers in flight when ``failure`` stops the run finish (no new one starts) rather
    /// than being cancelled: their files are of use to others (a ``StoredBundle``'s other requests,
    /// ``BundleFileCache``). `false` unless an output says so.
    var finishesTransfersInFlight: Bool { get }
}

extension RunOutput {
    var order: [Int]? { nil }
    var finishesTransfersInFlight: Bool { false }
}
