import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum Preparation<Sink> {
    /// Complete from an earlier run.
    case complete(CompleteFile)
    case failed(FileFailure)
    case fetch(Sink)
}
