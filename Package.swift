// swift-tools-version:6.1
import PackageDescription

// Haul: an archive's product list → files, through hundreds of concurrent libcurl transfers.
//
// Targets follow the pipeline: `CCurl`, `CZlib`, `CDeflate` (libdeflate's CRC-32, on Linux) and
// `CHaulSystem` are thin C modules over the system,
// `Haul` is the engine (catalog → selection → plan → transfers → bundle → manifest), `HaulArchive`
// is the loopback MAST-like archive shared by the tests, `haul demo` and the benchmarks, and `haul`
// is the command-line layer; `HaulServe` is the Download Overlay as a web server (`haul serve`).
// Linux only: the engine's thread, `epoll` loop, `O_TMPFILE` spool files and `sendfile` are written
// and tested for Linux, and no macOS build is made or tested, so no macOS platform is declared. The few
// Darwin branches left in the sources (`#else` of `#if os(Linux)`) are where a port would start; calls
// whose names a method hides go through `Sources/Haul/Support/System.swift`.
// Benchmarks live in their own package under `Benchmarks/` so that an
// embedding program never resolves the benchmark dependencies.

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "haul",
    products: [
        .library(name: "Haul", targets: ["Haul"]),
        .library(name: "HaulArchive", targets: ["HaulArchive"]),
        .library(name: "HaulServe", targets: ["HaulServe"]),
        .executable(name: "haul", targets: ["haul"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // `haul bench`'s latency percentiles: the HDR histogram load generators (wrk2, h2load) report from.
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        // `swift package generate-documentation --target Haul`: the DocC catalog in Sources/Haul/Haul.docc.
        // A command plugin only: nothing of it is linked into Haul or resolved into a build product.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CCurl",
            path: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            path: "Sources/CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // libdeflate's CRC-32 (carry-less multiplication) for every checksum over data; zlib keeps
        // compression and `crc32_combine`. Linux only: elsewhere the system's zlib CRC-32 serves.
        .systemLibrary(
            name: "CDeflate",
            path: "Sources/CDeflate",
            pkgConfig: "libdeflate",
            providers: [.apt(["libdeflate-dev"])]
        ),
        .systemLibrary(
            name: "CHaulSystem",
            path: "Sources/CHaulSystem"
        ),
        // A SIGBUS handler, so a catalog file cut short while it is mapped is an error, not a crash:
        // C, because a signal handler cannot be written in Swift.
        .target(
            name: "CMappedGuard",
            path: "Sources/CMappedGuard"
        ),
        .target(
            name: "Haul",
            dependencies: [
                "CCurl", "CZlib", "CHaulSystem", "CMappedGuard",
                .target(name: "CDeflate", condition: .when(platforms: [.linux])),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "HaulArchive",
            dependencies: [
                "Haul",
                "CZlib",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Download Overlay as a web server (`haul serve`): beside the CLI, on SwiftNIO like
        // HaulArchive; the `Haul` library never imports it.
        .target(
            name: "HaulServe",
            dependencies: [
                "Haul",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "haul",
            dependencies: [
                "Haul",
                "HaulArchive",
                "HaulServe",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HaulTests",
            dependencies: [
                "Haul", "HaulArchive", "HaulServe", "CZlib", "CHaulSystem",
                .target(name: "CDeflate", condition: .when(platforms: [.linux])),
            ],
            // Catalogs in each format, read by path (#filePath), not bundled.
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
    ]
)
