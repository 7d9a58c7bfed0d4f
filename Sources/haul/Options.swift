import ArgumentParser
import Foundation
import Haul

/// The catalogs and the overlay's selectors: the same on `select`, `download` and `script`.
struct SelectionOptions: ParsableArguments {
    @Argument(help: ArgumentHelp(
        "Product lists: MAST CAOM JSON, missions-search JSON, overlay CSV, or URI lists; - reads standard input.",
        valueName: "catalog"))
    var catalogs: [String] = []

    @Option(help: ArgumentHelp(
        "The overlay's quick selection: all (every product but guide-star files), recommended, or none. Default: all, or none when a box (--level, --suffix, --guidestar, --pipeline-inputs) is checked.",
        valueName: "all|recommended|none"))
    var quick: Selection.Quick?

    @Option(name: .customLong("level"), parsing: .singleValue, help: ArgumentHelp(
        "Add a whole processing level (repeatable, or comma-separated): a JWST level 1b, 2a, 2b, 3; a calib_level number (2 takes 2a and 2b); an HST level uncalibrated, calibrated, aux or HASP.",
        valueName: "level"))
    var levels: [String] = []

    @Option(name: .customLong("suffix"), parsing: .singleValue, help: ArgumentHelp(
        "Add one product type (repeatable, or comma-separated): cal, _x1dints, CSPEC… Any case; the leading _ is optional.",
        valueName: "suffix"))
    var suffixes: [String] = []

    @Flag(name: .customLong("guidestar"), help: "Add JWST guide-star files (only the highest calibration level of each).")
    var guideStars = false

    @Flag(name: .customLong("pipeline-inputs"), help: "Add what running the calibration pipeline needs: uncalibrated exposures, association and pool files.")
    var pipelineInputs = false

    @Option(help: ArgumentHelp(
        "Keep only files whose name matches this JavaScript regular expression: pattern or /pattern/flags (flags i, m, s, u…).",
        valueName: "regex"))
    var regex: String?

    @Option(name: .customLong("where"), parsing: .singleValue, help: ArgumentHelp(
        "Keep only products whose column holds one of the values and none of those written !value, as astroquery's filter_products(COLUMN=[…]) (repeatable: every --where must hold). calib_level and size also take <N, <=N, >N, >=N and LOW..HIGH. Columns: productType, calib_level, productSubGroupDescription, dataRights, obs_id, obs_collection, instrument_name, filters, productFilename, dataURI, category, productGroupDescription, size.",
        valueName: "column=value[,value…]"))
    var wheres: [String] = []

    @Option(name: .customLong("extension"), parsing: .singleValue, help: ArgumentHelp(
        "Keep only files whose name ends with this, as astroquery's extension= (repeatable, or comma-separated): fits, .fits, _cal.fits, json… Any case.",
        valueName: "ending"))
    var extensions: [String] = []

    @Flag(name: .customLong("mrp-only"), help: "The minimum recommended products only, as astroquery's mrp_only=True: the same as --quick recommended.")
    var mrpOnly = false

    @Option(help: ArgumentHelp("The archive mast: URIs resolve against (default $HAUL_ARCHIVE, else https://mast.stsci.edu).", valueName: "url"))
    var archive: String?

    @Option(help: ArgumentHelp(
        "Where public products come from: archive (every file from --archive), cloud (public files from MAST's public bucket on AWS only, as astroquery's cloud_only: a file the bucket lacks fails with the reason), or auto (public files from the bucket, and from the archive each one the bucket cannot give, with the reason in the manifest). Exclusive-access files always come from the archive. Default: auto against MAST itself, archive against any other --archive (a mirror is not what the bucket copies).",
        valueName: "archive|cloud|auto"))
    var source: SourcePolicy?

    @Option(name: .customLong("endpoint-url"), help: ArgumentHelp(
        "Reach the bucket here instead of AWS (a mirror, a local S3 server), as the AWS tools' --endpoint-url: objects are then URL/stpubdata/KEY (path style). Lookups still go to --archive.",
        valueName: "url"))
    var endpointURL: String?

    @Option(help: "The mission of missions-search URIs: hst, jwst or roman.")
    var mission: URLResolver.Mission = .hst

    @Option(help: "nested (ROOT/DATASET/FILE) or flat (ROOT/FILE, clashing names made distinct).")
    var layout: Plan.Layout = .nested

    func validate() throws {
        guard !catalogs.isEmpty else { throw ValidationError("name at least one catalog file, or - for standard input") }
        for (name, values) in [("--level", levels), ("--suffix", suffixes), ("--extension", extensions), ("--where", wheres)] where values.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ValidationError("\(name) needs a value")
        }
        if let endpointURL {
            do { _ = try CloudBucket.endpoint(endpointURL) } catch let error as HaulError { throw ValidationError(error.message) }
        }
        if mrpOnly, let quick, quick != .recommended {
            throw ValidationError("--mrp-only is --quick recommended: it cannot be used with --quick \(quick.rawValue)")
        }
    }

    /// The selection the options describe.
    ///
    /// - Throws: ``HaulError`` (`invalidArgument`) for a regular expression that does not compile, saying where.
    func selection() throws -> Selection {
        func split(_ values: [String]) -> [String] {
            values.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
        }
        return Selection(
            quick: mrpOnly ? .recommended : quick, levels: split(levels), suffixes: split(suffixes), guideStars: guideStars,
            pipelineInputs: pipelineInputs, pattern: try regex.map(Selection.FileNamePattern.init),
            filters: try wheres.map(Selection.ColumnFilter.init(parsing:)), extensions: split(extensions)
        )
    }

    func resolver() throws -> URLResolver {
        var resolver = try URLResolver(archive: archive, mission: mission, environment: ProcessInfo.processInfo.environment)
        if let endpointURL { resolver.bucket.endpoint = try CloudBucket.endpoint(endpointURL) }
        return resolver
    }

    /// `--source`, or the default for the archive (``SourcePolicy/defaultPolicy(archive:)``).
    func sourcePolicy() throws -> SourcePolicy {
        try source ?? SourcePolicy.defaultPolicy(archive: resolver().archive)
    }

    /// Reads the catalogs and builds the plan.
    func plan(root: String, authorized: Bool) throws -> (Catalog, Plan) {
        let selection = try selection()
        let catalog = try Catalog.load(paths: catalogs, keepingDetails: selection.needsDetails)
        // A value the catalog does not have is a typo, not an empty selection (exit status 2).
        try selection.checkValues(in: catalog.products)
        return (catalog, try plan(catalog, selection: selection, root: root, authorized: authorized))
    }

    /// The plan of a catalog already read.
    func plan(_ catalog: Catalog, selection: Selection? = nil, root: String, authorized: Bool) throws -> Plan {
        Plan(
            products: catalog.products, selection: try selection ?? self.selection(), layout: layout, root: root,
            resolver: try resolver(), authorized: authorized
        )
    }
}

/// Where a MAST API token comes from: never a command-line value.
struct TokenOptions: ParsableArguments {
    @Option(name: .customLong("token-file"), help: ArgumentHelp(
        "Read the MAST API token for exclusive-access files from this file (else $MAST_API_TOKEN, else a prompt on a terminal).",
        valueName: "file"))
    var tokenFile: String?

    @Option(name: .customLong("token"), help: .hidden)
    var commandLineToken: String?

    func validate() throws {
        if commandLineToken != nil {
            throw ValidationError("--token: a token on the command line shows in the process list and the shell's history; set MAST_API_TOKEN or use --token-file FILE")
        }
    }

    /// The token from --token-file, else from MAST_API_TOKEN, else `nil`.
    func token() throws -> Credentials.AccessToken? {
        if let tokenFile { return try Credentials.AccessToken.read(file: tokenFile) }
        return try Credentials.AccessToken.fromEnvironment(ProcessInfo.processInfo.environment)
    }
}

/// Options of the transfer engine.
struct TransferOptions: ParsableArguments {
    @Option(help: "Concurrent transfers.")
    var parallel: Int = 64

    @Option(name: .customLong("per-host"), help: "Concurrent connections to one host (default: no limit beyond --parallel).")
    var perHost: Int?

    @Option(help: "Retries of a transient failure (connection error, timeout, stall, 408, 429, 5xx).")
    var retries: Int = 5

    @Option(name: .customLong("connect-timeout"), help: ArgumentHelp("Seconds to wait for a connection.", valueName: "seconds"))
    var connectTimeout: Double = 30

    @Option(name: .customLong("stall-timeout"), help: ArgumentHelp("Seconds without data before a transfer counts as stalled.", valueName: "seconds"))
    var stallTimeout: Double = 60

    @Option(name: [.customLong("memory-limit"), .customLong("memory")], help: ArgumentHelp(
        "Megabytes of buffers between the network and the output, whatever the file sizes and --parallel.",
        valueName: "MB"))
    var memoryMB: Int = 256

    @Option(name: .customLong("cacert"), help: ArgumentHelp(
        "Trust the certificate authorities in this PEM file for https, instead of the system's (a server with a private or self-signed certificate).",
        valueName: "file"))
    var caFile: String?

    @Option(name: .customLong("capath"), help: ArgumentHelp(
        "Trust the certificate authorities in this folder (hashed names, as openssl rehash makes) for https.",
        valueName: "folder"))
    var caPath: String?

    @Option(name: .customLong("connections-per-file"), help: ArgumentHelp(
        "Connections one big file (64 MiB or more, by the catalog's size) may be fetched over at once, in segments of at least 16 MiB, when the server serves byte ranges; from MAST's bucket at most 5, of at least 50 MiB (as s5cmd). 1 fetches every file in one request.",
        valueName: "n"))
    var connectionsPerFile: Int = 16

    @Option(help: "Progress: auto (a bar on a terminal), bar, json (one event a line on standard output, or standard error with --zip -), none.")
    var progress: ProgressMode = .auto

    @Option(name: [.customShort("H"), .customLong("header")], parsing: .singleValue, help: ArgumentHelp(
        "Send this request header (repeatable), as curl's -H: to the archive only, as the token, unless --header-everywhere.",
        valueName: "'name: value'"))
    var headers: [String] = []

    @Flag(name: .customLong("header-everywhere"), help: "Send the -H headers to every host (a product URL elsewhere, a redirect's target), not only to the archive.")
    var headerEverywhere = false

    @Option(name: .customLong("user-agent"), help: ArgumentHelp("The User-Agent header (default haul/VERSION).", valueName: "text"))
    var userAgent: String?

    @Option(help: ArgumentHelp(
        "Go through this proxy: [scheme://]host[:port] (http, https, socks4, socks5, socks5h), as curl's --proxy; \"\" uses none. Default: $https_proxy, $http_proxy, $all_proxy (or upper case).",
        valueName: "url"))
    var proxy: String?

    @Option(help: ArgumentHelp(
        "Hosts to reach without the proxy: comma-separated names, domains (.example.org) and addresses; * for all. Default: $no_proxy (or NO_PROXY).",
        valueName: "hosts"))
    var noproxy: String?

    @Option(name: .customLong("resolve"), parsing: .singleValue, help: ArgumentHelp(
        "Reach HOST on PORT at ADDRESS instead of what DNS says (repeatable), as curl's --resolve: for a mirror of the bucket or the archive under its usual name.",
        valueName: "host:port:address"))
    var resolve: [String] = []

    @Option(name: .customLong("limit-rate"), help: ArgumentHelp(
        "The most bytes a second the whole run receives, as curl's --limit-rate: a number with an optional K, M or G (powers of 1024), e.g. 500K, 10M.",
        valueName: "rate"))
    var limitRate: String?

    func validate() throws {
        guard (1...20_000).contains(parallel) else { throw ValidationError("--parallel must be between 1 and 20000") }
        if let perHost, perHost < 1 { throw ValidationError("--per-host must be at least 1") }
        guard (0...100).contains(retries) else { throw ValidationError("--retries must be between 0 and 100") }
        guard connectTimeout > 0, connectTimeout.isFinite else { throw ValidationError("--connect-timeout must be positive") }
        guard stallTimeout >= 1, stallTimeout.isFinite else { throw ValidationError("--stall-timeout must be at least 1 second") }
        guard (1...64).contains(connectionsPerFile) else { throw ValidationError("--connections-per-file must be between 1 and 64") }
        guard (4...65_536).contains(memoryMB) else { throw ValidationError("--memory-limit must be between 4 and 65536 (MB)") }
        for header in headers {
            guard let colon = header.firstIndex(of: ":"), !header[..<colon].trimmingCharacters(in: .whitespaces).isEmpty,
                  !header[..<colon].contains(" ") else {
                throw ValidationError("-H \(header): expected 'Name: value'")
            }
            if header.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" || $0.value == 0x7F }) {
                throw ValidationError("-H \(header.prefix(upTo: colon)): the header holds a line break or a control character")
            }
        }
        if let userAgent, userAgent.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw ValidationError("--user-agent holds a line break or a control character")
        }
        for entry in resolve {
            let parts = entry.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, !parts[0].isEmpty, let port = Int(parts[1]), (1...65_535).contains(port), !parts[2].isEmpty,
                  !entry.contains(where: { $0.isWhitespace }) else {
                throw ValidationError("--resolve \(entry): expected HOST:PORT:ADDRESS, such as stpubdata.s3.us-east-1.amazonaws.com:443:127.0.0.1")
            }
        }
        if let limitRate, Self.rate(limitRate) == nil {
            throw ValidationError("--limit-rate \(limitRate): expected a positive number of bytes a second, with an optional K, M or G (500K, 10M)")
        }
        if let proxy, proxy.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) {
            throw ValidationError("--proxy \(proxy): expected [scheme://]host[:port], without spaces")
        }
        var isFolder: ObjCBool = false
        if let caFile {
            guard FileManager.default.fileExists(atPath: caFile, isDirectory: &isFolder), !isFolder.boolValue,
                  FileManager.default.isReadableFile(atPath: caFile) else {
                throw ValidationError("--cacert \(caFile): no readable file there; name a PEM file of certificate authorities")
            }
        }
        if let caPath {
            guard FileManager.default.fileExists(atPath: caPath, isDirectory: &isFolder), isFolder.boolValue else {
                throw ValidationError("--capath \(caPath): no folder there; name a folder of hashed certificates (openssl rehash FOLDER)")
            }
        }
    }

    var configuration: Configuration {
        var c = Configuration()
        c.parallel = parallel
        c.perHost = perHost
        c.retry.retries = retries
        c.timeout.connect = .milliseconds(Int64(connectTimeout * 1000))
        c.timeout.stall = .milliseconds(Int64(stallTimeout * 1000))
        c.memoryLimit = memoryMB << 20
        c.segmentation.maximumConnections = connectionsPerFile
        c.cloudSegmentation.maximumConnections = min(c.cloudSegmentation.maximumConnections, connectionsPerFile)
        if connectionsPerFile == 1 { c.segmentation = .off; c.cloudSegmentation = .off }
        // HAUL_WATCHDOG=fail[:SECONDS] (tests, CI) stops a run whose transfers stay paused with nothing
        // moving, instead of reporting and recovering: a regression becomes a clear failure.
        if let value = ProcessInfo.processInfo.environment["HAUL_WATCHDOG"] {
            let parts = value.split(separator: ":", maxSplits: 1)
            if parts.first == "fail" { c.watchdog.action = .fail }
            if parts.count == 2, let seconds = Double(parts[1]), seconds > 0 { c.watchdog.after = .milliseconds(Int64(seconds * 1000)) }
        }
        c.caFile = caFile
        c.caPath = caPath
        c.headers = headers
        if let userAgent { c.userAgent = userAgent }
        c.proxy = proxy
        c.noProxy = noproxy
        c.maxReceiveRate = limitRate.flatMap(Self.rate)
        c.resolve = resolve
        return c
    }

    /// The engine's configuration for a run against `archive`: -H headers go there only, unless
    /// --header-everywhere.
    func configuration(archive: URLResolver) -> Configuration {
        var c = configuration
        c.headersOrigin = headerEverywhere ? nil : archive.archive
        return c
    }

    /// curl's --limit-rate value in bytes a second: `2000`, `500K`, `1.5M`, `1G` (powers of 1024).
    static func rate(_ text: String) -> Int64? {
        var digits = text.trimmingCharacters(in: .whitespaces)
        var scale = 1.0
        switch digits.last.map({ Character($0.lowercased()) }) {
        case "k": scale = 1024
        case "m": scale = 1024 * 1024
        case "g": scale = 1024 * 1024 * 1024
        default: break
        }
        if scale > 1 { digits.removeLast() }
        guard let value = Double(digits), value.isFinite, value > 0, value * scale >= 1, value * scale < 1e15 else { return nil }
        return Int64(value * scale)
    }
}

/// -q for the commands that transfer nothing (select, script): nothing but errors on standard error.
struct QuietOption: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Say nothing but errors on standard error (what goes to standard output is unchanged).")
    var quiet = false

    func apply() {
        Terminal.quiet = quiet
    }
}

/// How much the command says: -q nothing but errors, -v a line per transfer, -vv libcurl's trace too.
struct VerbosityOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Say nothing but errors: no summary, no progress bar (JSON progress, when asked for, still goes out).")
    var quiet = false

    @Flag(name: .shortAndLong, help: "A line per finished transfer (URL, HTTP status, bytes, seconds, retries); -vv adds libcurl's own trace of every request (the token shown as <redacted>).")
    var verbose: Int

    func validate() throws {
        if quiet && verbose > 0 { throw ValidationError("-q (--quiet) and -v (--verbose) cannot be used together") }
    }

    /// Sets what this process prints.
    func apply() {
        Terminal.quiet = quiet
    }

    /// The progress mode as quiet makes it: no bar.
    func progress(_ mode: ProgressMode) -> ProgressMode {
        quiet && mode != .json ? .none : mode
    }

    /// libcurl's trace on standard error, at -vv.
    func apply(to configuration: inout Configuration) {
        guard verbose >= 2 else { return }
        configuration.trace = TraceHandler { line in Terminal.standardError(line + "\n") }
    }
}

/// How ZIP entries are compressed.
struct CompressionOptions: ParsableArguments {
    @Option(help: "auto (deflate what compresses, store .gz, .fz, .jpg… and files whose first block does not shrink), store, or deflate.")
    var compression: DownloadTarget.Compression.Mode = .auto

    @Option(name: .customLong("compression-level"), help: ArgumentHelp("zlib level, 1 (fastest) to 9 (smallest).", valueName: "1-9"))
    var compressionLevel: Int = 6

    func validate() throws {
        guard (1...9).contains(compressionLevel) else { throw ValidationError("--compression-level must be between 1 and 9") }
    }

    var value: DownloadTarget.Compression { DownloadTarget.Compression(compression, level: compressionLevel) }
}

extension DownloadTarget.Compression.Mode: ExpressibleByArgument {}
extension Selection.Quick: ExpressibleByArgument {}
extension URLResolver.Mission: ExpressibleByArgument {}
extension Plan.Layout: ExpressibleByArgument {}
extension SourcePolicy: ExpressibleByArgument {}

