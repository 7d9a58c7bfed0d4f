import Benchmark
import Foundation
import Haul
import HaulArchive

// The segment path: one 128 MiB product that the loopback archive serves with ranges, fetched as eight
// 16 MiB segments over eight connections (the default Configuration.Segmentation: 64 MiB threshold,
// 16 MiB segments), each written at its offsets, into a folder and into a stored ZIP entry's region.
// The loopback archive has no rate cap: this measures what segments cost, not what they win against a
// capped server (../compare's capped case does that).

func segmentBenchmarks() {
    let size: Int64 = 128 << 20
    let outputs: [(name: String, target: @Sendable (String) -> DownloadTarget)] = [
        ("dir", { .directory($0) }),
        ("zipStore", { .zip($0 + ".zip", DownloadTarget.Compression(.store)) }),
    ]
    for output in outputs {
        Benchmark(
            "Segments.128MiBIn8.\(output.name)",
            configuration: .init(scalingFactor: .one, maxDuration: .seconds(20), maxIterations: 8)
        ) { benchmark in
            try await withTestArchive(threads: 1) { archive in
                let product = Product(uri: "mast:JWST/product/big.fits", filename: "big.fits", dataset: "big", size: size)
                archive.add(uri: product.uri, size: size)
                let plan = Plan(products: [product], selection: Selection(), root: "bench", resolver: try URLResolver(archive: archive.url))
                let root = NSTemporaryDirectory() + "/haul-benchmark-\(UUID().uuidString)"
                defer {
                    try? FileManager.default.removeItem(atPath: root)
                    try? FileManager.default.removeItem(atPath: root + ".zip")
                }
                benchmark.startMeasurement()
                let report = try await withEngine(Configuration()) { engine in
                    try await engine.download(plan, to: output.target(root))
                }
                benchmark.stopMeasurement()
                precondition(report.ok == 1 && report.bytesReceived >= size, "segmented download failed: \(report.failed) failed")
                precondition(archive.statistics.rangeRequests >= 8, "expected 8 segments, saw \(archive.statistics.rangeRequests) range requests")
            }
        }
    }
}
