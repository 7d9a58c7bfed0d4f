/// Where a download puts its files: a folder tree, a ZIP file, or a ZIP streamed to a ``ByteStream``.
public struct DownloadTarget: Sendable {
    /// The destinations the engine writes to; ``storedBundle(_:_:from:)`` is the overlay server's.
    package enum Kind: Sendable {
        case directory(String)
        case zip(String, Compression)
        case zipStream(any ByteStream, Compression)
        case storedBundle(any ByteStream, StoredBundle, from: UInt64)
    }

    package let kind: Kind

    package init(_ kind: Kind) { self.kind = kind }

    /// A folder tree under `root`, created when missing. A re-run into the same root skips files already
    /// complete there.
    public static func directory(_ root: String) -> DownloadTarget { DownloadTarget(.directory(root)) }

    /// A ZIP file at `path`, entries under the plan's root. It is written as `PATH.haul-part` and renamed
    /// when finished; a re-run (after a crash too) keeps the complete entries and fetches the rest.
    public static func zip(_ path: String, _ compression: Compression = Compression()) -> DownloadTarget {
        DownloadTarget(.zip(path, compression))
    }

    /// A ZIP streamed to a destination that cannot seek: standard output, a socket, a program's buffer.
    public static func zipStream(_ stream: any ByteStream, _ compression: Compression = Compression()) -> DownloadTarget {
        DownloadTarget(.zipStream(stream, compression))
    }

    /// A ``StoredBundle``'s bytes, from byte `from` on (0: the whole bundle), streamed: exactly
    /// ``StoredBundle/length`` minus `from` bytes when every file arrives. A file that fails or changed
    /// ends the download with an error, the stream short of that length.
    package static func storedBundle(_ stream: any ByteStream, _ bundle: StoredBundle, from: UInt64 = 0) -> DownloadTarget {
        DownloadTarget(.storedBundle(stream, bundle, from: from))
    }

    /// Whether the files go to a folder tree (not into a ZIP).
    public var isDirectory: Bool {
        if case .directory = kind { return true }
        return false
    }
}
