import CMappedGuard
import Foundation

/// Products read from one or more catalogs, merged in the order given.
///
/// The format of each input is told from its content (see ``Format``), never from its name.
/// A malformed input throws a ``HaulError`` with code ``HaulError/Code/invalidCatalog`` whose
/// message names the input, the line or JSON path, and what was expected.
public struct Catalog: Sendable {
    /// The catalog formats Haul reads.
    public enum Format: String, Sendable, CaseIterable {
        /// MAST's CAOM product list: `{"fields", "data", "status"}` or a bare array of rows.
        case caom
        /// MAST's missions-search product list: `{"products": [...]}`.
        case missionsSearch = "missions-search"
        /// The overlay's CSV export (and Haul's own export).
        case csv
        /// One `mast:` URI or `http(s)://` URL a line.
        case urlList = "url-list"
        /// An astropy table of product rows (CAOM or missions search) written as CSV (`t.write('p.csv')`): a
        /// header of product field names.
        case astropyCSV = "astropy-csv"
        /// An astropy table of product rows written as ECSV (`# %ECSV` and a YAML header).
        case ecsv
        /// An astropy table of product rows written as a VOTable (TABLEDATA or BINARY2).
        case votable
        /// An astropy table of product rows written as FITS (the first BINTABLE extension).
        case fits
    }

    /// All products of every input, in input order then row order.
    public var products: [Product]

    public init(products: [Product]) {
        self.products = products
    }

    /// Reads and merges catalogs.
    ///
    /// - Parameters:
    ///   - paths: File paths; `-` reads standard input (once).
    ///   - keepingDetails: Keep each product's ``Product/Details`` (description, project, proposal_id,
    ///     dataproduct_type), which only `--where` filters read.
    ///   - standardInput: Supplies the bytes of standard input; defaults to reading it to the end.
    /// - Throws: ``HaulError`` (`invalidCatalog`) naming the input, line or JSON path and the reason.
    public static func load(
        paths: [String], keepingDetails: Bool = false,
        standardInput: () throws -> Data = { FileHandle.standardInput.readDataToEndOfFile() }
    ) throws -> Catalog {
        try $keepsDetails.withValue(keepingDetails) { try load(paths: paths, standardInput: standardInput) }
    }

    /// Whether the readers keep each product's ``Product/Details`` (the columns only `--where` reads):
    /// making them costs a fifth more time on a big catalog, so only a selection that filters on them
    /// asks (``Selection/needsDetails``).
    @TaskLocal static var keepsDetails = false

    private static func load(paths: [String], standardInput: () throws -> Data) throws -> Catalog {
        guard !paths.isEmpty else {
            throw HaulError(.invalidArgument, "no catalog given: name at least one file, or - for standard input")
        }
        var products: [Product] = []
        var readStandardInput = false
        for path in paths {
            let read: [Product]
            if path == "-" {
                guard !readStandardInput else {
                    throw HaulError(.invalidArgument, "standard input (-) is named more than once")
                }
                readStandardInput = true
                let data: Data
                do { data = try standardInput() } catch {
                    throw HaulError(.invalidCatalog, "<stdin>: cannot read: \(error)", underlyingError: error)
                }
                read = try parse(data, name: "<stdin>")
            } else if Self.isFolder(path) {
                throw HaulError(.invalidCatalog, "\(path): is a folder, not a product list: name a file (a MAST JSON product list, a CSV export or a list of URIs)")
            } else if let mapped = try parseMapped(path) {
                read = mapped
            } else {
                let data: Data
                do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                    throw HaulError(.invalidCatalog, "\(path): cannot read: \(Self.reason(error))", underlyingError: error)
                }
                read = try parse(data, name: path)
            }
            if products.isEmpty { products = read } else { products += read }
        }
        return Catalog(products: products)
    }

    /// Reads a regular file through a read-only memory mapping: no copy of it is made, and the pages
    /// a JSON reader has passed are handed back to the kernel as it goes, so a 600 MB list costs no
    /// 600 MB of memory. `nil` for what cannot be mapped (a pipe, a device, an empty or unreadable
    /// file), which is then read as before, with the same messages.
    ///
    /// A file cut short while it is read (another program rewriting it) would raise SIGBUS on the pages
    /// it lost: the mapping is guarded (``CMappedGuard``), those pages read as zeros, and the read ends
    /// with an error saying the file changed, whatever the zeros parsed as.
    ///
    /// - Parameter afterMapping: Called once the file is mapped (tests cut the file short there).
    static func parseMapped(_ path: String, afterMapping: (() -> Void)? = nil) throws -> [Product]? {
        try mapped(path, afterMapping: afterMapping) { bytes, consumed in try parse(bytes, name: path, consumed: consumed) }
    }

    /// Calls `read` with a regular file's bytes through a read-only memory mapping, and `consumed`,
    /// which drops the pages of a range it is told of, as ``parseMapped(_:afterMapping:)`` describes;
    /// `nil` for what cannot be mapped.
    static func mapped<R>(
        _ path: String, afterMapping: (() -> Void)? = nil,
        _ read: (UnsafeBufferPointer<UInt8>, @escaping @Sendable (Range<Int>) -> Void) throws -> R
    ) throws -> R? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size > 0, info.st_size < Int.max else { return nil }
        let count = Int(info.st_size)
        guard let base = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else { return nil }
        defer { munmap(base, count) }
        let slot = cmapped_guard(base, count)
        func changed() -> HaulError? {
            // A lost page faulted (and read as zeros); or the file ends inside the last page read, whose
            // tail past the end reads as zeros without a fault.
            var now = stat()
            let faulted = cmapped_unguard(slot) != 0
            guard faulted || (fstat(fd, &now) == 0 && now.st_size < info.st_size) else { return nil }
            return HaulError(.invalidCatalog, "\(path): the file was cut short while it was read (another program rewriting it?): read it again once it is complete")
        }
        _ = madvise(base, count, MADV_SEQUENTIAL)
        afterMapping?()
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: count)
        let products: R
        do {
            // An address, not a pointer, so that the thread reading rows ahead may call it too.
            let address = Int(bitPattern: base)
            products = try read(bytes) { consumed in
                // Pages a reader has passed: dropped from this process, read again from the file if an
                // error message needs to count lines in them (or the rows read ahead are not taken).
                let from = (consumed.lowerBound + page - 1) / page * page
                let to = consumed.upperBound / page * page
                if to > from { _ = madvise(UnsafeMutableRawPointer(bitPattern: address + from), to - from, MADV_DONTNEED) }
            }
        } catch {
            throw changed() ?? error
        }
        if let error = changed() { throw error }
        return products
    }

    /// Parses one catalog's bytes, detecting the format from the content.
    ///
    /// - Parameters:
    ///   - data: The catalog's bytes (UTF-8; a byte-order mark is skipped).
    ///   - name: How messages name this input.
    /// - Returns: The products, in row order.
    /// - Throws: ``HaulError`` (`invalidCatalog`).
    public static func parse(_ data: Data, name: String) throws -> [Product] {
        guard let format = detect(data) else {
            throw HaulError(.invalidCatalog, "\(name): empty catalog: expected a MAST product list (JSON or an astropy table), an overlay CSV export, or a list of mast: URIs")
        }
        switch format {
        case .caom, .missionsSearch:
            return try parseJSON(data, name: name)
        case .csv:
            return try parseCSV(text(data, name: name), name: name)
        case .urlList:
            return try parseURLList(text(data, name: name), name: name)
        case .astropyCSV:
            return try data.withUnsafeBytes { try parseAstropyCSV($0.bindMemory(to: UInt8.self), name: name) }
        case .ecsv:
            return try parseECSV(text(data, name: name), name: name)
        case .votable:
            return try data.withUnsafeBytes { try parseVOTable($0.bindMemory(to: UInt8.self), name: name) }
        case .fits:
            return try data.withUnsafeBytes { try parseFITS($0.bindMemory(to: UInt8.self), name: name) }
        }
    }

    /// Parses one catalog's bytes in place (see ``parse(_:name:)``).
    ///
    /// - Parameter consumed: For JSON and astropy CSV, told now and then of a range of bytes that is
    ///   read (see ``parseJSON(_:name:consumed:)``).
    static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>, name: String, consumed: (@Sendable (Range<Int>) -> Void)? = nil
    ) throws -> [Product] {
        // A view of the bytes, not a copy: for sniffing, and for the text formats.
        let data = bytes.isEmpty ? Data() : Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes.baseAddress!), count: bytes.count, deallocator: .none)
        switch detect(data) {
        case .caom?, .missionsSearch?:
            return try parseJSON(bytes, name: name, consumed: consumed)
        case .astropyCSV?:
            return try parseAstropyCSV(bytes, name: name, consumed: consumed)
        default:
            return try parse(data, name: name)
        }
    }

    /// Tells a catalog's format from its first significant bytes, or `nil` when there are none.
    package static func detect(_ data: Data) -> Format? {
        // FITS: the primary header's first card, at byte 0 (FITS allows nothing before it).
        if data.starts(with: Array("SIMPLE  =".utf8)) { return .fits }
        var index = data.startIndex
        if data.starts(with: [0xEF, 0xBB, 0xBF]) { index += 3 }
        while index < data.endIndex, [0x20, 0x09, 0x0A, 0x0D].contains(data[index]) { index += 1 }
        guard index < data.endIndex else { return nil }
        switch data[index] {
        case UInt8(ascii: "["): return .caom
        case UInt8(ascii: "{"):
            // Look for the key that tells the two JSON shapes apart without parsing twice.
            let head = data[index..<min(data.endIndex, index + 1 << 20)]
            if head.range(of: Data("\"products\"".utf8)) != nil, head.range(of: Data("\"dataURI\"".utf8)) == nil {
                return .missionsSearch
            }
            return .caom
        case UInt8(ascii: "<"):
            // XML: no other format starts so; the VOTable reader says what it found if no VOTABLE.
            return .votable
        default:
            if data[index...].starts(with: Array("# %ECSV".utf8)) { return .ecsv }
            var start = index
            var line = data[start...].prefix { $0 != 0x0A && $0 != 0x0D }
            let header = String(decoding: line, as: UTF8.self).lowercased()
            if header.hasPrefix("dataset,") || header.hasPrefix("\"dataset\",") { return .csv }
            // An astropy CSV: its first line that is no comment names product fields, which no URL does.
            while line.first == UInt8(ascii: "#") || line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                start = line.endIndex
                while start < data.endIndex, data[start] == 0x0A || data[start] == 0x0D { start += 1 }
                guard start < data.endIndex, start - index < 1 << 16 else { return .urlList }
                line = data[start...].prefix { $0 != 0x0A && $0 != 0x0D }
            }
            let text = String(decoding: line.prefix(1 << 16), as: UTF8.self)
            if !text.contains("://"), !text.hasPrefix("mast:"),
               text.split(separator: ",").contains(where: { TableColumns.isFieldName(String($0).trimmingSpaces().replacingOccurrences(of: "\"", with: "")) }) {
                return .astropyCSV
            }
            return .urlList
        }
    }

    static func text(_ data: Data, name: String) throws -> String {
        var bytes = data
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        guard let text = String(data: bytes, encoding: .utf8) else {
            // Find the line of the first invalid byte, so the message can point at it.
            var line = 1
            var start = bytes.startIndex
            while start < bytes.endIndex {
                let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.endIndex
                if String(data: bytes[start..<end], encoding: .utf8) == nil { break }
                line += 1
                start = end + 1
            }
            throw HaulError(.invalidCatalog, "\(name):\(line): not valid UTF-8 text")
        }
        return text
    }

    static func isFolder(_ path: String) -> Bool {
        var folder: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &folder) && folder.boolValue
    }

    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSCocoaErrorDomain, ns.code == NSFileReadNoSuchFileError { return "no such file" }
        if ns.domain == NSCocoaErrorDomain, ns.code == NSFileReadNoPermissionError { return "permission denied" }
        return ns.localizedDescription
    }
}
