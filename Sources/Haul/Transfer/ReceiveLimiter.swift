/// The whole engine's receive rate (``Configuration/maxReceiveRate``): one token bucket that every
/// transfer's write callback draws from. Engine thread only.
///
/// A chunk is taken while the bucket holds any tokens, and may leave it in debt (libcurl hands over
/// chunks of its receive buffer, which a pause cannot split). With the bucket empty the transfer is
/// paused (`CURL_WRITEFUNC_PAUSE`: libcurl keeps the chunk and stops reading the socket, so TCP holds
/// the sender back) and queued; the engine's loop wakes when the debt is paid and lets the queue go on
/// one transfer at a time, oldest first, while tokens last. libcurl's own limit
/// (`CURLOPT_MAX_RECV_SPEED_LARGE`) is per transfer and lets each new transfer's first socket buffers
/// through at full speed: measured on loopback, a run of 2 MiB files took 12 MB/s under a 2 MiB/s
/// limit shared that way.
final class ReceiveLimiter {
    /// Bytes a second.
    let rate: Double
    /// The most tokens saved while idle: a tenth of a second's worth, at least 16 KiB.
    private let capacity: Double
    private var tokens: Double
    private var refilled: ContinuousClock.Instant
    /// Transfers paused for want of tokens, oldest first (some may have ended since).
    private var waiting: [Transfer] = []
    private var head = 0
    /// The transfer being let go on now: its held chunk is taken whatever the queue holds.
    private var releasing: Transfer?

    init(rate: Int64) {
        self.rate = Double(max(1, rate))
        capacity = max(self.rate / 10, 16_384)
        tokens = capacity
        refilled = .now
    }

    /// libcurl's receive buffer under this limit: chunks of at most a sixteenth of a second's bytes,
    /// so the bucket's debt stays small.
    func bufferSize(_ preferred: Int) -> Int {
        min(preferred, max(16 << 10, Int(rate / 16)))
    }

    private func refill() {
        let now = ContinuousClock.now
        tokens = min(capacity, tokens + refilled.duration(to: now).seconds * rate)
        refilled = now
    }

    /// Whether `transfer` may take a chunk of `count` bytes now (taken when so); when not, it is queued
    /// and must pause.
    func take(_ count: Int, for transfer: Transfer) -> Bool {
        refill()
        if releasing === transfer || (tokens > 0 && head == waiting.count) {
            tokens -= Double(count)
            return true
        }
        waiting.append(transfer)
        return false
    }

    /// Milliseconds until a queued transfer may go on; `nil` when none waits.
    var wait: Int32? {
        guard head < waiting.count else { return nil }
        refill()
        return tokens > 0 ? 0 : Int32(clamping: Int((-tokens / rate * 1000).rounded(.up)) + 1)
    }

    /// Lets queued transfers go on while tokens last: `resume` unpauses one (delivering its held chunk,
    /// which takes tokens). Returns whether any went on.
    func release(_ resume: (Transfer) -> Void) -> Bool {
        var any = false
        refill()
        while tokens > 0, head < waiting.count {
            let transfer = waiting[head]
            head += 1
            guard transfer.throttled, !transfer.finished else { continue }
            transfer.throttled = false
            releasing = transfer
            resume(transfer)
            releasing = nil
            any = true
            refill()
        }
        if head == waiting.count || head > 1024 {
            waiting.removeFirst(head)
            head = 0
        }
        return any
    }
}
