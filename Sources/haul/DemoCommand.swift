import ArgumentParser
import Foundation
import Haul
import HaulArchive

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Download a sample JWST and HST product list from Haul's own loopback archive (no network).",
        discussion: """
        Starts the loopback archive on 127.0.0.1, writes its sample MAST product list (CAOM JSON, a few \
        hundred products with duplicates, guide-star and exclusive-access rows) to DIR/catalog.json, and \
        downloads the recommended set into the ZIP DIR/recommended.zip with a live progress bar; the \
        manifest is inside it at recommended/manifest.html. With --dir-tree it writes a folder tree instead.
        """
    )

    @Option(help: ArgumentHelp("Where the catalog and the files go.", valueName: "dir"))
    var dir: String = "haul-demo"

    @Option(help: "Concurrent transfers.")
    var parallel: Int = 256

    @Option(help: "Progress: auto, bar, json, none.")
    var progress: ProgressMode = .auto

    @Flag(name: .customLong("dir-tree"), help: "Write DIR/recommended/ as a folder tree instead of a ZIP.")
    var dirTree = false

    @OptionGroup(title: "Compression") var compression: CompressionOptions

    @Option(help: "Multiplies the sample's file sizes (1 gives about 240 MB of recommended files).")
    var scale: Double = 1

    func validate() throws {
        guard (1...20_000).contains(parallel) else { throw ValidationError("--parallel must be between 1 and 20000") }
        guard scale > 0, scale <= 1000 else { throw ValidationError("--scale must be greater than 0 and at most 1000") }
    }

    func run() async throws {
        let sample = SampleCatalog(scale: scale)
        let report = try await withTestArchive(threads: 2) { archive in
            try Folder.make(dir)
            let catalogPath = dir + "/catalog.json"
            do {
                try sample.install(in: archive, catalogAt: catalogPath)
            } catch {
                throw HaulError(.output, "cannot write \(catalogPath): \(error.localizedDescription)")
            }
            Terminal.note("loopback archive at \(archive.url); sample catalog \(catalogPath) (\(sample.rows.count) rows)")
            let catalog = try Catalog.load(paths: [catalogPath])
            let plan = Plan(
                products: catalog.products, selection: Selection(quick: .recommended), root: "recommended",
                resolver: try URLResolver(archive: archive.url)
            )
            var configuration = Configuration()
            configuration.parallel = parallel
            let target: DownloadTarget = dirTree ? .directory(dir + "/recommended") : .zip(dir + "/recommended.zip", compression.value)
            let report = try await Runner.download(plan, to: target, configuration: configuration, progress: progress)
            let stats = archive.statistics
            Terminal.note("the archive answered \(Format.count(stats.requests, "request")) over \(Format.count(stats.connections, "connection"))")
            return report
        }
        Terminal.note("next: `haul select \(dir)/catalog.json --guidestar --level 2b` previews another selection; `haul --help` shows the rest")
        throw ExitStatus(code: report.exitStatus)
    }
}

enum Folder {
    /// `mkdir -p`.
    static func make(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw HaulError(.output, "cannot create \(path): \(error.localizedDescription)")
        }
    }
}

/// `haul sample` (hidden): writes the loopback archive's sample catalog at any size, for benchmarks.
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Write the demo's sample CAOM product list at a chosen size (for benchmarks).",
        shouldDisplay: false
    )

    @Option(help: "JWST observations (32 rows each).")
    var jwst: Int = 10

    @Option(help: "HST associations (14 rows each).")
    var hst: Int = 30

    @Option(help: "Multiplies every file size.")
    var scale: Double = 1

    @Option(name: .shortAndLong, help: "Where to write the JSON.")
    var output: String

    func validate() throws {
        guard (0...1_000_000).contains(jwst), (0...1_000_000).contains(hst) else { throw ValidationError("--jwst and --hst must be between 0 and 1000000") }
        guard scale > 0, scale <= 1000 else { throw ValidationError("--scale must be greater than 0 and at most 1000") }
    }

    func run() throws {
        let sample = SampleCatalog(jwstObservations: jwst, hstObservations: hst, scale: scale)
        do {
            try sample.caomJSON().write(to: URL(fileURLWithPath: output))
        } catch {
            throw HaulError(.output, "cannot write \(output): \(error.localizedDescription)")
        }
        Terminal.note("wrote \(output): \(sample.rows.count.grouped) rows")
    }
}
