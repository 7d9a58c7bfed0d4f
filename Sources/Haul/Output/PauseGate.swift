/// Pause at high water, wake at half: the back-pressure of a sink whose bytes drain on other threads
/// (``SegmentSink``, ``ZipEntrySink``).
///
/// A value kept in the sink's lock-protected state. Before the engine thread takes a chunk it asks
/// ``admits()``; with ``highWater`` bytes or more in flight the transfer pauses, and the worker that
/// drains it to half (or fails) learns from ``wakeIsDue(failed:)`` that it must wake it. The hysteresis
/// keeps a slow drain from costing one pause per chunk. The wake is owed exactly once per pause: a
/// transfer that paused is always woken, so a full queue can hold it back but never strand it.
struct PauseGate: Sendable {
    /// The bytes in flight at which the transfer pauses.
    let highWater: Int
    /// Bytes taken and not yet drained.
    private(set) var inFlight = 0
    /// Whether the transfer paused and is owed a wake.
    private(set) var paused = false

    init(highWater: Int) {
        self.highWater = highWater
    }

    /// Whether the transfer may hand over a chunk now; if not, it pauses and is owed a wake.
    mutating func admits() -> Bool {
        guard inFlight >= highWater else { return true }
        paused = true
        return false
    }

    /// `count` bytes taken into flight.
    mutating func took(_ count: Int) { inFlight += count }

    /// `count` bytes drained (written, or assembled).
    mutating func drained(_ count: Int) { inFlight -= count }

    /// Forgets every byte in flight (the body starts over).
    mutating func reset() { inFlight = 0 }

    /// Whether the paused transfer is to be woken now: drained to half, or the sink has failed (the
    /// transfer then learns of the failure from its next write). Clears the debt when it says yes.
    mutating func wakeIsDue(failed: Bool = false) -> Bool {
        guard paused, inFlight <= highWater / 2 || failed else { return false }
        paused = false
        return true
    }
}
