// swift-tools-version:6.1
import PackageDescription

// Haul's benchmarks, a package of their own so that building or embedding Haul never resolves the
// benchmark dependencies. Run from this folder: `swift package benchmark`.
let package = Package(
    name: "HaulBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "haul", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "Download",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Haul", package: "haul"),
                .product(name: "HaulArchive", package: "haul"),
            ],
            path: "Benchmarks/Download",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
