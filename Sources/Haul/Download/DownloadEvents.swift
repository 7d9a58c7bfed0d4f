/// The events of one download, in the order they happened, for one consumer.
///
/// What it keeps for a consumer that falls behind:
/// - Every ``DownloadEvent/file(_:)``, ``DownloadEvent/transfer(_:)`` and ``DownloadEvent/warning(_:)``
///   event is kept until it is read: none is ever dropped. They are bounded by the plan (a row per
///   product, a transfer record per source it was fetched from) and by the run's length (a watchdog
///   warning at most once per stall window).
/// - Of ``DownloadEvent/progress(_:)`` snapshots only the newest unread one is kept; it is delivered
///   after the records that were queued before it was taken. A snapshot is superseded by the next one,
///   so a consumer that reads late loses nothing it needs, and the last snapshot (the whole run's) is
///   always delivered.
///
/// Why not back-pressure: the download's workers produce these events between transfers, and a worker
/// that waited for a slow consumer would hold back its next transfer (a user interface that redraws
/// slowly would slow the download). So the producer never waits; per-file records are buffered, and
/// progress, which is produced on a clock, is coalesced.
///
/// The sequence ends when the download does. Iterate it once, from one task; cancelling that task ends
/// the iteration (not the download: the ``Engine/download(_:to:credentials:headers:overwrite:refresh:events:)``
/// call cancels with its caller).
public struct DownloadEvents: AsyncSequence, Sendable {
    public typealias Element = DownloadEvent
    public typealias Failure = Never

    let channel: EventChannel

    init(_ channel: EventChannel) { self.channel = channel }

    public func makeAsyncIterator() -> Iterator { Iterator(channel: channel) }

    /// Reads the events one at a time.
    public struct Iterator: AsyncIteratorProtocol {
        let channel: EventChannel

        /// The next event, waiting for it; `nil` once the download has ended and every event was read,
        /// or when the reading task is cancelled.
        public mutating func next() async -> DownloadEvent? { await channel.next() }
    }
}
