import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A receive rate smoothed over a few seconds.
struct RateMeter {
    private var last: (bytes: Int64, at: ContinuousClock.Instant)?
    private var rate = 0.0
    private var started = false

    mutating func update(bytes: Int64, at now: ContinuousClock.Instant) -> Double {
        defer { if last == nil || last!.at.duration(to: now).seconds >= 0.05 { last = (bytes, now) } }
        guard let last else { return 0 }
        let dt = last.at.duration(to: now).seconds
        guard dt >= 0.05 else { return rate }
        let instant = Double(bytes - last.bytes) / dt
        if !started {
            // The first measurement stands alone: no zero from before the start to drag it down.
            started = true
            rate = instant
            return rate
        }
        let weight = 1 - exp(-dt / 3)
        rate += (instant - rate) * weight
        return rate
    }
}
