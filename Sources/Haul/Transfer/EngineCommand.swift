import CCurl
import CHaulSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum EngineCommand {
    case start(Transfer)
    case cancel(Transfer)
    case resume(Transfer)
}
