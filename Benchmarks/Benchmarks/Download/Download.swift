import Benchmark
import Foundation
import Haul
import HaulArchive

// `haul download --dir` as a library call against the loopback archive: throughput (files and bytes),
// CPU and peak memory. The comparison with curl, wget2 and aria2 on nginx is ../compare. What `haul
// select` costs: reading a 100,000-row and a 1,000,200-row CAOM product list and planning a selection.
// The ZIP writer alone (ZipWriter.swift) and the segment path (Segments.swift).
//
// Every benchmark counts mallocs: `Benchmarks/Thresholds/` keeps their p90, and
// `swift package benchmark thresholds check --metric mallocCountTotal` fails when one moves by more
// than the tolerance below (allocation counts are stable where times are not). Names have neither
// spaces nor slashes: ordo-one 1.38.1 writes a threshold file with them replaced by `_` but looks for
// it under the name as it is.

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .peakMemoryResident, .throughput, .mallocCountTotal],
        maxDuration: .seconds(20),
        maxIterations: 10,
        // Sinks pause and wake, and chunks finish, as timing decides, which moves the count by up to a
        // fifth between runs on a loaded machine; an allocation per chunk or per block would be ×10.
        thresholds: [.mallocCountTotal: .init(relative: [.p90: 25], absolute: [:])]
    )

    zipWriterBenchmarks()
    segmentBenchmarks()

    let resolver = try! URLResolver(archive: "http://127.0.0.1:1")
    Benchmark("Select.100kRows.parseAndPlan", configuration: .init(scalingFactor: .one)) { benchmark in
        let products = try Catalog.parse(caom100k, name: "caom100k.json")
        let plan = Plan(products: products, selection: Selection(), root: "bench", resolver: resolver)
        precondition(plan.entries.count == 80_020, "expected every row but the 20,000 guide-star rows")
        blackHole(try plan.page(1, size: 100))
    }
    Benchmark("Select.100kRows.everySelector", configuration: .init(scalingFactor: .one)) { benchmark in
        let products = try Catalog.parse(caom100k, name: "caom100k.json")
        let selection = Selection(
            quick: .recommended, levels: ["2b"], suffixes: ["i2d"], guideStars: true, pipelineInputs: true,
            pattern: try Selection.FileNamePattern("/_(cal|i2d|uncal)\\./i")
        )
        blackHole(Plan(products: products, selection: selection, root: "bench", resolver: resolver).summary)
    }

    Benchmark(
        // What `haul select --json` does between reading the file and printing.
        "Select.1MRows.parsePlanAndPage",
        configuration: .init(scalingFactor: .one, maxDuration: .seconds(60), maxIterations: 3)
    ) { benchmark in
        let products = try Catalog.parse(millionRowCAOM, name: "caom1m.json")
        precondition(products.count == 1_000_200, "expected ten copies of the 100,020 rows")
        let plan = Plan(products: products, selection: Selection(), root: "bench", resolver: resolver)
        blackHole(try plan.page(1, size: 100))
    }

    for (name, count, size) in [("200x1MB", 200, 1_000_000), ("2000x16kB", 2_000, 16_000)] {
        Benchmark("Download.dir.\(name).parallel64", configuration: .init(scalingFactor: .one)) { benchmark in
            try await withTestArchive(threads: 1) { archive in
                let products = (0..<count).map {
                    Product(uri: "mast:JWST/product/f\($0).fits", filename: "f\($0).fits", dataset: "d\($0 % 20)", size: Int64(size))
                }
                for p in products { archive.add(uri: p.uri, size: Int64(size)) }
                let plan = Plan(products: products, selection: Selection(), root: "bench", resolver: try URLResolver(archive: archive.url))
                let root = NSTemporaryDirectory() + "/haul-benchmark-\(UUID().uuidString)"
                defer { try? FileManager.default.removeItem(atPath: root) }
                benchmark.startMeasurement()
                let report = try await withEngine(Configuration()) { engine in
                    try await engine.download(plan, to: .directory(root))
                }
                benchmark.stopMeasurement()
                precondition(report.ok == count, "benchmark download failed: \(report.failed) files")
                try? FileManager.default.removeItem(atPath: root)
            }
        }
    }
}

// 2,500 JWST observations of 32 rows and 1,430 HST associations of 14: 100,020 rows, about 80 MB.
// Made on first use (a global): ordo-one starts this executable once for each benchmark, and making
// it takes a while, which only the select benchmarks should pay.
let caom100k: Data = SampleCatalog(jwstObservations: 2_500, hstObservations: 1_430).caomJSON()

// A million rows (docs/performance.md, "A catalog of a million rows"): the 100k sample's rows ten times, each copy's URIs, file names and
// datasets made its own, as one {"data": [...]} document (about 700 MB). Made on first use (a global),
// so that the other benchmarks neither wait for it nor carry it in their peak memory.
let millionRowCAOM: Data = {
    let text = String(decoding: caom100k, as: UTF8.self)
    let open = text.range(of: "[", range: text.range(of: "\"data\"")!.upperBound..<text.endIndex)!.upperBound
    let close = text.range(of: "]", options: .backwards, range: open..<text.range(of: "\"fields\"")!.lowerBound)!.lowerBound
    let rows = String(text[open..<close])
    var document = "{\"data\":["
    for copy in 0..<10 {
        if copy > 0 { document += "," }
        document += rows.replacingOccurrences(of: "\"mast:", with: "\"mast:c\(copy)")
            .replacingOccurrences(of: "\"productFilename\" : \"", with: "\"productFilename\" : \"c\(copy)")
            .replacingOccurrences(of: "\"obs_id\" : \"", with: "\"obs_id\" : \"c\(copy)")
    }
    return Data((document + "]}").utf8)
}()
