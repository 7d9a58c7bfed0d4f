/// Why one file failed: a ``Code`` a program can switch on, and the manifest's words for a person.
///
/// The manifest's Status column is `FAILED: ` followed by ``message``; the code is not written there
/// (the manifest's columns stay as they are), it is for programs: ``Manifest/Row/failure``.
public struct FileFailure: Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure. New codes may be added, so a `switch` over them keeps a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The archive has no such file (HTTP 404 or 410).
        public static let notFound = Code("not found")
        /// The archive wants a token for it, or did not accept the one sent (HTTP 401).
        public static let unauthorized = Code("unauthorized")
        /// The archive refused it to this user (HTTP 403).
        public static let forbidden = Code("forbidden")
        /// Another HTTP error status, final or still there after every retry (408, 429 and 5xx are
        /// retried first); the ``DownloadEvent/TransferRecord`` has the number.
        public static let httpError = Code("HTTP error")
        /// The host could not be reached: the connection was refused or timed out, its name does not
        /// resolve, or it refused every connection so far and was given up on.
        public static let unreachable = Code("unreachable")
        /// The transfer received (almost) nothing for the stall window, every time it was tried.
        public static let stalled = Code("stalled")
        /// The connection broke before the body's end, every time it was tried.
        public static let interrupted = Code("interrupted")
        /// The server's certificate is not trusted, or the trusted certificates cannot be read.
        public static let untrustedCertificate = Code("untrusted certificate")
        /// The body's length is not the catalog's size (an encoded body or an HTML page, often).
        public static let sizeMismatch = Code("size mismatch")
        /// The file changed on the archive while it was being fetched, or since the bundle was planned.
        public static let changedOnArchive = Code("changed on archive")
        /// The file's name or folder is unsafe to write (``Plan/Disposition/unsafe(_:)``): never fetched.
        public static let unsafePath = Code("unsafe path")
        /// The download takes public files from the cloud only, and the bucket does not have it.
        public static let notInCloud = Code("not in cloud")
        /// The disk is full, a quota is used up, or a file reached its largest size.
        public static let diskFull = Code("disk full")
        /// The file could not be written for another reason (an I/O error, a closed stream).
        public static let writeFailed = Code("write failed")
        /// Anything else: too many redirects, a malformed URL, an error libcurl reports otherwise.
        public static let other = Code("other")
    }

    public var code: Code
    /// The reason in words, as the manifest writes it after `FAILED: `.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// A sink's or an output's error as a file's failure: `diskFull` for a full disk, else `writeFailed`.
    static func writing(_ error: any Error) -> FileFailure {
        let full = (error as? HaulError)?.code == .diskFull
        return FileFailure(full ? .diskFull : .writeFailed, "write error: \(error)")
    }

    /// A failure read back from a manifest's Status column (after `FAILED: `): the CSV keeps the words,
    /// not the code, so its code is ``Code/other``.
    static func readBack(_ message: String) -> FileFailure { FileFailure(.other, message) }

    /// The same failure with more words after the reason.
    func adding(_ words: String) -> FileFailure { FileFailure(code, message + words) }
}
