import Foundation
@testable import Haul
import Testing

/// Every sleeper here runs on a pool of its own, as a download's tasks do: `ContentionTests`, which may
/// run beside these, holds the process's shared pools, and a task there would wait for them whatever
/// `Wakeups` did. Durations are measured from inside those tasks.
@Suite("Wake-ups: sleeps that end on Haul's own thread")
struct WakeupsTests {
    @Test("A sleep on a download's threads ends on time while every shared pool spins")
    func wakesWhilePoolsHeld() async throws {
        let own = WorkerPool(name: "test-wakeups", threads: 1)
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let spinners = SpinningPools(qualities: [.userInitiated, .default, .utility], perPool: 2 * cores, deadline: .seconds(60))
        defer { spinners.stop() }  // at the latest; stopped below, from the pool's own thread
        let settle = ContinuousClock.now + .seconds(10)
        while spinners.count == 0 && ContinuousClock.now < settle { usleep(1_000) }
        let late = try await Task(executorPreference: own) {
            var latest = Duration.zero
            for _ in 0..<10 {
                let start = ContinuousClock.now
                try await Wakeups.sleep(for: .milliseconds(100))
                let slept = start.duration(to: .now)
                #expect(slept >= .milliseconds(100), "woke early: \(slept)")
                latest = max(latest, slept - .milliseconds(100))
            }
            // Checked and stopped here: the test's own task, to which this value goes back, runs on
            // the shared pool the spinners hold.
            #expect(spinners.count > 0, "the sleeps outlasted the spinners")
            spinners.stop()
            return latest
        }.value
        // Wake-up latency on a machine with two cores and a dozen spinning threads: far below this.
        #expect(late < .seconds(3), "a 100 ms sleep was \(late) late")
    }

    @Test("Many sleeps at once: none ends before its deadline, and all end")
    func manyAtOnce() async throws {
        let own = WorkerPool(name: "test-wakeups", threads: 2)
        var generator = SystemRandomNumberGenerator()
        let durations = (0..<500).map { _ in Duration.milliseconds(Int.random(in: 0...300, using: &generator)) }
        let (early, took) = try await withTaskExecutorPreference(own) {
            let start = ContinuousClock.now
            let early = try await withThrowingTaskGroup(of: Bool.self) { group in
                for d in durations {
                    group.addTask {
                        let t = ContinuousClock.now
                        try await Wakeups.sleep(for: d)
                        return t.duration(to: .now) < d
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            return (early, start.duration(to: .now))
        }
        #expect(early == 0)
        #expect(took < .seconds(30))
    }

    @Test("Cancelling a sleep ends it at once with CancellationError, before it starts or while it waits")
    func cancellation() async throws {
        let own = WorkerPool(name: "test-wakeups", threads: 2)
        try await withTaskExecutorPreference(own) {
            // While it waits: a 100 s sleep.
            let waiting = Task(executorPreference: own) { try await Wakeups.sleep(for: .seconds(100)) }
            try await Wakeups.sleep(for: .milliseconds(50))
            let cancelled = ContinuousClock.now
            waiting.cancel()
            await #expect(throws: CancellationError.self) { try await waiting.value }
            #expect(cancelled.duration(to: .now) < .seconds(5))

            // Before it starts: the task is cancelled already.
            let before = Task(executorPreference: own) {
                withUnsafeCurrentTask { $0?.cancel() }
                try await Wakeups.sleep(for: .seconds(100))
            }
            await #expect(throws: CancellationError.self) { try await before.value }

            // Cancelled from many tasks at the moments they go to sleep, so some cancellations land
            // between the check and the wait: every one must still end, none waits out its 100 s.
            let start = ContinuousClock.now
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<200 {
                    let sleeper = Task(executorPreference: own) { try await Wakeups.sleep(for: .seconds(100)) }
                    group.addTask { sleeper.cancel() }
                    group.addTask { _ = try? await sleeper.value }
                }
            }
            #expect(start.duration(to: .now) < .seconds(30))

            // A cancelled sleep leaves nothing behind: a thousand hour-long sleeps, cancelled, are gone
            // from the order at once. On a wake-up thread of the test's own, so that the count is
            // theirs alone (other suites sleep on the shared one).
            let thread = WakeupThread()
            let hours = (0..<1_000).map { _ in Task(executorPreference: own) { try await thread.sleep(nanoseconds: 3_600_000_000_000) } }
            let settle = ContinuousClock.now + .seconds(60)
            while thread.count < 1_000 && ContinuousClock.now < settle { try await Wakeups.sleep(for: .milliseconds(5)) }
            #expect(thread.count == 1_000, "the sleeps did not all start")
            for task in hours { task.cancel() }
            for task in hours { _ = try? await task.value }
            #expect(thread.count == 0)
        }
    }

    @Test("A zero, negative or huge duration: at once, at once, and until cancelled")
    func edges() async throws {
        let own = WorkerPool(name: "test-wakeups", threads: 1)
        try await withTaskExecutorPreference(own) {
            let start = ContinuousClock.now
            try await Wakeups.sleep(for: .zero)
            try await Wakeups.sleep(for: .seconds(-5))
            try await Wakeups.sleep(until: .now - .seconds(1))
            #expect(start.duration(to: .now) < .seconds(2))
            // Past Int64.max nanoseconds, in whole seconds and with the last fraction: both wait.
            for huge in [Duration.seconds(Int64.max), .seconds(Int64.max / 1_000_000_000) + .nanoseconds(999_999_999)] {
                let forever = Task(executorPreference: own) { try await Wakeups.sleep(for: huge) }
                try await Wakeups.sleep(for: .milliseconds(20))
                forever.cancel()
                await #expect(throws: CancellationError.self) { try await forever.value }
            }
        }
    }
}
