#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Raises this process's open-file limit to its hard maximum.
///
/// Every transfer holds a socket and every file being written a descriptor, so 1,000 transfers need
/// more than the usual soft limit of 1,024. A program that runs many transfers calls this once at
/// startup; the library never changes a process-wide limit by itself.
///
/// - Returns: The limit now in force.
@discardableResult
public func raiseOpenFileLimit() -> Int {
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
