import Dispatch
import Foundation
@testable import Haul
import HaulArchive
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Threads of the process's shared pools kept busy: `perPool` blocks on each of Dispatch's global queues
/// at these qualities of service (the cooperative pool that runs tasks is the default one), each
/// spinning until ``stop()`` or its deadline. A spinning worker is a running one to libdispatch, so no
/// thread is added to a pool it fills: work queued there waits for the spinners.
final class SpinningPools: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let spinning = Atomic<Int>(0)

    init(qualities: [DispatchQoS.QoSClass], perPool: Int, deadline: Duration) {
        let end = ContinuousClock.now + deadline
        for quality in qualities {
            for _ in 0..<perPool {
                DispatchQueue.global(qos: quality).async { [self] in
                    spinning.add(1, ordering: .relaxed)
                    defer { spinning.subtract(1, ordering: .relaxed) }
                    while !stopped.load(ordering: .relaxed) && ContinuousClock.now < end {}
                }
            }
        }
    }

    /// Blocks spinning now.
    var count: Int { spinning.load(ordering: .relaxed) }

    func stop() { stopped.store(true, ordering: .relaxed) }
}

/// `yes` processes taking the cores, as on a busy machine: stopped by PID.
final class Hogs: Sendable {
    private let children: Locked<[Spawned]>

    init(_ count: Int) throws {
        children = Locked(try (0..<count).map { _ in try Spawned("/usr/bin/yes", [], environment: environment([:])) })
    }

    func stop() {
        for child in children.withLock({ c in defer { c = [] }; return c }) {
            kill(child.pid, SIGKILL)
            _ = child.waitBlocking()
        }
    }

    deinit { stop() }
}

/// A test run again by itself in a child process of the test binary: for the tests that hold every
/// shared pool of their process. In the suite's own process, every other test running beside them
/// waits for those pools (Swift Testing runs test bodies on the cooperative pool), and on a loaded
/// machine the downloads under test took minutes (308 s at load 88), all of it lost to the other suites.
enum OwnProcess {
    static let variable = "HAUL_TEST_OWN_PROCESS"

    /// Whether this process is the child started for `test`.
    static func isChild(_ test: String) -> Bool { ProcessInfo.processInfo.environment[variable] == test }

    /// Runs `suite/test` in a child process (the same binary, so a sanitized one under a sanitizer,
    /// whose reports go where the parent's do), and records here its failure and its output.
    static func run(suite: String, test: String, timeout: Duration) async throws {
        let folder = TemporaryFolder()
        let output = folder.path + "/output.txt"
        let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let child = try Spawned(
            binary, ["--testing-library", "swift-testing", "--filter", "\(suite)/\(test)"],
            environment: environment([variable: test]), stdout: .file(output), stderr: .standardOutput
        )
        let (status, timedOut) = await child.wait(timeout: timeout)
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        // The filter must have found the test: a run of no test also ends with status 0.
        let ran = text.contains("Test run with 1 test")
        if status != 0 || timedOut || !ran {
            Issue.record("\(suite)/\(test) in its own process: status \(status)\(timedOut ? " (killed after \(timeout))" : "")\(ran ? "" : ", the test did not run"):\n\(text.suffix(6_000))")
        }
    }
}

// Serialized: each test holds every shared pool of its process, which would starve the other's own
// start (Swift Testing runs a test's body on the cooperative pool). Each runs in a process of its own
// (``OwnProcess``), so the rest of the suite does not wait for those pools.
@Suite("Contention: a download moves while the machine and the process's shared threads are busy", .serialized)
struct ContentionTests {
    /// The issue's stall: on a busy machine, a download's checksums, compression and writes queued on the
    /// process's shared Dispatch pools waited behind other work there for tens of seconds while every
    /// transfer was paused. Here every shared pool the library could use is held by spinning blocks (until
    /// the downloads end, 600 s at most), two `yes` processes take the cores, and three downloads (a stored bundle, a deflated
    /// stream, a folder tree) must each finish, with exact bytes, while the spinners still spin. The
    /// watchdog fails a run that stops moving for 15 s; the test's own tasks run on threads of their own.
    @Test("A stored bundle, a deflated --zip - and a --dir download finish while every shared pool spins and two hogs take the cores")
    func sharedPoolsHeld() async throws {
        guard OwnProcess.isChild("sharedPoolsHeld") else {
            return try await OwnProcess.run(suite: "ContentionTests", test: "sharedPoolsHeld", timeout: .seconds(900))
        }
        // The deadline is a safety net (stop() ends the spinners once the downloads are done): a
        // fresh-clone run at load 30, with the rest of the suite beside, took the downloads past 90 s,
        // moving all the while (the watchdog fails a run still for 15 s).
        try await whileBusy(spinning: .seconds(600)) { spinners in try await runThree(spinners: spinners) }
    }

    /// Runs `body` on two threads of the test's own while two `yes` processes take the cores and every
    /// shared pool spins (until `spinning` has passed, or `body` stops the spinners).
    private func whileBusy(spinning: Duration, _ body: @Sendable (SpinningPools) async throws -> Void) async throws {
        let own = WorkerPool(name: "test-contended", threads: 2)
        try await withTaskExecutorPreference(own) {
            let hogs = try Hogs(2)
            let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
            let spinners = SpinningPools(qualities: [.userInitiated, .default, .utility], perPool: 2 * cores, deadline: spinning)
            defer {
                spinners.stop()
                hogs.stop()
            }
            try await body(spinners)
        }
    }

    /// The same busy process, for what a download does on a timer: the backoff before a retry, the
    /// progress tick, the watchdog's tick. `Task.sleep` wakes through Dispatch's global queues, so with
    /// them held a 100 ms sleep ended only when the spinners did, and a download whose files answered
    /// 503 waited there for every retry; its progress line and watchdog stood still. Each file here
    /// fails twice before it is served, and one is served only after 3 s: the download must end while the
    /// spinners (120 s at most) still spin, and progress must have come on its interval meanwhile.
    @Test("Retry backoffs and progress ticks come on time while every shared pool spins and two hogs take the cores")
    func timedStepsWhilePoolsHeld() async throws {
        guard OwnProcess.isChild("timedStepsWhilePoolsHeld") else {
            return try await OwnProcess.run(suite: "ContentionTests", test: "timedStepsWhilePoolsHeld", timeout: .seconds(600))
        }
        try await whileBusy(spinning: .seconds(120)) { spinners in
            let folder = TemporaryFolder()
            var configuration = testConfiguration(parallel: 8, retries: 3)
            configuration.progressInterval = .milliseconds(100)
            configuration.watchdog = .init(after: .seconds(15), action: .fail)
            try await withTestArchive { archive in
                var products: [Product] = []
                for i in 0..<12 {
                    let p = product("t\(i).fits", dataset: "timed", size: 20_000)
                    archive.add(uri: p.uri, size: 20_000, faults: [.failing(2, retryAfter: nil)])
                    products.append(p)
                }
                let slow = product("slow.fits", dataset: "timed", size: 1_000)
                archive.add(uri: slow.uri, size: 1_000, faults: [.init(.delay(milliseconds: 3_000))])
                products.append(slow)
                let plan = Plan(products: products, selection: Selection(), root: "r", resolver: try URLResolver(archive: archive.url))
                let settle = ContinuousClock.now + .seconds(10)
                while spinners.count == 0 && ContinuousClock.now < settle { try await Wakeups.sleep(for: .milliseconds(10)) }
                #expect(spinners.count > 0, "no spinner started")

                let started = ContinuousClock.now
                var ticks = 0
                let report = try await withEngine(configuration) { engine in
                    try await engine.download(plan, to: .directory(folder.path)) { events in
                        // Snapshots of the first 3 s, while the slow file is still out: the ticker's.
                        for await event in events {
                            if case .progress(let p) = event, p.elapsed < .seconds(3) { ticks += 1 }
                        }
                    }
                }
                let took = started.duration(to: .now)
                #expect(spinners.count > 0, "the download took \(took), past the spinners' deadline")
                // Stopped here, not at the end: what follows (the archive's shutdown, the test's own end)
                // is not the library's and may use the shared pools.
                spinners.stop()
                #expect(report.ok == products.count)
                for p in products.dropLast() { #expect(archive.requests(for: p.uri) == 3, "\(p.filename)") }
                // 3 s at one snapshot per 100 ms is 30 (a reader that falls behind gets fewer, the newest);
                // a tenth of that on a loaded machine. Without a working tick, only the first comes.
                #expect(ticks >= 3, "\(ticks) progress snapshots in the first 3 s")
            }
        }
    }

    private func runThree(spinners: SpinningPools) async throws {
        let folder = TemporaryFolder()
        var configuration = testConfiguration(parallel: 4, retries: 2, stall: .seconds(20))
        configuration.watchdog = .init(after: .seconds(15), action: .fail)
        configuration.memoryLimit = 8 << 20
        try await withTestArchive { archive in
            // Sizes from empty to several blocks, in contents from all zeros to random bytes.
            let kinds: [ArchiveContent.Kind] = [.zeros, .ramp, .text, .floats, .random, .mixed]
            let sizes: [Int64] = [0, 1, 65_535, 300_000, 1_500_000]
            var products: [Product] = []
            var kindOf: [String: ArchiveContent.Kind] = [:]
            for (k, kind) in kinds.enumerated() {
                for (s, size) in sizes.enumerated() {
                    let name = "c\(k)_\(s)_\(kind.rawValue).fits"
                    let p = product(name, dataset: "contended", size: size)
                    archive.add(uri: p.uri, size: size, content: kind)
                    products.append(p)
                    kindOf[p.uri] = kind
                }
            }
            let plan = try zipPlan(products, archive: archive)
            let bundle = try #require(StoredBundle(plan: plan, credentials: nil, time: 1_750_000_000))
            // Wait until the spinners hold every pool, so the downloads start on a process already busy.
            let settle = ContinuousClock.now + .seconds(10)
            while spinners.count == 0 && ContinuousClock.now < settle { try await Wakeups.sleep(for: .milliseconds(10)) }
            #expect(spinners.count > 0, "no spinner started")

            let stored = CollectingStream()
            let deflated = CollectingStream()
            let tree = folder.path + "/tree"
            let started = ContinuousClock.now
            try await withEngine(configuration) { engine in
                async let a = engine.download(plan, to: .storedBundle(stored, bundle))
                async let b = engine.download(plan, to: .zipStream(deflated, DownloadTarget.Compression(.deflate, level: 1)))
                async let c = engine.download(plan, to: .directory(tree))
                let reports = try await [a, b, c]
                for report in reports { #expect(report.ok == products.count) }
            }
            let took = started.duration(to: .now)
            // Finished while the shared pools were still held: nothing of the downloads waited for them.
            #expect(spinners.count > 0, "the downloads took \(took), past the spinners' deadline")
            spinners.stop()

            #expect(UInt64(stored.bytes.count) == bundle.length)
            for (name, bytes) in [("stored", stored.bytes), ("deflated", deflated.bytes)] {
                let path = folder.path + "/\(name).zip"
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                let listing = try await zipDirectory(path)
                for p in products {
                    let expected = expectedDigest(ArchiveContent(uri: p.uri, size: p.size!, kind: kindOf[p.uri]!))
                    let got = listing["bundle/contended/" + p.filename]
                    #expect(got?.size == expected.size && got?.crc == expected.crc, "\(name): \(p.filename)")
                }
            }
            for p in products {
                let expected = expectedDigest(ArchiveContent(uri: p.uri, size: p.size!, kind: kindOf[p.uri]!))
                let got = fileDigest(folder.path + "/tree/contended/" + p.filename)
                #expect(got?.size == expected.size && got?.crc == expected.crc, "--dir: \(p.filename)")
            }
        }
    }
}
