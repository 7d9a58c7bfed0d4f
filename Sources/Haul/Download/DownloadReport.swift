/// The result of a download: its manifest and counts.
public struct DownloadReport: Sendable {
    /// One row per selected product, in catalog order; also written to the root.
    public var manifest: Manifest
    /// Where the files and manifests are: the folder, or the ZIP's path.
    public var root: String
    /// Files that are complete: fetched now, or already complete from an earlier run.
    public var ok = 0
    /// `OK` rows whose files were already complete, so were not fetched again (part of ``ok``).
    public var skipped = 0
    /// With `refresh`: complete files the archive said are unchanged (304).
    public var unchanged = 0
    /// With `refresh`: complete files the archive changed, fetched again and replaced.
    public var replaced = 0
    /// Rows that ended `FAILED` (their ``Manifest/Row/failure`` says why).
    public var failed = 0
    /// Rows left `CANCELLED` because the download was cancelled or stopped before them.
    public var cancelled = 0
    /// Rows whose URI another row downloads.
    public var duplicates = 0
    /// Rows not downloaded because they need access the download does not have.
    public var excluded = 0
    /// `OK` files whose bytes came from MAST's public bucket (kept ones as their earlier run recorded).
    public var fromCloud = 0
    /// `OK` files whose bytes came from the archive.
    public var fromArchive = 0
    /// Path lookups made at the archive (one per batch of up to 40 URIs).
    public var lookupCalls = 0
    /// Body bytes received in this run.
    public var bytesReceived: Int64 = 0
    /// How long the run took.
    public var seconds: Double = 0
    /// The most memory held in flight between the network and the disk.
    public var peakBufferedBytes = 0
    /// How many times a transfer was paused because the memory budget was spent (it went on once
    /// memory was freed): a measure of memory pressure, not a failure.
    public var memoryPauses = 0

    /// The command's exit status for this result: 130 when interrupted, 1 when any file failed, else 0.
    public var exitStatus: Int32 { cancelled > 0 ? 130 : failed > 0 ? 1 : 0 }
}
