import Benchmark
import Foundation
@_spi(Benchmarks) import Haul
import HaulArchive

// The ZIP writer alone: bodies already in memory (the loopback archive's FITS-like bytes, which deflate
// to about 0.78) offered in libcurl's 16 KiB chunks to the entry sinks, CRC-32 and deflate on the
// workers, appended and closed by a central directory; no network. Streamed to a sink that drops the
// bytes (the writer's own cost) and, for store, to a file in the temporary folder (big entries then
// go straight into their regions, as `--zip FILE` does). Besides time: MB/s of input, and MB/s per
// core (input bytes over the process's CPU seconds, all threads), which says what the writer would do
// with the whole machine to itself.

/// Drops what it is given: the output costs nothing.
final class DiscardStream: DownloadTarget.ByteStream, @unchecked Sendable {
    var count = 0
    func write(_ bytes: UnsafeRawBufferPointer) throws { count += bytes.count }
}

let megabytesPerSecond = BenchmarkMetric.custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)
let megabytesPerCPUSecond = BenchmarkMetric.custom("MB/s per core", polarity: .prefersLarger, useScalingFactor: false)

/// CPU seconds of the whole process so far (every thread: the workers compress off the calling one).
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func zipWriterBenchmarks() {
    let entrySize = 8 << 20
    let body = ArchiveContent(uri: "mast:BENCH/zip/body.fits", size: Int64(entrySize), kind: .fits).allBytes
    let cases: [(name: String, entries: Int, compression: DownloadTarget.Compression, toFile: Bool)] = [
        ("store.32x8MiB.streamed", 32, DownloadTarget.Compression(.store), false),
        ("store.32x8MiB.toFile", 32, DownloadTarget.Compression(.store), true),
        ("deflate1.4x8MiB.streamed", 4, DownloadTarget.Compression(.deflate, level: 1), false),
        ("deflate6.4x8MiB.streamed", 4, DownloadTarget.Compression(.deflate, level: 6), false),
    ]
    for c in cases {
        Benchmark(
            "ZipWriter.\(c.name)",
            configuration: .init(
                metrics: Benchmark.defaultConfiguration.metrics + [megabytesPerSecond, megabytesPerCPUSecond],
                scalingFactor: .one, maxDuration: .seconds(15), maxIterations: 8
            )
        ) { benchmark in
            let path = NSTemporaryDirectory() + "/haul-zip-benchmark-\(UUID().uuidString).zip"
            defer { unlink(path) }
            let sink = DiscardStream()
            let cpu = processCPUSeconds()
            let clock = ContinuousClock.now
            benchmark.startMeasurement()
            let size = try await ZipWriterBenchmark.write(
                entries: c.entries, body: body, compression: c.compression, to: c.toFile ? .file(path) : .stream(sink)
            )
            benchmark.stopMeasurement()
            let seconds = clock.duration(to: .now) / .seconds(1)
            let cpuSeconds = processCPUSeconds() - cpu
            let input = Double(c.entries * entrySize)
            // A broken run must not post a good time: every byte is in the archive (stored), or it shrank (deflated).
            if c.compression.mode == .store {
                precondition(size > UInt64(input), "a stored archive is smaller than its entries: \(size)")
            } else {
                precondition(size < UInt64(input * 0.9) && size > UInt64(input * 0.5), "a deflated archive of \(size) bytes for \(Int(input))")
            }
            if !c.toFile { precondition(UInt64(sink.count) == size, "the stream got \(sink.count) bytes of \(size)") }
            benchmark.measurement(megabytesPerSecond, Int(input / 1e6 / seconds))
            benchmark.measurement(megabytesPerCPUSecond, Int(input / 1e6 / max(cpuSeconds, 1e-3)))
        }
    }
}
