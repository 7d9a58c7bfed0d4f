import CCurl
import CHaulSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class EngineCore: @unchecked Sendable {
    private struct Inbox {
        var commands: [EngineCommand] = []
        var stopping = false
        var stopped: CheckedContinuation<Void, Never>?
        var exited = false
    }

    let configuration: Configuration
    let liveHandles = Atomic<Int>(0)
    let activeCount = Atomic<Int>(0)
    let pausedCount = PauseCount()
    fileprivate let multi: UnsafeMutableRawPointer
    private let inbox = Locked(Inbox())
    #if os(Linux)
    /// The epoll set, the wake descriptor and libcurl's timer; closed after `curl_multi_cleanup`.
    fileprivate let poller: EventPoller
    #endif
    // Engine thread only (asserted in debug builds: ``assertOnEngineThread(_:_:)``).
    private var running: [UnsafeMutableRawPointer: Transfer] = [:]
    private var idle: [UnsafeMutableRawPointer] = []
    /// At least as many as the connections libcurl holds idle for reuse: one more for each transfer that
    /// ended well (libcurl keeps its connection unless it closed it), one fewer for each that reused one.
    private var idleConnections = 0
    /// Transfers in flight beyond which a new transfer's connection is closed when it ends (see `configure`).
    /// A walk of this many connections costs a few microseconds, less than opening a loopback connection;
    /// reuse matters most below it (a few dozen connections each carrying many small files).
    private static let keptConnectionsLimit = 512
    private var thread = pthread_t()
    /// The whole engine's receive rate, when ``Configuration/maxReceiveRate`` sets one.
    private let limiter: ReceiveLimiter?
    /// ``Configuration/resolve`` as libcurl takes it (`CURLOPT_RESOLVE`), set on every handle; libcurl
    /// reads it when each transfer starts, so it lives as long as the core (freed in `deinit`).
    private let resolveList: UnsafeMutablePointer<curl_slist>?

    private static let globalInit: Bool = {
        curl_global_init(ccurl_global_all()) == CURLE_OK
    }()

    init(configuration: Configuration) throws {
        #if os(Linux)
        let poller = try EventPoller()
        guard Self.globalInit, let multi = curl_multi_init() else {
            poller.close()
            throw HaulError(.engine, "libcurl could not be initialised")
        }
        self.poller = poller
        #else
        guard Self.globalInit, let multi = curl_multi_init() else {
            throw HaulError(.engine, "libcurl could not be initialised")
        }
        #endif
        self.configuration = configuration
        self.multi = multi
        self.limiter = configuration.maxReceiveRate.flatMap { $0 > 0 ? ReceiveLimiter(rate: $0) : nil }
        var resolveList: UnsafeMutablePointer<curl_slist>?
        for entry in configuration.resolve { resolveList = curl_slist_append(resolveList, entry) }
        self.resolveList = resolveList
        #if os(Linux)
        // Unretained: libcurl calls these only on the engine thread, which holds the core until it exits.
        let me = Unmanaged.passUnretained(self).toOpaque()
        _ = ccurl_multi_setopt_socket_callback(multi, engineSocketCallback)
        _ = ccurl_multi_setopt_pointer(multi, CURLMOPT_SOCKETDATA, me)
        _ = ccurl_multi_setopt_timer_callback(multi, engineTimerCallback)
        _ = ccurl_multi_setopt_pointer(multi, CURLMOPT_TIMERDATA, me)
        #endif
        // Transfers are already bounded by the caller (`parallel`); a second bound here would only queue
        // transfers inside libcurl behind connections that are closing.
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0)
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, configuration.parallel)
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, configuration.perHost ?? 0)
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_PIPELINING, configuration.http2 ? ccurl_pipe_multiplex() : 0)
        let unmanaged = Unmanaged.passRetained(self)
        let rc = pthread_create(&thread, nil, { context in
            let core = Unmanaged<EngineCore>.fromOpaque(context!).takeRetainedValue()
            core.run()
            return nil
        }, unmanaged.toOpaque())
        guard rc == 0 else {
            unmanaged.release()
            curl_multi_cleanup(multi)
            #if os(Linux)
            poller.close()
            #endif
            throw HaulError(.engine, "cannot start the transfer thread", underlyingError: POSIXErrorNumber(rc))
        }
    }

    deinit {
        curl_slist_free_all(resolveList)
    }

    var isShutDown: Bool { inbox.withLock { $0.exited } }

    /// Queues a command for the engine thread and wakes it. Callable from any thread.
    ///
    /// The wake (the eventfd write, or `curl_multi_wakeup`) happens while the inbox lock is held: the
    /// engine thread marks the inbox `exited` under that lock before `curl_multi_cleanup` and before it
    /// closes the eventfd, so both are alive for every wake (released after the lock, a post racing with
    /// shutdown used the freed handle).
    func post(_ command: EngineCommand) {
        let accepted = inbox.withLock { inbox -> Bool in
            guard !inbox.exited else { return false }
            inbox.commands.append(command)
            wakeEngine()
            return true
        }
        if !accepted, case .start(let transfer) = command {
            // The engine is gone: the attempt ends as cancelled rather than hanging.
            transfer.resumeWaiterCancelled()
        }
    }

    func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = inbox.withLock { inbox -> Bool in
                if inbox.exited { return true }
                inbox.stopping = true
                inbox.stopped = continuation
                wakeEngine()  // under the lock, as in post()
                return false
            }
            if done { continuation.resume() }
        }
        pthread_join(thread, nil)
    }

    /// Wakes the engine thread from its wait. Only with the inbox lock held, and not exited (see `post`).
    private func wakeEngine() {
        #if os(Linux)
        poller.signal()
        #else
        curl_multi_wakeup(multi)
        #endif
    }

    // MARK: The engine thread

    private func run() {
        EngineThread.mark(self)
        #if os(Linux)
        _ = csystem_name_this_thread("haul-engine")  // found by name in /proc/PID/task/*/comm (Benchmarks)
        #endif
        while true {
            let (commands, stopping) = inbox.withLock { inbox in
                let taken = inbox.commands
                inbox.commands.removeAll(keepingCapacity: true)
                return (taken, inbox.stopping)
            }
            var resumed = false
            for command in commands { resumed = execute(command) || resumed }
            if stopping {
                for transfer in Array(running.values) { finish(transfer, code: CURLE_ABORTED_BY_CALLBACK, cancelled: true) }
                break
            }
            #if os(Linux)
            // curl_easy_pause(CONT) re-arms libcurl's timer, but 7.88 may still leave an unpaused
            // transfer waiting for a socket event that already came: run its timers once per batch.
            if releaseThrottled() { resumed = true }
            if resumed { socketAction(ccurl_socket_timeout(), events: 0) }
            readFinished()
            let timerDue = poller.wait(longest: limiter?.wait.map { min(1000, $0) } ?? 1000) { socket, events in socketAction(socket, events: events) }
            if timerDue { socketAction(ccurl_socket_timeout(), events: 0) }
            #else
            _ = resumed
            _ = releaseThrottled()
            var stillRunning: Int32 = 0
            curl_multi_perform(multi, &stillRunning)
            readFinished()
            var ready: Int32 = 0
            curl_multi_poll(multi, nil, 0, limiter?.wait.map { Int32(min(1000, $0)) } ?? 1000, &ready)
            #endif
        }
        // Take the remaining commands so no waiter is left hanging, and refuse new ones.
        let (late, stopped) = inbox.withLock { inbox in
            inbox.exited = true
            let late = inbox.commands
            inbox.commands.removeAll()
            return (late, inbox.stopped)
        }
        for case .start(let transfer) in late { transfer.resumeWaiterCancelled() }
        for easy in idle { curl_easy_cleanup(easy) }
        liveHandles.subtract(idle.count, ordering: .sequentiallyConsistent)
        idle.removeAll()
        curl_multi_cleanup(multi)
        #if os(Linux)
        poller.close()  // after the cleanup, whose socket callbacks still reach it
        #endif
        stopped?.resume()
    }

    #if os(Linux)
    /// Lets libcurl act on `socket` (`epoll` readiness in `events`), or run its due timers when `socket`
    /// is `CURL_SOCKET_TIMEOUT`. Finished transfers are read afterwards, by the loop.
    private func socketAction(_ socket: curl_socket_t, events: UInt32) {
        assertOnEngineThread(self)
        var flags: Int32 = 0
        if events & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLRDHUP.rawValue) != 0 { flags |= ccurl_cselect_in() }
        if events & EPOLLOUT.rawValue != 0 { flags |= ccurl_cselect_out() }
        if events & EPOLLERR.rawValue != 0 { flags |= ccurl_cselect_err() }
        var stillRunning: Int32 = 0
        _ = curl_multi_socket_action(multi, socket, flags, &stillRunning)
    }

    /// libcurl's socket callback, on the engine thread: watch `socket` for what libcurl waits for on it.
    /// A socket libcurl has not seen before is marked (`curl_multi_assign`), so `known` says whether it
    /// is in the epoll set already.
    fileprivate func socketChanged(_ socket: curl_socket_t, what: Int32, known: Bool) {
        assertOnEngineThread(self)
        if what == ccurl_poll_remove() {
            poller.unwatch(socket)
            return
        }
        poller.watch(socket, readable: what & ccurl_poll_in() != 0, writable: what & ccurl_poll_out() != 0, known: known)
        if !known { _ = curl_multi_assign(multi, socket, Self.watchedMark) }
    }

    /// What `curl_multi_assign` attaches to a watched socket: any non-null pointer, never dereferenced.
    private static var watchedMark: UnsafeMutableRawPointer? { UnsafeMutableRawPointer(bitPattern: 1) }
    #endif

    /// Lets transfers the receive limiter paused go on, as far as its tokens allow. Returns whether any did.
    private func releaseThrottled() -> Bool {
        assertOnEngineThread(self)
        guard let limiter else { return false }
        return limiter.release { transfer in
            guard let easy = transfer.easy, running[easy] === transfer else { return }
            // Delivers the held chunk at once, through the write callback, on this thread.
            _ = curl_easy_pause(easy, ccurl_pause_continue())
        }
    }

    /// Runs one command. Returns whether it unpaused a transfer.
    private func execute(_ command: EngineCommand) -> Bool {
        assertOnEngineThread(self)
        switch command {
        case .start(let transfer):
            if transfer.cancelled.load(ordering: .sequentiallyConsistent) {
                transfer.resumeWaiterCancelled()
                return false
            }
            start(transfer)
            return false
        case .cancel(let transfer):
            guard let easy = transfer.easy, running[easy] === transfer else { return false }
            finish(transfer, code: CURLE_ABORTED_BY_CALLBACK, cancelled: true)
            return false
        case .resume(let transfer):
            guard let easy = transfer.easy, running[easy] === transfer, transfer.paused else { return false }
            transfer.paused = false
            pausedCount.value.subtract(1, ordering: .relaxed)
            // May deliver the held chunk at once, through the write callback, on this thread.
            _ = curl_easy_pause(easy, ccurl_pause_continue())
            return true
        }
    }

    private func start(_ transfer: Transfer) {
        assertOnEngineThread(self)
        let easy: UnsafeMutableRawPointer
        if let reused = idle.popLast() {
            easy = reused
            curl_easy_reset(easy)
        } else if let fresh = curl_easy_init() {
            easy = fresh
            liveHandles.add(1, ordering: .sequentiallyConsistent)
        } else {
            transfer.outcome.curlCode = Int32(CURLE_OUT_OF_MEMORY.rawValue)
            transfer.outcome.curlMessage = "cannot create a transfer handle"
            transfer.resumeWaiter(transfer.outcome)
            return
        }
        transfer.easy = easy
        transfer.waker = waker(for: transfer)
        transfer.pausedCount = pausedCount
        transfer.limiter = limiter
        configure(easy, for: transfer)
        running[easy] = transfer
        activeCount.add(1, ordering: .relaxed)
        let rc = curl_multi_add_handle(multi, easy)
        if rc != CURLM_OK {
            transfer.outcome.curlMessage = String(cString: curl_multi_strerror(rc))
            finish(transfer, code: CURLE_FAILED_INIT, cancelled: false)
        }
    }

    private func configure(_ easy: UnsafeMutableRawPointer, for transfer: Transfer) {
        assertOnEngineThread(self)
        let c = configuration
        let request = transfer.request
        let me = Unmanaged.passUnretained(transfer).toOpaque()
        let url = transfer.currentURL
        _ = ccurl_easy_setopt_string(easy, CURLOPT_URL, url)
        _ = ccurl_easy_setopt_pointer(easy, CURLOPT_PRIVATE, me)
        _ = ccurl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, me)
        _ = ccurl_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, engineWriteCallback)
        _ = ccurl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, transfer.errorBuffer)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        // Headers meant for one origin only: the engine follows redirects itself (see `redirect`), so it
        // can drop them when a redirect leaves that origin; libcurl would send them on to any host.
        _ = ccurl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, c.followRedirects && request.originHeaders.isEmpty ? 1 : 0)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_MAXREDIRS, c.maxRedirects)
        _ = ccurl_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https")
        _ = ccurl_easy_setopt_string(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        _ = ccurl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile = c.caFile { _ = ccurl_easy_setopt_string(easy, CURLOPT_CAINFO, caFile) }
        if let caPath = c.caPath { _ = ccurl_easy_setopt_string(easy, CURLOPT_CAPATH, caPath) }
        _ = ccurl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, c.http2 ? ccurl_http_version_2tls() : Int(CURL_HTTP_VERSION_1_1))
        // Waiting for a connection that might multiplex only pays where HTTP/2 can be negotiated (TLS
        // with ALPN). Over cleartext HTTP/1.1 it queues new transfers behind busy connections: measured
        // at 1,000 trickling transfers, 7 s with it off against 12 s with it on.
        let secure = url.utf8.count > 8 && url.prefix(8).lowercased() == "https://"
        _ = ccurl_easy_setopt_long(easy, CURLOPT_PIPEWAIT, c.http2 && secure ? 1 : 0)
        // libcurl 7.88 keeps its connections to a host in one list, oldest first, and walks it from the
        // head to find one to reuse (every connection, busy or idle), to forget the one a transfer used
        // (in curl_multi_remove_handle, when it was kept) and to drop a closed one: with thousands in
        // flight these walks, once per transfer each, made the loop's cost grow with the square of the
        // transfers. So: where no connection can be idle, ask for a new one without the search; and past
        // `keptConnectionsLimit` transfers in flight, close a transfer's connection when it ends, so
        // idle connections never pile up ahead of the busy ones and every walk stays short. (Neither
        // where HTTP/2 may multiplex a new stream onto a busy connection.)
        let multiplexes = c.http2 && secure
        transfer.searchesConnections = idleConnections > 0 || multiplexes
        transfer.keepsConnection = running.count < Self.keptConnectionsLimit || multiplexes
        _ = ccurl_easy_setopt_long(easy, CURLOPT_FRESH_CONNECT, transfer.searchesConnections ? 0 : 1)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_FORBID_REUSE, transfer.keepsConnection ? 0 : 1)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_BUFFERSIZE, limiter?.bufferSize(c.receiveBufferSize) ?? c.receiveBufferSize)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(c.timeout.connect.milliseconds))
        _ = ccurl_easy_setopt_long(easy, CURLOPT_LOW_SPEED_LIMIT, max(1, c.timeout.minimumSpeed))
        _ = ccurl_easy_setopt_long(easy, CURLOPT_LOW_SPEED_TIME, max(1, Int((c.timeout.stall.milliseconds + 999) / 1000)))
        _ = ccurl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_FILETIME, 1)
        _ = ccurl_easy_setopt_string(easy, CURLOPT_USERAGENT, c.userAgent)
        if let proxy = c.proxy { _ = ccurl_easy_setopt_string(easy, CURLOPT_PROXY, proxy) }
        if let noProxy = c.noProxy { _ = ccurl_easy_setopt_string(easy, CURLOPT_NOPROXY, noProxy) }
        if let resolveList { _ = ccurl_easy_setopt_slist(easy, CURLOPT_RESOLVE, resolveList) }
        if c.trace != nil {
            _ = ccurl_easy_setopt_long(easy, CURLOPT_VERBOSE, 1)
            _ = ccurl_easy_setopt_debug_callback(easy, engineDebugCallback)
            _ = ccurl_easy_setopt_pointer(easy, CURLOPT_DEBUGDATA, Unmanaged.passUnretained(self).toOpaque())
        }
        var list: UnsafeMutablePointer<curl_slist>?
        for header in request.headers { list = curl_slist_append(list, header) }
        if transfer.redirects == 0 || Origin(url) == Origin(request.url) {
            for header in request.originHeaders { list = curl_slist_append(list, header) }
        }
        if let validator = request.ifRange, request.rangeStart > 0 { list = curl_slist_append(list, "If-Range: \(validator)") }
        // No content coding: the bytes on the wire are the product's bytes, so lengths can be checked.
        // A server that encodes anyway (a `.fits.gz` labelled `Content-Encoding: gzip`) is stored as
        // sent: libcurl decodes nothing, so nothing is ever decoded twice.
        list = curl_slist_append(list, "Accept-Encoding: identity")
        _ = ccurl_easy_setopt_long(easy, CURLOPT_HTTP_CONTENT_DECODING, 0)
        transfer.headerList = list
        _ = ccurl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list)
        if request.rangeStart > 0 || request.rangeEnd != nil {
            _ = ccurl_easy_setopt_string(easy, CURLOPT_RANGE, "\(request.rangeStart)-\(request.rangeEnd.map(String.init) ?? "")")
        }
    }

    private func readFinished() {
        assertOnEngineThread(self)
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                  let transfer = running[easy] else { continue }
            let code = message.pointee.data.result
            if code == CURLE_OK, redirect(transfer, easy: easy) { continue }
            finish(transfer, code: code, cancelled: false)
        }
    }

    /// Follows a redirect of an attempt whose origin-bound headers keep libcurl from following it:
    /// the same handle asks the new URL, with those headers only while on their origin. Returns
    /// whether it did (else the attempt ends as it is: a 3xx without a location, or too many).
    private func redirect(_ transfer: Transfer, easy: UnsafeMutableRawPointer) -> Bool {
        assertOnEngineThread(self)
        guard !transfer.request.originHeaders.isEmpty, configuration.followRedirects,
              !transfer.outcome.bodyStarted, transfer.outcome.abort == nil else { return false }
        var status = 0
        _ = ccurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        guard [301, 302, 303, 307, 308].contains(status) else { return false }
        var location: UnsafePointer<CChar>?
        guard ccurl_easy_getinfo_string(easy, CURLINFO_REDIRECT_URL, &location) == CURLE_OK, let location else { return false }
        let next = String(cString: location)
        guard Origin(next) != nil else { return false }
        if transfer.redirects >= configuration.maxRedirects {
            transfer.outcome.curlMessage = "too many redirects"
            finish(transfer, code: CURLE_TOO_MANY_REDIRECTS, cancelled: false)
            return true
        }
        transfer.redirects += 1
        transfer.currentURL = next
        curl_multi_remove_handle(multi, easy)
        if let list = transfer.headerList { curl_slist_free_all(list) }
        transfer.headerList = nil
        transfer.responseChecked = false
        transfer.discardBody = false
        transfer.outcome.status = 0
        curl_easy_reset(easy)
        configure(easy, for: transfer)
        if curl_multi_add_handle(multi, easy) != CURLM_OK {
            finish(transfer, code: CURLE_FAILED_INIT, cancelled: false)
        }
        return true
    }

    /// One piece of libcurl's trace, as lines: `* ` what it does, `> ` a request header, `< ` a
    /// response header; an `Authorization` value redacted.
    fileprivate func trace(_ type: curl_infotype, _ text: String) {
        assertOnEngineThread(self)
        guard let handler = configuration.trace else { return }
        let mark: String
        switch type {
        case CURLINFO_TEXT: mark = "* "
        case CURLINFO_HEADER_IN: mark = "< "
        case CURLINFO_HEADER_OUT: mark = "> "
        default: return
        }
        for line in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            handler(mark + Self.redacted(String(line)))
        }
    }

    /// A header line with its value hidden when it carries a credential.
    static func redacted(_ line: String) -> String {
        guard let colon = line.firstIndex(of: ":") else { return line }
        let name = line[..<colon].trimmingSpaces().lowercased()
        guard name == "authorization" || name == "proxy-authorization" else { return line }
        return line[..<colon] + ": <redacted>"
    }

    /// Ends an attempt: fills in its outcome, returns the handle to the pool, resumes the waiter.
    private func finish(_ transfer: Transfer, code: CURLcode, cancelled: Bool) {
        assertOnEngineThread(self)
        guard !transfer.finished, let easy = transfer.easy else { return }
        transfer.finished = true
        if transfer.paused {
            transfer.paused = false
            pausedCount.value.subtract(1, ordering: .relaxed)
        }
        if !cancelled, code == CURLE_OK, !transfer.responseChecked {
            // An empty body never reached the write callback: check the response now.
            _ = transfer.checkResponse(waker: transfer.waker)
        }
        var outcome = transfer.outcome
        outcome.ended = .now
        outcome.cancelled = cancelled
        outcome.curlCode = Int32(code.rawValue)
        if code != CURLE_OK {
            let detail = String(cString: transfer.errorBuffer)
            outcome.curlMessage = detail.isEmpty ? (outcome.curlMessage.isEmpty ? String(cString: curl_easy_strerror(code)) : outcome.curlMessage) : detail
            var osErrno = 0
            if ccurl_easy_getinfo_long(easy, CURLINFO_OS_ERRNO, &osErrno) == CURLE_OK { outcome.osErrno = Int32(truncatingIfNeeded: osErrno) }
        }
        if outcome.status == 0 {
            var status = 0
            _ = ccurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
            outcome.status = status
        }
        var retryAfter: curl_off_t = -1
        if ccurl_easy_getinfo_off(easy, CURLINFO_RETRY_AFTER, &retryAfter) == CURLE_OK, retryAfter > 0 {
            outcome.retryAfter = Int64(retryAfter)
        }
        var filetime: curl_off_t = -1
        if ccurl_easy_getinfo_off(easy, CURLINFO_FILETIME_T, &filetime) == CURLE_OK, filetime >= 0 {
            outcome.lastModified = Int64(filetime)
        }
        var microseconds: curl_off_t = 0
        if ccurl_easy_getinfo_off(easy, CURLINFO_STARTTRANSFER_TIME_T, &microseconds) == CURLE_OK, microseconds > 0 {
            outcome.firstByteSeconds = Double(microseconds) / 1e6
        }
        if ccurl_easy_getinfo_off(easy, CURLINFO_TOTAL_TIME_T, &microseconds) == CURLE_OK {
            outcome.totalSeconds = Double(max(0, microseconds)) / 1e6
        }
        if code == CURLE_OK, transfer.keepsConnection { idleConnections += 1 }
        var connectionsMade = 0
        if ccurl_easy_getinfo_long(easy, CURLINFO_NUM_CONNECTS, &connectionsMade) == CURLE_OK {
            outcome.connectionsOpened = connectionsMade
        }
        if transfer.searchesConnections, connectionsMade == 0, outcome.status != 0 || code == CURLE_OK {
            idleConnections = max(0, idleConnections - 1)
        }
        curl_multi_remove_handle(multi, easy)
        running[easy] = nil
        activeCount.subtract(1, ordering: .relaxed)
        if let list = transfer.headerList { curl_slist_free_all(list) }
        transfer.headerList = nil
        transfer.easy = nil
        // Drop the references to this transfer the handle still carries, then keep it for reuse.
        _ = ccurl_easy_setopt_pointer(easy, CURLOPT_PRIVATE, nil)
        _ = ccurl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, nil)
        if idle.count < configuration.parallel {
            idle.append(easy)
        } else {
            curl_easy_cleanup(easy)
            liveHandles.subtract(1, ordering: .sequentiallyConsistent)
        }
        transfer.resumeWaiter(outcome)
    }

    func waker(for transfer: Transfer) -> SinkWaker {
        SinkWaker { [weak self, weak transfer] in
            if let self, let transfer { self.post(.resume(transfer)) }
        }
    }
}

/// libcurl's write callback: finds the transfer through `WRITEDATA` and hands it the chunk.
private let engineWriteCallback: ccurl_data_callback = { data, size, count, userdata in
    guard let userdata else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
    return transfer.receive(bytes, waker: transfer.waker)
}

/// libcurl's debug callback: finds the engine through `DEBUGDATA` and hands it the trace text.
private let engineDebugCallback: ccurl_debug_callback = { _, type, data, size, userp in
    guard let userp, let data, size > 0 else { return 0 }
    let text = String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)
    Unmanaged<EngineCore>.fromOpaque(userp).takeUnretainedValue().trace(type, text)
    return 0
}

#if os(Linux)
/// libcurl's socket callback: finds the engine through `SOCKETDATA`; `socketp` is non-null once the
/// engine has marked the socket as watched.
private let engineSocketCallback: ccurl_socket_callback = { _, socket, what, userp, socketp in
    guard let userp else { return 0 }
    Unmanaged<EngineCore>.fromOpaque(userp).takeUnretainedValue().socketChanged(socket, what: what, known: socketp != nil)
    return 0
}

/// libcurl's timer callback: finds the engine through `TIMERDATA` and sets the deadline its loop waits for.
private let engineTimerCallback: ccurl_timer_callback = { _, milliseconds, userp in
    guard let userp else { return 0 }
    Unmanaged<EngineCore>.fromOpaque(userp).takeUnretainedValue().poller.setTimer(milliseconds: milliseconds)
    return 0
}
#endif
