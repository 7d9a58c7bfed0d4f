import Foundation
@testable import Haul
import HaulArchive
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Descriptors this process has open now.
func openDescriptors() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// This process's resident memory now, in bytes (`/proc/self/statm`).
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return -1 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return -1 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// A byte stream that keeps nothing: a ZIP streamed nowhere.
final class DiscardStream: DownloadTarget.ByteStream, @unchecked Sendable {
    private let count = Locked<Int64>(0)
    func write(_ bytes: UnsafeRawBufferPointer) throws { count.withLock { $0 += Int64(bytes.count) } }
    var written: Int64 { count.withLock { $0 } }
}

@Suite("Soak", .serialized)
struct SoakTests {
    /// 20,000 transfers through one engine, in ten downloads of 2,000 (folders and streamed ZIPs in turn):
    /// open descriptors and resident memory, sampled after each, stop growing once the first two have
    /// warmed the pools (easy handles, page pool, zlib streams, the archive's connections).
    @Test("20,000 transfers through one engine: descriptors and resident memory flat after warm-up")
    func twentyThousand() async throws {
        guard ProcessInfo.processInfo.environment["HAUL_SOAK_CHILD"] != nil else {
            // In a process of its own: the descriptors and memory of the other suites running beside it
            // would be counted too.
            let me = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
            let folder = TemporaryFolder()
            let child = try HaulProcess(
                ["--testing-library", "swift-testing", "--filter", "SoakTests/twentyThousand"], in: folder.path,
                environment: ["HAUL_SOAK_CHILD": "1"], executable: me
            )
            let status = await child.wait(timeout: .seconds(900))
            #expect(status == 0, "the soak failed in its own process: \(child.stdout.suffix(4000)) \(child.stderr.suffix(2000))")
            let output = child.stdout + child.stderr
            #expect(output.contains("Test run with 1 test"), "the soak did not run in its own process: \(output.suffix(2000))")
            if let line = child.stdout.split(separator: "\n").first(where: { $0.hasPrefix("soak:") }) { print(line) }
            return
        }
        let folder = TemporaryFolder()
        try await withTestArchive(threads: 2) { archive in
            let products = (0..<2_000).map { i -> Product in
                let p = product(String(format: "s%04d.fits", i), dataset: "d\(i % 20)", size: 2_048)
                archive.add(uri: p.uri, size: 2_048, content: [.fits, .zeros, .random, .text][i % 4])
                return p
            }
            let plan = Plan(products: products, selection: Selection(quick: .all), root: "soak", resolver: try URLResolver(archive: archive.url))
            var config = testConfiguration(parallel: 128)
            config.watchdog = .init(after: .seconds(20), action: .fail)
            var samples: [(fds: Int, rss: Int)] = []
            let before = openDescriptors()
            try await withEngine(config) { engine in
                for round in 0..<10 {
                    let report: DownloadReport
                    if round % 2 == 0 {
                        let root = folder.path + "/round\(round)"
                        report = try await engine.download(plan, to: .directory(root))
                        try FileManager.default.removeItem(atPath: root)
                    } else {
                        let stream = DiscardStream()
                        report = try await engine.download(plan, to: .zipStream(stream, DownloadTarget.Compression(.auto, level: 1)))
                        #expect(stream.written > 2_000 * 22)
                    }
                    #expect(report.ok == 2_000, "round \(round): \(report.failed) failed, \(report.cancelled) cancelled")
                    samples.append((openDescriptors(), residentBytes()))
                }
            }
            print("soak: descriptors \(samples.map(\.fds)), resident MiB \(samples.map { $0.rss >> 20 })")
            // Descriptors: libcurl keeps up to `parallel` connections for reuse, and the in-process archive holds
            // the other end of each, so the count moves with the cache, within that bound, and never trends up.
            for (round, sample) in samples.enumerated() {
                #expect(sample.fds <= before + 2 * 128 + 32, "round \(round): \(sample.fds) descriptors open, \(before) before the engine")
            }
            let early = samples[1...3].map(\.fds).max()!
            #expect(samples[6...].map(\.fds).max()! <= early, "descriptors grew: \(samples.map(\.fds))")
            // Resident memory swings by ±15% from round to round (the allocator returns freed pages when it
            // will; under ThreadSanitizer, its shadow too), so the warm level is the most of the first three
            // rounds, not one sample that may be a low swing: a leak grows past it round after round.
            let warm = samples[0...2].map(\.rss).max()!
            for (round, sample) in samples.enumerated().dropFirst(3) {
                #expect(sample.rss <= warm + 24 << 20, "round \(round): \(sample.rss >> 20) MiB resident, at most \(warm >> 20) MiB in the first three rounds: \(samples.map { $0.rss >> 20 })")
            }
            #expect(archive.statistics.requests == 20_000)
        }
    }

    /// Thousands of transfers open at once. Here, in the serialized suite, because they hold thousands of
    /// descriptors the descriptor samples of the soak test above would count; after it, so that its
    /// resident-memory samples start from the state they always started from. 2,500 is past the engine's
    /// kept-connections limit (512), so both ways a connection ends are driven: kept for reuse, and closed
    /// when its transfer ends.
    @Test("Concurrent transfers in one run: every response open at once, each on its own connection", arguments: [1_000, 2_500])
    func concurrent(count: Int) async throws {
        #expect(Haul.raiseOpenFileLimit() >= 2 * count + 200, "\(count) transfers and their server need about \(2 * count + 200) descriptors")
        let folder = TemporaryFolder()
        try await withTestArchive(threads: 2) { archive in
            // Every body is held after its headers until all responses are open at once: the overlap is
            // decided by the archive, not by how fast a loaded machine starts transfers.
            let products = (0..<count).map { product(String(format: "f%04d.fits", $0), dataset: "d\($0 % 10)", size: 6_000) }
            for p in products { archive.add(uri: p.uri, size: 6_000, faults: [.init(.hold)]) }
            // Held transfers receive nothing: the stall window outlasts the wait for all of them.
            var config = testConfiguration(parallel: count, stall: .seconds(180))
            config.timeout.connect = .seconds(60)
            let plan = Plan(products: products, selection: Selection(), root: "r", resolver: try URLResolver(archive: archive.url))
            let (report, active) = try await withEngine(config) { engine in
                // A child task: leaving this scope by an error cancels the download and waits for it.
                let root = folder.path
                async let downloaded = engine.download(plan, to: .directory(root))
                let active: Int
                do {
                    try await waitUntil("\(count) responses open at once", timeout: .seconds(120), seen: {
                        "\(archive.statistics.peakConcurrentResponses) open, \(engine.activeTransfers) transfers"
                    }) { archive.statistics.peakConcurrentResponses == count }
                    active = engine.activeTransfers
                } catch {
                    archive.release()
                    throw error
                }
                archive.release()
                return (try await downloaded, active)
            }
            #expect(report.exitStatus == 0)
            #expect(report.ok == count)
            #expect(active == count)
            // The server saw all of them open at once, each on its own connection.
            #expect(archive.statistics.peakConcurrentResponses == count)
            #expect(archive.statistics.connections == count)
            #expect(archive.statistics.requests == count)
            #expect(Bytes(readBytes(folder.path + "/d7/f0997.fits")) == Bytes(archive.content(of: "mast:JWST/product/f0997.fits")))
        }
    }
}
