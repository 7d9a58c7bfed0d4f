/// An error from Haul, with a stable ``Code`` a caller can switch on and a message fit for a person.
///
/// New codes may be added without breaking callers; the underlying error (a libcurl code and its
/// message, an `errno`) is kept when there is one.
public struct HaulError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A catalog could not be read or is malformed (exit status 2).
        public static let invalidCatalog = Code("invalid catalog")
        /// An option or argument is invalid (exit status 2).
        public static let invalidArgument = Code("invalid argument")
        /// Writing output failed (an I/O error, a closed pipe) after the download started (exit status 1).
        public static let output = Code("output")
        /// The output path cannot be used, found before any request: a folder where the ZIP should go, a
        /// missing or unwritable folder, `--dir` naming a file, a file that is not an archive this download
        /// can resume (exit status 2). Nothing was fetched, created or overwritten.
        public static let outputPath = Code("output path")
        /// The output's disk is full, a disk quota is used up, or a file reached the largest size allowed
        /// (`ENOSPC`, `EDQUOT`, `EFBIG`): the download stopped at once, keeping what was complete (exit status 1).
        public static let diskFull = Code("disk full")
        /// A token could not be read, or the archive did not accept it (exit status 2).
        public static let authentication = Code("authentication")
        /// A file of a stored bundle that a client holds part of is no longer the file that part was
        /// sent from: the archive changed it since, so the bundle cannot be resumed from there.
        public static let changedOnArchive = Code("changed on the archive")
        /// The transfer engine could not start or failed internally.
        public static let engine = Code("engine")
    }

    public let code: Code
    public let message: String
    public let underlyingError: (any Error)?

    public init(_ code: Code, _ message: String, underlyingError: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlyingError = underlyingError
    }

    public var description: String { message }

    /// Whether this error means the input or the usage was wrong (nothing was downloaded).
    public var isInputError: Bool {
        code == .invalidCatalog || code == .invalidArgument || code == .authentication || code == .outputPath
    }

    /// `error` as a ``HaulError``: itself when it is one, else an ``Code/output`` error saying what was
    /// being done, with `error` kept as the underlying error. How a catch passes on an error it did not
    /// expect instead of dropping it.
    static func wrapping(_ error: any Error, while doing: String) -> HaulError {
        if let error = error as? HaulError { return error }
        return HaulError(.output, "\(doing): \(error)", underlyingError: error)
    }

    /// A failed write (or flush, truncate, rename) of `path`: ``Code/diskFull`` when the disk is full, a
    /// quota is used up or the file is at its size limit, else ``Code/output``.
    static func writing(_ path: String, errno e: Int32, action: String = "write") -> HaulError {
        let reason = String(cString: strerror(e))
        switch e {
        case ENOSPC:
            return HaulError(.diskFull, "the disk is full: cannot \(action) \(path) (\(reason))", underlyingError: POSIXErrorNumber(e))
        case EDQUOT:
            return HaulError(.diskFull, "the disk is full for this user (quota used up): cannot \(action) \(path) (\(reason))", underlyingError: POSIXErrorNumber(e))
        case EFBIG:
            return HaulError(.diskFull, "the disk is full for this file (it reached the largest size allowed here): cannot \(action) \(path) (\(reason))", underlyingError: POSIXErrorNumber(e))
        default:
            return HaulError(.output, "cannot \(action) \(path): \(reason)", underlyingError: POSIXErrorNumber(e))
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
