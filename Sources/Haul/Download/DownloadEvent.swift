/// What a running download reports, in order, as it goes (read from ``DownloadEvents``).
public enum DownloadEvent: Sendable {
    /// Counts and rate, at most every ``Configuration/progressInterval`` and once at the end. Snapshots
    /// a consumer has not read yet are replaced by newer ones (``DownloadEvents`` says why).
    case progress(Progress)
    /// A product's manifest row, as soon as it is final. Never dropped.
    case file(Manifest.Row)
    /// Something a person should know that is not a product's status (the watchdog's report). Never dropped.
    case warning(String)
    /// A product's transfer ended, after its retries (what `haul -v` shows a line of); before its
    /// ``file(_:)`` row. Never dropped.
    case transfer(TransferRecord)
}
