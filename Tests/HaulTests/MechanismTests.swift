import Foundation
@testable import Haul
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The mechanisms every fetch shares, each tested without a network.
@Suite("Mechanisms: request headers, the retry loop, host health")
struct MechanismTests {
    @Test("-H headers go to the archive's origin only, bound to it; the caller's own follow them")
    func requestHeaders() {
        var configuration = Configuration()
        configuration.headers = ["X-Mirror: one"]
        configuration.headersOrigin = "https://archive.example"
        let onArchive = RequestHeaders(url: "https://archive.example:443/f.fits", configuration: configuration, adding: ["If-None-Match: \"e\""])
        #expect(onArchive.everywhere == ["If-None-Match: \"e\""])
        #expect(onArchive.originBound == ["X-Mirror: one"])
        let elsewhere = RequestHeaders(url: "https://other.example/f.fits", configuration: configuration, adding: ["If-None-Match: \"e\""])
        #expect(elsewhere == RequestHeaders(url: "http://archive.example/f.fits", configuration: configuration, adding: ["If-None-Match: \"e\""]))
        #expect(elsewhere.everywhere == ["If-None-Match: \"e\""] && elsewhere.originBound == [])
        configuration.headersOrigin = nil
        let everywhere = RequestHeaders(url: "https://other.example/f.fits", configuration: configuration, adding: ["A: b"])
        #expect(everywhere.everywhere == ["X-Mirror: one", "A: b"] && everywhere.originBound == [])
        #expect(RequestHeaders(url: "https://x.example/", configuration: Configuration()).everywhere == [])
    }

    /// An outcome of an attempt that could not connect (`CURLE_COULDNT_CONNECT`, `ECONNREFUSED`).
    private static let refused: AttemptOutcome = {
        var outcome = AttemptOutcome()
        outcome.curlCode = 7
        outcome.curlMessage = "Failed to connect to h.example port 80 after 0 ms: Connection refused"
        outcome.osErrno = ECONNREFUSED
        return outcome
    }()

    @Test("A transient failure is retried as the policy says, with its backoff, then reported with the attempts")
    func retriesThenFails() async {
        var policy = Configuration.RetryPolicy(retries: 3)
        policy.baseDelay = .milliseconds(400)
        policy.maxDelay = .seconds(10)
        let slept = Locked<[Duration]>([])
        var loop = RetryLoop(policy: policy, hosts: HostHealth(limit: 0), url: "http://h.example/f") { d in slept.withLock { $0.append(d) } }
        var outcome = AttemptOutcome()
        outcome.status = 503
        let status = await loop.run { _ in (outcome, .retry(reason: FileFailure(.httpError, "HTTP 503"), retryAfter: nil)) }
        #expect(status == .failed(FileFailure(.httpError, "HTTP 503 after 4 attempts")))
        #expect(loop.attempts == 4)
        let waits = slept.withLock { $0 }
        #expect(waits.count == 3)
        // Exponential from the base, each between half and all of its ceiling.
        for (i, wait) in waits.enumerated() {
            let ceiling = Duration.milliseconds(400) * (1 << i)
            #expect(wait >= ceiling / 2 && wait <= ceiling)
        }
    }

    @Test("A Retry-After is honoured up to the policy's cap; success ends the loop at once")
    func retryAfterThenSuccess() async {
        var policy = Configuration.RetryPolicy(retries: 5)
        policy.maxRetryAfter = .seconds(2)
        let slept = Locked<[Duration]>([])
        var loop = RetryLoop(policy: policy, hosts: HostHealth(limit: 0), url: "http://h.example/f") { d in slept.withLock { $0.append(d) } }
        let status = await loop.run { n in
            (nil, n == 1 ? .retry(reason: FileFailure(.httpError, "HTTP 429"), retryAfter: .seconds(60)) : .finished(.ok))
        }
        #expect(status == .ok && loop.attempts == 2)
        // Slept in steps of at most 100 ms, so a host given up on meanwhile wakes it; none is here.
        #expect(slept.withLock { $0 } == [.seconds(2)])
    }

    @Test("A host that refuses every connection is given up on: this fetch and the next end with its reason")
    func unreachableHost() async {
        let hosts = HostHealth(limit: 2)
        var policy = Configuration.RetryPolicy(retries: 10)
        policy.baseDelay = .milliseconds(1)
        var first = RetryLoop(policy: policy, hosts: hosts, url: "http://h.example/a") { _ in }
        let status = await first.run { _ in (Self.refused, .retry(reason: FileFailure(.unreachable, "cannot connect"), retryAfter: nil)) }
        #expect(status == .failed(FileFailure(.unreachable, "cannot reach h.example:80: connection refused")))
        #expect(first.attempts == 2)
        // A segment, or another file of the same host, goes through the same loop: no attempt at all.
        var second = RetryLoop(policy: policy, hosts: hosts, url: "http://h.example/b") { _ in }
        let again = await second.run { _ in
            Issue.record("an attempt to a host given up on")
            return (nil, .finished(.ok))
        }
        #expect(again == .failed(FileFailure(.unreachable, "cannot reach h.example:80: connection refused")) && second.attempts == 0)
        // A host that answered once is never given up on.
        var answered = AttemptOutcome()
        answered.status = 500
        hosts.record("other.example:80", answered)
        hosts.record("other.example:80", Self.refused)
        hosts.record("other.example:80", Self.refused)
        #expect(hosts.verdict("other.example:80") == nil)
    }

    @Test("The pause gate pauses at high water, wakes once at half, and at once when the sink fails")
    func pauseGate() {
        var gate = PauseGate(highWater: 100)
        var ok = gate.admits()
        #expect(ok)
        gate.took(60)
        ok = gate.admits()
        #expect(ok)
        gate.took(60)
        ok = gate.admits()
        #expect(!ok && gate.paused)
        gate.drained(20)
        ok = gate.wakeIsDue()
        #expect(!ok, "100 in flight: above half")
        gate.drained(50)
        ok = gate.wakeIsDue()
        #expect(ok, "50 in flight: half")
        ok = gate.wakeIsDue()
        #expect(!ok, "one wake per pause")
        // Never paused: nothing to wake, however far it drains.
        gate.drained(50)
        ok = gate.wakeIsDue()
        #expect(!ok && gate.inFlight == 0)
        // Paused, then the sink failed: the transfer is woken to learn of it from its next write.
        gate.took(150)
        ok = gate.admits()
        #expect(!ok)
        ok = gate.wakeIsDue(failed: true)
        #expect(ok)
        gate.reset()
        ok = gate.admits()
        #expect(gate.inFlight == 0 && ok)
    }

    @Test("One Range reader for both servers, resolved in a body of 1,000 bytes", arguments: [
        ("bytes=0-", "0-999"), ("bytes=10-19", "10-19"), ("Bytes = 5 - 5", "none"), ("bytes= 5 - 7", "5-7"),
        ("BYTES=3-", "3-999"), ("bytes=9-3", "none"), ("bytes=0-1,4-5", "none"), ("bytes=-500", "500-999"),
        ("bytes=-5000", "0-999"), ("bytes=-0", "416"), ("bytes=990-2000", "990-999"), ("bytes=1000-", "416"),
        ("items=0-1", "none"), ("bytes=-", "none"), ("bytes=x-1", "none"),
    ])
    func byteRange(value: String, expected: String) {
        guard let range = HTTPFields.byteRange(value) else { return #expect(expected == "none", "\(value)") }
        guard let resolved = HTTPFields.resolve(range, length: 1000) else { return #expect(expected == "416", "\(value)") }
        #expect("\(resolved.first)-\(resolved.last)" == expected, "\(value)")
    }

    @Test("One query decoder for both servers: + is a space, %XX a byte, bad escapes refused")
    func formPairs() throws {
        let pairs = try #require(HTTPFields.formPairs("a=1+2&b=%2B%20x&c&d=&=e&a=again"))
        #expect(pairs.map(\.0) == ["a", "b", "c", "d", "", "a"])
        #expect(pairs.map(\.1) == ["1 2", "+ x", "", "", "e", "again"])
        #expect(HTTPFields.formPairs("a=%zz") == nil)
        #expect(HTTPFields.formPairs("")?.isEmpty == true)
    }

    @Test("An HTTP date reads back as the time it was made from")
    func httpDate() {
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(HTTPDate.parse("not a date") == nil)
    }

    @Test("Read-all and write-all move every byte and stop short only at the end of the file")
    func fileIO() throws {
        let folder = TemporaryFolder()
        let fd = open(folder.path + "/f", O_RDWR | O_CREAT, 0o600)
        #expect(fd >= 0)
        defer { close(fd) }
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        #expect(bytes.withUnsafeBytes { FileIO.writeAll(fd, $0, at: 10) } == 0)
        var back = [UInt8](repeating: 0, count: 100_010)
        let (count, e) = back.withUnsafeMutableBytes { FileIO.readAll(fd, into: $0, at: 0) }
        #expect(count == 100_010 && e == 0)
        #expect(Array(back[10...]) == bytes && back[..<10].allSatisfy { $0 == 0 })
        var past = [UInt8](repeating: 0, count: 50)
        #expect(past.withUnsafeMutableBytes { FileIO.readAll(fd, into: $0, at: 100_000) }.count == 10)
        #expect(bytes.withUnsafeBytes { FileIO.writeAll(-1, $0) } == EBADF)
    }

    @Test("A bundle's file cache: a file is claimed while fetched; alone with no room for it, nothing is kept; with two requests a waiter gets the claimed file; a failed claim passes to a waiter; limits drop the oldest; the last request's end cuts to the lone bound")
    func bundleFileCache() async throws {
        let folder = NSTemporaryDirectory()
        func file(_ size: UInt64, crc: UInt32) throws -> BundleFileCache.File {
            BundleFileCache.File(spool: try SpoolFile(folder: folder), size: size, crc32: crc, modified: 7)
        }
        // No room for a request alone (what it keeps within its own bound: BundleFileCacheTests.bounds).
        let cache = BundleFileCache(byteLimit: 100, fileLimit: 2, aloneByteLimit: 0, aloneFileLimit: 0)
        cache.enter()
        guard case .claimed = await cache.take(1) else { Issue.record("the first to ask claims"); return }
        #expect(!cache.isShared)
        cache.publish(1, try file(10, crc: 1))
        #expect(cache.holding.files == 0, "one request alone, with no room, keeps nothing")
        cache.enter()
        #expect(cache.isShared)
        guard case .claimed = await cache.take(1) else { Issue.record("two requests: the first to ask claims"); return }
        // A second asker waits for the claim, then gets the file.
        let waiter = Task { await cache.take(1) }
        try await Task.sleep(for: .milliseconds(100))
        cache.publish(1, try file(10, crc: 0xABCD))
        guard case .ready(let got) = await waiter.value else { Issue.record("the waiter gets the published file"); return }
        #expect(got.crc32 == 0xABCD && got.size == 10)
        // A claim that fails passes to one waiter, which claims it itself.
        guard case .claimed = await cache.take(2) else { Issue.record("claim 2"); return }
        let second = Task { await cache.take(2) }
        try await Task.sleep(for: .milliseconds(100))
        cache.publish(2, nil)
        guard case .claimed = await second.value else { Issue.record("a failed claim passes to the waiter"); return }
        // A cancelled waiter stops waiting.
        let cancelled = Task { await cache.take(2) }
        try await Task.sleep(for: .milliseconds(100))
        cancelled.cancel()
        guard case .unclaimed = await cancelled.value else { Issue.record("a cancelled waiter returns"); return }
        cache.publish(2, try file(60, crc: 2))
        // Limits: 100 bytes and 2 files. A third file (120 bytes, 3 files) drops the least recently used
        // (1), then, still over 100 bytes, the next (2).
        guard case .claimed = await cache.take(3) else { Issue.record("claim 3"); return }
        cache.publish(3, try file(50, crc: 3))
        #expect(cache.holding.files == 1 && cache.holding.bytes == 50, "\(cache.holding)")
        guard case .claimed = await cache.take(1) else { Issue.record("1 was dropped (the oldest), so it is claimed again"); return }
        cache.publish(1, nil)
        // The last request's end cuts what is kept to the lone bound: here, nothing.
        cache.leave()
        cache.leave()
        #expect(cache.holding.files == 0 && cache.holding.bytes == 0)
    }
}

@Suite("Unnamed files: a --dir file has no name until complete")
struct UnnamedFileTests {
    @Test("Linked in under its name when complete; over a file already there it replaces it in one step; a file dropped before leaves nothing")
    func linkedWhenComplete() throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/a.fits", temporary = folder.path + "/.a.fits.haul-part"
        // This machine (Linux, ext4 or tmpfs, /proc) has them; elsewhere FileSink falls back to the
        // temporary name, which the folder tests cover.
        let fd = try #require(UnnamedFile.open(in: folder.path + "/"))
        #expect(write(fd, "new bytes", 9) == 9)
        #expect(listing(folder.path).isEmpty, "an unnamed file shows in its folder: \(listing(folder.path))")
        #expect(UnnamedFile.name(fd, path: path, temporary: temporary) == 0)
        close(fd)
        #expect(Bytes(readBytes(path)) == Bytes(Array("new bytes".utf8)))

        // A file already there (a changed product fetched again): replaced, the temporary name gone.
        try "old".write(toFile: path, atomically: false, encoding: .utf8)
        let again = try #require(UnnamedFile.open(in: folder.path))
        #expect(write(again, "newer", 5) == 5)
        #expect(Bytes(readBytes(path)) == Bytes(Array("old".utf8)))
        #expect(UnnamedFile.name(again, path: path, temporary: temporary) == 0)
        close(again)
        #expect(Bytes(readBytes(path)) == Bytes(Array("newer".utf8)))
        #expect(listing(folder.path) == ["a.fits"])

        // Dropped without a name: nothing is left.
        let dropped = try #require(UnnamedFile.open(in: folder.path))
        #expect(write(dropped, "partial", 7) == 7)
        close(dropped)
        #expect(listing(folder.path) == ["a.fits"])

        // A folder that is not there: no file, and the error is the caller's to report by name.
        #expect(UnnamedFile.open(in: folder.path + "/missing/") == nil)
    }
}
