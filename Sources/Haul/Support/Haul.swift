#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Facts about this build of Haul, and process-wide setup.
public enum Haul {
    public static let version = "0.1.0"

    /// Raises this process's open-file limit to its hard maximum: every transfer holds a socket and
    /// every file being written a descriptor, so 1,000 transfers need more than the usual soft limit
    /// of 1,024. Programs that run many transfers call this once at startup.
    ///
    /// - Returns: The limit now in force.
    @discardableResult
    public static func raiseOpenFileLimit() -> Int {
        #if os(Linux)
        let resource = Int32(RLIMIT_NOFILE.rawValue)  // an enum in Glibc, a plain Int32 in Darwin
        #else
        let resource = RLIMIT_NOFILE
        #endif
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) == 0 { return Int(clamping: raised.rlim_cur) }
        }
        return Int(clamping: limit.rlim_cur)
    }
}
