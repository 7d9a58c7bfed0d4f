import Foundation
@testable import Haul  // EventChannel is internal
import HaulArchive
import Testing

@Suite("Download events and failure codes")
struct DownloadEventsTests {
    static func snapshot(_ done: Int) -> DownloadEvent.Progress {
        DownloadEvent.Progress(filesTotal: 100_000, filesDone: done, filesFailed: 0, bytesDone: Int64(done), bytesTotal: nil,
                         activeTransfers: 0, elapsed: .zero, bytesPerSecond: 0)
    }

    @Test("A reader that falls behind loses no record: progress is coalesced to the newest snapshot, after the records before it")
    func noRecordIsDropped() async {
        let channel = EventChannel()
        // More records than the 65,536 a bounded stream kept, and a snapshot every hundred.
        for i in 0..<100_000 {
            channel.yield(.warning(String(i)))
            if i % 100 == 0 { channel.yield(.progress(Self.snapshot(i))) }
        }
        channel.finish()
        var warnings: [Int] = []
        var progress: [(after: Int, done: Int)] = []
        for await event in DownloadEvents(channel) {
            switch event {
            case .warning(let text): warnings.append(Int(text)!)
            case .progress(let p): progress.append((warnings.count, p.filesDone))
            default: Issue.record("unexpected \(event)")
            }
        }
        #expect(warnings == Array(0..<100_000))
        // Only the newest snapshot was kept, delivered after the 99,901 records queued before it.
        #expect(progress.count == 1)
        #expect(progress.first?.after == 99_901 && progress.first?.done == 99_900)
    }

    @Test("A waiting reader gets each event as it comes; the end, and a cancelled reader, end the sequence")
    func handOff() async throws {
        let channel = EventChannel()
        let reader = Task {
            var seen: [String] = []
            for await event in DownloadEvents(channel) {
                if case .warning(let text) = event { seen.append(text) }
                if case .progress(let p) = event { seen.append("p\(p.filesDone)") }
            }
            return seen
        }
        for i in 0..<50 {
            channel.yield(.warning(String(i)))
            channel.yield(.progress(Self.snapshot(i)))
            if i % 10 == 0 { try await Task.sleep(for: .milliseconds(5)) }
        }
        channel.finish()
        let seen = await reader.value
        // Every record, in order; snapshots only where the reader was ahead, and the last one always.
        #expect(seen.filter { !$0.hasPrefix("p") } == (0..<50).map(String.init))
        #expect(seen.last == "p49")
        // Events after the end are dropped, not delivered to a later reader.
        channel.yield(.warning("late"))
        var after = 0
        for await _ in DownloadEvents(channel) { after += 1 }
        #expect(after == 0)

        let idle = EventChannel()
        let waiting = Task { () -> Int in
            var n = 0
            for await _ in DownloadEvents(idle) { n += 1 }
            return n
        }
        try await Task.sleep(for: .milliseconds(20))
        waiting.cancel()
        #expect(await waiting.value == 0)
    }

    @Test("A slow reader of a real download sees every file's row and transfer, and the final progress")
    func slowReader() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let products = (0..<300).map { product("f\($0).fits", dataset: "d", size: 1_000) }
            for p in products { archive.add(uri: p.uri, size: 1_000) }
            let plan = Plan(products: products, selection: Selection(), root: "r", resolver: try URLResolver(archive: archive.url))
            var rows = 0
            var transfers = 0
            var last: DownloadEvent.Progress?
            let report = try await withEngine(testConfiguration(parallel: 32)) { engine in
                try await engine.download(plan, to: .directory(folder.path)) { events in
                    // Reads nothing until most of the download is over.
                    try? await Task.sleep(for: .seconds(1))
                    for await event in events {
                        switch event {
                        case .file: rows += 1
                        case .transfer: transfers += 1
                        case .progress(let p): last = p
                        case .warning: break
                        }
                    }
                }
            }
            #expect(report.ok == 300)
            #expect(rows == 300 && transfers == 300)
            #expect(last?.filesDone == 300 && last?.filesTotal == 300)
        }
    }

    @Test("The download ends with its caller's closure: an error thrown there cancels it and comes out")
    func consumerThrows() async throws {
        struct Stop: Error {}
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let products = (0..<8).map { product("s\($0).fits", dataset: "d", size: 1_000_000) }
            for p in products { archive.add(uri: p.uri, size: 1_000_000, faults: [.init(.stall(after: 10_000))]) }
            let plan = Plan(products: products, selection: Selection(), root: "r", resolver: try URLResolver(archive: archive.url))
            let active = try await withEngine(testConfiguration(stall: .seconds(60))) { engine in
                await #expect(throws: Stop.self) {
                    try await engine.download(plan, to: .directory(folder.path)) { events in
                        for await case .progress(let p) in events where p.activeTransfers > 0 { throw Stop() }
                    }
                }
                // Returned only once the download had stopped: nothing of it is left on the engine.
                return engine.activeTransfers
            }
            #expect(active == 0)
        }
    }

    @Test("A failed file's row carries a code with the manifest's words; the CSV keeps its columns", arguments: [
        (404, FileFailure.Code.notFound), (410, .notFound), (401, .unauthorized), (403, .forbidden), (400, .httpError),
    ])
    func failureCodes(status: Int, code: FileFailure.Code) async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let good = product("good.fits", dataset: "d", size: 1_000)
            let bad = product("bad.fits", dataset: "d", size: 1_000)
            archive.add(uri: good.uri, size: 1_000)
            archive.add(uri: bad.uri, size: 1_000, faults: [.init(.status(status))])
            let plan = Plan(products: [good, bad], selection: Selection(), root: "r", resolver: try URLResolver(archive: archive.url))
            let report = try await withEngine(testConfiguration()) { engine in
                try await engine.download(plan, to: .directory(folder.path))
            }
            let row = try #require(report.manifest.rows.first { $0.uri == bad.uri })
            #expect(row.failure == FileFailure(code, "HTTP \(status)"))
            #expect(row.statusText == "FAILED: HTTP \(status)")
            #expect(report.manifest.rows.first { $0.uri == good.uri }?.failure == nil)
            let csv = try String(contentsOfFile: folder.path + "/manifest.csv", encoding: .utf8)
            #expect(csv.hasPrefix(Manifest.columns.joined(separator: ",") + "\r\n"))
            #expect(csv.contains("FAILED: HTTP \(status)"))
        }
    }

    @Test("Transport failures get their codes: an unreachable host, a size that is not the catalog's")
    func transportCodes() async throws {
        let folder = TemporaryFolder()
        try await withTestArchive { archive in
            let short = product("short.fits", dataset: "d", size: 1_000)
            archive.add(uri: short.uri, size: 1_000, faults: [.init(.wrongLength(delta: -10), times: 100)])
            let plan = Plan(products: [short], selection: Selection(), root: "r", resolver: try URLResolver(archive: archive.url))
            let unreachable = Plan(products: [product("x.fits", dataset: "d", size: 10)], selection: Selection(), root: "u",
                                   resolver: try URLResolver(archive: "http://127.0.0.1:1"))
            let (sized, refused) = try await withEngine(testConfiguration(retries: 1)) { engine in
                (try await engine.download(plan, to: .directory(folder.path + "/a")),
                 try await engine.download(unreachable, to: .directory(folder.path + "/b")))
            }
            #expect(sized.manifest.rows.first?.failure?.code == .sizeMismatch)
            #expect(refused.manifest.rows.first?.failure?.code == .unreachable)
        }
    }
}
