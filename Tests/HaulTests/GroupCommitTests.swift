import Foundation
@testable import Haul
import Testing

/// The flushes of a stored bundle's records file (``GroupCommit``): a writer returns only after a
/// flush that began after its write, and writers that arrive while one runs share the next.
@Suite("Group commit")
struct GroupCommitTests {
    @Test("Eight threads writing at once: each returns after a flush that began after its write, and they share flushes")
    func sharedFlushes() async throws {
        // The number of the last write each flush covered, as it began; a slow disk's flush.
        let began = Locked<[UInt64]>([])
        let box = Locked<GroupCommit?>(nil)
        let commit = GroupCommit {
            let last = box.withLock { $0 }?.last ?? 0
            began.withLock { $0.append(last) }
            usleep(50_000)
        }
        box.withLock { $0 = commit }
        let late = Locked<[UInt64]>([])
        let threads = 8, rounds = 5
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<threads {
                group.addTask {
                    await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                        Thread {
                            for _ in 0..<rounds {
                                let number = commit.wrote()
                                commit.waitUntilFlushed(number)
                                // Some flush that began after this write was numbered has ended.
                                if !began.withLock({ $0.contains { $0 >= number } }) { late.withLock { $0.append(number) } }
                            }
                            c.resume()
                        }.start()
                    }
                }
            }
        }
        #expect(late.withLock { $0 }.isEmpty, "returned before a flush covered them: \(late.withLock { $0 })")
        // One flush a write would be 40; a turn takes about two (the one running, the next for all who came meanwhile).
        let flushes = commit.flushes
        #expect(flushes >= rounds && flushes < threads * rounds, "\(flushes) flushes for \(threads * rounds) writes")
        box.withLock { $0 = nil }
    }
}
