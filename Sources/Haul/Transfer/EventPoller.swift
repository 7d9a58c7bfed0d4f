#if os(Linux)
import CHaulSystem
import Glibc

/// The engine thread's epoll set: the sockets libcurl asks it to watch, an eventfd other threads write to
/// wake it, and libcurl's one timer as a deadline.
///
/// With it the engine drives libcurl through `curl_multi_socket_action`, so each turn of the loop costs
/// in proportion to the sockets that are ready, not to the transfers that exist: `curl_multi_perform`
/// and `curl_multi_poll` walk every handle on every call in libcurl 7.88, which made the loop's cost per
/// second grow with the square of the transfers in flight.
///
/// Owned by the engine thread, but for ``signal()``, which any thread may call as long as the poller is
/// open: the engine closes it only after it has refused new commands under the inbox lock, and posts
/// signal under that lock.
final class EventPoller: @unchecked Sendable {
    private let epoll: Int32
    private let wake: Int32
    private let events: UnsafeMutablePointer<epoll_event>
    private let capacity: Int32 = 1024
    /// libcurl's timer, as `CLOCK_MONOTONIC` nanoseconds; nil when libcurl has none.
    private var deadline: UInt64?

    init() throws(HaulError) {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else {
            throw HaulError(.engine, "cannot create the transfer thread's epoll set", underlyingError: POSIXErrorNumber(errno))
        }
        wake = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wake >= 0 else {
            let code = errno
            Glibc.close(epoll)
            throw HaulError(.engine, "cannot create the transfer thread's wake descriptor", underlyingError: POSIXErrorNumber(code))
        }
        events = .allocate(capacity: Int(capacity))
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = wake
        _ = epoll_ctl(epoll, EPOLL_CTL_ADD, wake, &event)
    }

    /// Closes both descriptors. Engine thread, once, after the inbox is marked exited.
    func close() {
        Glibc.close(wake)
        Glibc.close(epoll)
        events.deallocate()
    }

    /// Wakes the engine thread from ``wait(_:)``. Any thread, while the poller is open.
    func signal() {
        var one: UInt64 = 1
        // EAGAIN only when the counter is about to overflow, and then a wake is pending anyway.
        _ = write(wake, &one, 8)
    }

    /// Starts, changes or stops watching `socket`, as libcurl's socket callback asks.
    ///
    /// - Parameters:
    ///   - socket: The descriptor.
    ///   - readable: Wait for input (and hang-ups, errors).
    ///   - writable: Wait until it can take output.
    ///   - known: Whether the socket is already in the set, as far as the caller knows (libcurl's
    ///     per-socket pointer); a wrong guess costs one more `epoll_ctl`, never a lost socket.
    func watch(_ socket: Int32, readable: Bool, writable: Bool, known: Bool) {
        var event = epoll_event()
        event.events = (readable ? EPOLLIN.rawValue : 0) | (writable ? EPOLLOUT.rawValue : 0)
        event.data.fd = socket
        if known {
            if epoll_ctl(epoll, EPOLL_CTL_MOD, socket, &event) != 0, errno == ENOENT {
                _ = epoll_ctl(epoll, EPOLL_CTL_ADD, socket, &event)
            }
        } else if epoll_ctl(epoll, EPOLL_CTL_ADD, socket, &event) != 0, errno == EEXIST {
            _ = epoll_ctl(epoll, EPOLL_CTL_MOD, socket, &event)
        }
    }

    /// Stops watching `socket`. libcurl may already have closed it, which removed it from the set.
    func unwatch(_ socket: Int32) {
        _ = epoll_ctl(epoll, EPOLL_CTL_DEL, socket, nil)
    }

    /// Sets libcurl's timer: due in `milliseconds` (0: now), or none when negative.
    func setTimer(milliseconds: Int) {
        deadline = milliseconds < 0 ? nil : Self.now() + UInt64(milliseconds) * 1_000_000
    }

    /// Waits until a socket is ready, the thread is woken, libcurl's timer is due or `longest`
    /// milliseconds have passed, and calls `ready` with each ready socket and what it is ready for.
    ///
    /// - Returns: Whether libcurl's timer should run now (`CURL_SOCKET_TIMEOUT`): it is due, or the wait
    ///   ran its whole length, which also covers a timer libcurl never re-armed. The timer is cleared
    ///   first, so whatever libcurl sets while it runs stands.
    func wait(longest: Int32, _ ready: (_ socket: Int32, _ events: UInt32) -> Void) -> Bool {
        var timeout = longest
        if let deadline {
            let now = Self.now()
            // Rounded up: waking before the deadline would run a timer libcurl does not yet consider due.
            timeout = deadline <= now ? 0 : Int32(clamping: min(UInt64(longest), (deadline - now + 999_999) / 1_000_000))
        }
        let count = epoll_wait(epoll, events, capacity, timeout)
        if count > 0 {
            for index in 0..<Int(count) {
                let event = events[index]
                if event.data.fd == wake {
                    var value: UInt64 = 0
                    _ = read(wake, &value, 8)
                } else {
                    ready(event.data.fd, event.events)
                }
            }
        }
        if count == 0 || (deadline.map { $0 <= Self.now() } ?? false) {
            deadline = nil
            return true
        }
        return false
    }

    private static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
#endif
