import ArgumentParser
import Foundation
import Haul
import HaulArchive
import HaulServe

/// `haul serve`: the Download Overlay in the browser, on Haul's engine.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the Download Overlay in a browser: select, preview, export, and stream the ZIP.",
        discussion: """
        Prints the page's address (open it in a browser; --open does). The page shows the overlay's \
        eight elements over the catalogs given: the selection summary, quick select, levels and their \
        product types, guide-star files, a regex box, the paginated preview and CSV export, \
        NESTED/FLAT, START DOWNLOAD (the ZIP streamed through the browser as it is written) and API \
        QUERY (the curl script). Without catalogs, the page asks for a product list to upload or URIs \
        to paste. --demo serves the sample catalog from Haul's own loopback archive, offline.

        The same interface answers programs, with the command line's selector names as query names: \
        GET /summary.json (what select --json prints), /preview.json?page=N&page-size=M, /export.csv, \
        /script.sh, /download.zip; POST /download.zip with a product list as the body streams its bundle.

        Stored (compression=store) with every file's size known, a bundle states its length \
        (Content-Length, so a browser shows the time left) and is the same bytes, with the same ETag, \
        on every request and after a restart: any Range of it is answered, fetching only the files \
        whose entries it overlaps, so a broken download resumes (browsers do it themselves; curl -C -, \
        wget -c) and download managers may split it (aria2c -x8).

        It listens on 127.0.0.1 unless --host says otherwise. Requests must name this server in their \
        Host header, and the page, downloads, uploads and tokens need the random key in the printed \
        address (checked before a request's body is read). Connections are capped below the \
        descriptor limit, and a client that sends its request too slowly is cut off. A MAST token is asked for on the page only when exclusive-access files are selected, \
        checked with the archive's /whoami, used for that download only, and never logged or shown.

        Examples:
          haul serve --demo
          haul serve products.json --port 8080 --open
          haul serve products.json --port 8080 --key-file ~/.haul-serve-key   (the same address after a restart)
          curl -o bundle.zip "http://127.0.0.1:8080/download.zip?key=KEY&quick=recommended"
          curl -C - -o bundle.zip "http://127.0.0.1:8080/download.zip?key=KEY&quick=recommended&compression=store"
          curl --data-binary @uris.txt -o bundle.zip "http://127.0.0.1:8080/download.zip?key=KEY"
        """
    )

    @Argument(help: ArgumentHelp("Product lists to serve (any format Haul reads); none: the page asks for one.", valueName: "catalog"))
    var catalogs: [String] = []

    @Option(help: ArgumentHelp("The archive mast: URIs resolve against (default $HAUL_ARCHIVE, else https://mast.stsci.edu).", valueName: "url"))
    var archive: String?

    @Option(help: "The mission of missions-search URIs: hst, jwst or roman.")
    var mission: URLResolver.Mission = .hst

    @Option(help: "The port to listen on (default: a free one).")
    var port: Int = 0

    @Option(help: ArgumentHelp("The address to listen on (default 127.0.0.1; anything else is reachable from other machines).", valueName: "addr"))
    var host: String = "127.0.0.1"

    @Flag(help: "Open the page in the default browser (xdg-open or open).")
    var open = false

    @Flag(help: "Serve the sample catalog from Haul's own loopback archive (no network), as `haul demo` uses them.")
    var demo = false

    @Option(help: "With --demo: multiplies the sample's file sizes (1 gives about 240 MB of recommended files).")
    var scale: Double = 1

    @Option(name: .customLong("key-file"), help: ArgumentHelp("Keep the server's key in this file, so that its addresses, and downloads a browser or download manager resumes from them, still work after a restart: read when it exists (it must be yours and readable by you alone), else made with a new random key (mode 600). Beside it, FILE.bundles keeps what each stored bundle's entries went out with, so a resumed download is checked against what the client holds.", valueName: "file"))
    var keyFile: String?

    @Option(name: .customLong("max-upload"), help: ArgumentHelp("The largest product list the page or a POST may send, in MB.", valueName: "MB"))
    var maxUploadMB: Int = 64

    @Option(name: .customLong("max-downloads"), help: ArgumentHelp("Bundles streamed at once (each with its own --parallel transfers and --memory-limit); more are answered 503.", valueName: "n"))
    var maxDownloads: Int = 4

    @OptionGroup(title: "Transfers") var transfers: TransferOptions

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard (1...256).contains(maxDownloads) else { throw ValidationError("--max-downloads must be between 1 and 256") }
        guard (1...4096).contains(maxUploadMB) else { throw ValidationError("--max-upload must be between 1 and 4096 (MB)") }
        if demo && (!catalogs.isEmpty || archive != nil) { throw ValidationError("--demo serves its own catalog and archive: give no catalog and no --archive") }
        guard scale > 0, scale <= 1000 else { throw ValidationError("--scale must be greater than 0 and at most 1000") }
        if scale != 1 && !demo { throw ValidationError("--scale sizes the demo's sample: it needs --demo") }
        if catalogs.contains("-") { throw ValidationError("serve reads catalogs from files; upload a list on the page instead of standard input") }
    }

    func run() async throws {
        // Before anything starts: a key file that cannot be used ends the command here.
        let key = try keyFile.map { try ServerKey.load(from: $0) }
        let records = try keyFile.map { try ServerKey.recordsFolder(beside: $0) }
        if !["127.0.0.1", "::1", "localhost"].contains(host) {
            Terminal.note("warning: listening on \(host): other machines can reach this page; only the key in its address keeps them from starting downloads")
        }
        if demo {
            try await withTestArchive(threads: 2) { archive in
                let dir = FileManager.default.temporaryDirectory.appendingPathComponent("haul-serve-\(getpid())").path
                try Folder.make(dir)
                defer { try? FileManager.default.removeItem(atPath: dir) }
                let catalogPath = dir + "/catalog.json"
                let sample = SampleCatalog(scale: scale)
                do {
                    try sample.install(in: archive, catalogAt: catalogPath)
                } catch {
                    throw HaulError(.output, "cannot write \(catalogPath): \(error.localizedDescription)")
                }
                Terminal.note("loopback archive at \(archive.url); sample catalog of \(sample.rows.count) rows")
                Terminal.note("its exclusive-access files open with the demo's MAST token \(SampleCatalog.demoToken) (valid nowhere else)")
                try await serve(catalog: try Catalog.load(paths: [catalogPath]), names: ["demo"], resolver: try URLResolver(archive: archive.url), key: key, records: records)
            }
            return
        }
        let catalog = catalogs.isEmpty ? nil : try Catalog.load(paths: catalogs)
        try await serve(
            catalog: catalog, names: catalogs,
            resolver: try URLResolver(archive: archive, mission: mission, environment: ProcessInfo.processInfo.environment), key: key,
            records: records
        )
    }

    private func serve(catalog: Catalog?, names: [String], resolver: URLResolver, key: String?, records: String?) async throws {
        var configuration = OverlayServer.Configuration(resolver: resolver)
        configuration.catalog = catalog
        configuration.catalogNames = names
        configuration.host = host
        configuration.port = port
        configuration.maximumUpload = maxUploadMB << 20
        configuration.maximumDownloads = maxDownloads
        configuration.key = key
        configuration.recordsFolder = records
        // Every descriptor the system allows: connections are capped well below it, and the downloads'
        // transfers must fit beside them (running out of descriptors stops the process: see
        // ConnectionLimit), so a low limit lowers --parallel.
        let descriptors = OverlayServer.raiseDescriptorLimit()
        var engineConfiguration = transfers.configuration
        let fitting = OverlayServer.transfersThatFit(descriptorLimit: descriptors, downloads: maxDownloads)
        if engineConfiguration.parallel > fitting {
            Terminal.note("warning: \(descriptors) open files allowed (ulimit -n): --parallel \(fitting), not \(engineConfiguration.parallel), for \(maxDownloads) downloads at once")
            engineConfiguration.parallel = fitting
        }
        configuration.transfersPerDownload = engineConfiguration.parallel
        configuration.log = { line in Terminal.note(line) }
        try await withEngine(engineConfiguration) { engine in
            try await withOverlayServer(configuration, engine: engine) { server in
                Terminal.note("the Download Overlay is at \(server.url)")
                Terminal.note("open it in a browser (the key in it is needed); Ctrl-C stops the server")
                if open { Self.openInBrowser(server.url) }
                let stop = Locked(false)
                let interrupt = Interrupt { stop.withLock { $0 = true } }
                defer { interrupt.cancel() }
                while !stop.withLock({ $0 }) && !Task.isCancelled {
                    try? await Wakeups.sleep(for: .milliseconds(200))
                }
                Terminal.note("stopping: cancelling the downloads in progress")
            }
        }
    }

    private static func openInBrowser(_ url: String) {
        for tool in ["/usr/bin/xdg-open", "/usr/bin/open"] where FileManager.default.isExecutableFile(atPath: tool) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = [url]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try? process.run()
            return
        }
        Terminal.note("--open: no xdg-open or open here; open the address yourself")
    }
}
