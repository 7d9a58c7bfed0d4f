import Foundation
@testable import Haul  // ZipResume is internal
import Testing

/// Inputs that `scripts/fuzz` found breaking a reader, each committed under `Fixtures/fuzz/TARGET/` and
/// fed back to the code it broke, with the exact error or result it must now give.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static func input(_ target: String, _ file: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: fixture("fuzz/\(target)/\(file)")))
    }

    static func catalogError(_ data: Data, name: String) -> String? {
        do {
            _ = try Catalog.parse(data, name: name)
            return nil
        } catch let error as HaulError {
            return error.code == .invalidCatalog ? error.message : "\(error.code): \(error.message)"
        } catch {
            return "\(error)"
        }
    }

    // MARK: The path sanitiser

    @Test("The path sanitiser splits at the bytes / and \\, not at Swift's characters", arguments: [
        // `../` then U+0301: "/\u{301}" is one Character, so the old check saw one component, "..́etc".
        ("combining-mark-after-dotdot", "climbs out of its folder (..)"),
        // `/` then U+0301: `hasPrefix("/")` compares Characters and said no.
        ("combining-mark-after-slash", "is an absolute path"),
        // `?^'/\` then an invalid byte: `//` was looked for, `/\` and `\\` were not.
        ("mixed-separators-empty-component", "has an empty component"),
    ])
    func safePath(file: String, problem: String) throws {
        let name = String(decoding: try Self.input("safepath", file), as: UTF8.self)
        #expect(SafePath.problem(in: name, what: "dataset") == "dataset \(problem)")
        let plan = Plan(
            products: [Product(uri: "mast:X/a.fits", filename: "a.fits", dataset: name)],
            selection: Selection(), root: "r", resolver: try URLResolver(archive: "https://mast.example.org")
        )
        #expect(plan.entries.map(\.disposition) == [.unsafe("dataset \(problem)")])
    }
}

extension FuzzRegressionTests {
    // MARK: The ZIP resume scanner

    /// Scans the bytes as the `.haul-part` an earlier run left, keeping every entry it accepts.
    static func resumeScan(_ data: Data) throws -> ZipResume.Result {
        var template = Array("/tmp/haul-fuzz-test-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        try #require(fd >= 0)
        unlink(template)
        defer { close(fd) }
        let written = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        try #require(written == data.count)
        var key = 0
        return ZipResume.scan(fd: fd, length: UInt64(data.count)) { _ in
            key += 1
            return key
        }
    }

    @Test("The resume scanner stops at a header whose ZIP64 size does not fit: no trap adding it to the offset")
    func zip64SizeOverflows() throws {
        // A stored entry whose ZIP64 extra field states 2^64 − 1 bytes, in a file of 131.
        let result = try Self.resumeScan(try Self.input("zip-resume", "zip64-size-overflows"))
        #expect(result.kept.isEmpty)
        #expect(result.end == 0)
    }

    @Test("The resume scanner keeps no entry whose name is not UTF-8 (Haul never writes one)")
    func nameNotUTF8() throws {
        // A whole, CRC-checked deflated entry named "jw" + seven 0xFF bytes + "\u{11}g_cal.fits".
        let result = try Self.resumeScan(try Self.input("zip-resume", "name-not-utf8"))
        #expect(result.kept.isEmpty)
        #expect(result.end == 0)
    }
}

extension FuzzRegressionTests {
    // MARK: Catalog sizes

    @Test("Stated sizes whose sum passes Int64.max: totals stop there instead of trapping")
    func sizesOverflowTheirSum() throws {
        // Two rows of 8 EB each (found reading the planner while writing its fuzz target, then run by it).
        let products = try Catalog.parse(try Self.input("catalog-json", "sizes-overflow-their-sum.json"), name: "big.json")
        #expect(products.map(\.size) == [8_000_000_000_000_000_000, 8_000_000_000_000_000_000])
        let plan = Plan(products: products, selection: Selection(), root: "r", resolver: try URLResolver(archive: "https://mast.example.org"))
        #expect(plan.summary.totalBytes == .max)
        #expect(plan.summary.selectedBytes == .max)
        #expect(try plan.page(1, size: 10).groups.map(\.totalBytes) == [.max])
        #expect(CurlScript(plan: plan, archive: try URLResolver(archive: "https://mast.example.org")).text().contains("(9,223,372,036,854,775,807 bytes)"))
    }
}

extension FuzzRegressionTests {
    // MARK: Catalog file names

    @Test("A JSON row whose URI ends in / and names no file is an error, as in the other readers")
    func uriWithoutFileName() throws {
        // It read as a product with an empty file name, which the export wrote and could not read back.
        let data = try Self.input("catalog-json", "uri-without-file-name.json")
        #expect(Self.catalogError(data, name: "list.json") == #"list.json: [0].dataURI: expected a URI ending in a file name (or a productFilename field), found the string "mast:JWST/produ!cwjt/""#)
        let missions = Data(#"{"products": [{"uri": "OEP601010/"}]}"#.utf8)
        #expect(Self.catalogError(missions, name: "m.json") == #"m.json: products[0].uri: expected a URI ending in a file name (or a filename field), found the string "OEP601010/""#)
    }

    @Test("A blank productFilename is no name: the URI's last part is the file name")
    func blankFileName() throws {
        let products = try Catalog.parse(try Self.input("catalog-json", "blank-file-name.json"), name: "c.json")
        #expect(products.map(\.filename) == ["jw1_cal.fits"])
    }

    @Test("A URL whose last part is blank names no file: an error, as for a path ending in /")
    func urlListBlankFileName() throws {
        // The name was " " (%20), which the export wrote and, trimmed, could not read back.
        let data = try Self.input("catalog-urllist", "blank-file-name.txt")
        #expect(Self.catalogError(data, name: "list.txt") == "list.txt:1: cannot tell a file name from this URL: expected a path ending in a file name")
    }
}

extension FuzzRegressionTests {
    // MARK: URL list line ends

    @Test("A URL list with CRLF line ends reads line by line, as with LF")
    func urlListWithCRLF() throws {
        // "\r\n" is one Character: split at "\n", the list was one line, and its first line a comment made
        // all of it one: no products and no error. (Found by the target's CRLF-versus-LF property.)
        let products = try Catalog.parse(try Self.input("catalog-urllist", "crlf-after-comment.txt"), name: "list.txt")
        #expect(products.map(\.uri) == ["mast:JWST/product/jw02736001001_02101_00001_nrca1_cal.fits", "https://example.org/data/x_flt.fits"])
        #expect(products.map(\.origin) == ["list.txt:2", "list.txt:4"])
    }
}

extension FuzzRegressionTests {
    // MARK: The CSV export and the curl script

    static let resolver = try! URLResolver(archive: "https://mast.example.org")

    /// The catalog's export, and the URIs and file names it reads back as.
    static func exportRoundTrip(_ file: String) throws -> (export: String, sent: [Product], back: [Product]) {
        let products = try Catalog.parse(try input("catalog-json", file), name: file)
        let export = Plan(products: products, selection: Selection(), root: "r", resolver: resolver).exportCSV()
        return (export, products, try Catalog.parse(Data(export.utf8), name: "export.csv"))
    }

    @Test("An exported value that already starts like a guarded formula ('=) reads back as itself")
    func exportValueLooksGuarded() throws {
        // The guard added no ' to "'=mast:…", and reading it back took one off: the URI changed.
        let (export, sent, back) = try Self.exportRoundTrip("export-value-looks-guarded.json")
        #expect(export.contains(",''=mast:X/a.fits,"))
        #expect(back.map(\.uri) == sent.map(\.uri))
        #expect(back.map(\.uri) == ["'=mast:X/a.fits"])
        #expect(Manifest.csvField("'x") == "'x")
        for value in ["'-5", "''=x", "-5", "'", "''", "'x"] {
            #expect(CSVReader.unguard(Manifest.csvField(value)) == value)
        }
        #expect(Manifest.csvField("=\u{301}x") == "'=\u{301}x")
        #expect(CSVReader.unguard("'=\u{301}x") == "=\u{301}x")
    }

    @Test("An exported quote followed by a combining mark is doubled: the field reads back")
    func exportQuoteThenCombiningMark() throws {
        // "\"\u{301}" is one Character, so the quote was not doubled and the export could not be read.
        let (export, sent, back) = try Self.exportRoundTrip("export-quote-then-combining-mark.json")
        #expect(export.contains("\"mast:X/a\"\"\u{301}b,c.fits\""))
        #expect(back.map(\.uri) == sent.map(\.uri))
        #expect(back.map(\.filename) == ["a\"\u{301}b,c.fits"])
    }

    @Test("The curl script escapes a ' followed by a combining mark: no shell command from a file name")
    func scriptQuoteThenCombiningMark() throws {
        // "'\u{301}" is one Character, so the quote was left as is and ended the bash word:
        // -o "$dir"/'jw1/a'́;touch pwned;'\''.fits' ran `touch pwned`.
        let products = try Catalog.parse(try Self.input("catalog-json", "script-quote-then-combining-mark.json"), name: "c.json")
        let plan = Plan(products: products, selection: Selection(), root: "r", resolver: Self.resolver)
        #expect(plan.downloads == [0])
        let script = CurlScript(plan: plan, archive: Self.resolver).text()
        // The path is the first word of its row in the script's list of files.
        #expect(script.contains("\n" + #"'jw1/a'\''"# + "\u{301}" + #";touch pwned;'\''.fits' "#))
        #expect(CurlScript.quoted("'\u{301}") == #"''\''"# + "\u{301}'")
    }
}
