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
        /// Writing output failed: disk full, permissions.
        public static let output = Code("output")
        /// A token could not be read, or the archive did not accept it (exit status 2).
        public static let authentication = Code("authentication")
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
    public var isInputError: Bool { code == .invalidCatalog || code == .invalidArgument || code == .authentication }
}

/// A POSIX error number with its text, kept as the underlying error of a ``HaulError``.
public struct POSIXErrorNumber: Error, Sendable, CustomStringConvertible {
    public let number: Int32
    public init(_ number: Int32) { self.number = number }
    public var description: String { String(cString: strerror(number)) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
