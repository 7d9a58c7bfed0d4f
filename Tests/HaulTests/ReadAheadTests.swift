import Foundation
@testable import Haul
import Testing

/// The million-row paths (docs/performance.md, "A catalog of a million rows") on small lists: the rows read ahead on a second thread, the
/// tables that find repeated URIs and claimed paths, and the preview's dataset groups. Expected values
/// come from the values the tests wrote, or from a plain computation written here, never from the
/// code under test.
@Suite("Reading big lists: rows read ahead, URI and dataset tables")
struct ReadAheadTests {
    /// One row's values, as written into the JSON (escaped as `Layout` says) and as a product must read them.
    struct Row {
        var uri: String
        var filename: String?
        var dataset: String
        var size: Int64?
        var description: String?
        var level: Int?
    }

    enum Layout: CaseIterable {
        /// One row a line: the guess is a line starting with `{`.
        case lines
        /// All on one line: the guess is `},{`.
        case oneLine
        /// Indented, a member a line.
        case pretty
    }

    /// Rows with escapes (\u00e9, \", \\, \/), raw non-ASCII, nulls, and sizes as ints, floats and exponents.
    static func rows(_ count: Int) -> [Row] {
        let names = ["Céline", "東京", "naïve \"q\"", "back\\slash", "Ωmega"]
        return (0..<count).map { i in
            let name = "f\(i)_\(names[i % names.count].replacingOccurrences(of: "\"", with: "").replacingOccurrences(of: "\\", with: ""))_cal.fits"
            return Row(
                uri: "mast:JWST/product/\(name)",
                filename: i % 7 == 3 ? nil : name,
                dataset: "obs\(i / 10)_\(names[(i / 10) % names.count])",
                size: i % 11 == 5 ? nil : Int64(2880 * (i + 1)),
                description: i % 3 == 0 ? nil : "row \(i): \(names[i % names.count])",
                level: i % 4 == 0 ? nil : 1 + i % 3
            )
        }
    }

    /// A JSON string literal: ASCII only with \u escapes on even rows, raw UTF-8 on odd ones; `/` as `\/` in URIs.
    static func literal(_ text: String, row: Int, slash: Bool = false) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "/" where slash: out += "\\/"
            case _ where scalar.value >= 0x80 && row % 2 == 0:
                if scalar.value > 0xFFFF {
                    let v = scalar.value - 0x10000
                    out += String(format: "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF))
                } else {
                    out += String(format: "\\u%04x", scalar.value)
                }
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func document(_ rows: [Row], layout: Layout) -> String {
        let members: [[String]] = rows.enumerated().map { i, row in
            let size: String
            switch (row.size, i % 4) {
            case (nil, _): size = "null"
            case (let s?, 0): size = "\(s)"
            case (let s?, 1): size = "\(s).0"
            case (let s?, 2): size = "\(s)E0"
            case (let s?, _):
                let digits = String(s)
                size = "\(digits.prefix(1)).\(digits.dropFirst())e+\(digits.count - 1)"
            }
            var m = [
                "\"description\":" + (row.description.map { literal($0, row: i) } ?? "null"),
                "\"dataURI\":" + literal(row.uri, row: i, slash: true),
                "\"productFilename\":" + (row.filename.map { literal($0, row: i) } ?? "null"),
                "\"obs_id\":" + literal(row.dataset, row: i),
                "\"size\":" + size,
                "\"calib_level\":" + (row.level.map(String.init) ?? "null"),
                "\"obs_collection\":\"JWST\"",
            ]
            // Columns in another order on every third row.
            if i % 3 == 1 { m.reverse() }
            return m
        }
        switch layout {
        case .lines:
            return "{\"fields\":[],\"data\":[\n" + members.map { "{" + $0.joined(separator: ",") + "}" }.joined(separator: ",\n") + "\n],\"status\":\"COMPLETE\"}\n"
        case .oneLine:
            return "{\"status\":\"COMPLETE\",\"data\":[" + members.map { "{" + $0.joined(separator: ",") + "}" }.joined(separator: ",") + "]}"
        case .pretty:
            let body = members.map { "    {\n      " + $0.joined(separator: ",\n      ").replacingOccurrences(of: "\":", with: "\": ") + "\n    }" }
            return "{\n  \"status\": \"COMPLETE\",\n  \"data\": [\n" + body.joined(separator: ",\n") + "\n  ]\n}\n"
        }
    }

    /// The products of a document, read with the second half read ahead (`ahead`) or by one reader, and
    /// whether rows read ahead were taken.
    static func read(_ text: String, ahead: Bool, runCapacity: Int = 7) throws -> (products: [Product], taken: [Bool]) {
        let taken = Locked<[Bool]>([])
        let products = try RowsAhead.$minimumBytes.withValue(ahead ? 0 : Int.max) {
            try RowsAhead.$runCapacity.withValue(runCapacity) {
                try RowsAhead.$observer.withValue({ t in taken.withLock { $0.append(t) } }) {
                    try Catalog.parse(Data(text.utf8), name: "t.json")
                }
            }
        }
        return (products, taken.withLock { $0 })
    }

    @Test("Rows read ahead give the products the values wrote, numbered as one reader numbers them", arguments: Layout.allCases)
    func aheadMatchesValues(layout: Layout) throws {
        let rows = Self.rows(203)
        let text = Self.document(rows, layout: layout)
        let (ahead, taken) = try Self.read(text, ahead: true)
        #expect(taken == [true], "the guessed start was not taken: this test would not test the second thread")
        let (single, none) = try Self.read(text, ahead: false)
        #expect(none.isEmpty)
        #expect(ahead == single)
        try #require(ahead.count == rows.count)
        for (i, (product, row)) in zip(ahead, rows).enumerated() {
            #expect(product.uri == row.uri)
            #expect(product.filename == row.filename ?? String(row.uri.split(separator: "/").last!))
            #expect(product.dataset == row.dataset)
            #expect(product.size == row.size)
            #expect(product.origin == "t.json: data[\(i)]")
        }
    }

    @Test("A guess inside a string is never taken, and the products are one reader's")
    func guessInsideString() throws {
        // The middle row's description is nearly all of the bytes and holds },{ every 10 bytes: the
        // guess from the middle of the document lands inside it.
        var rows = Self.rows(21)
        rows[10].description = String(repeating: "ab\"},{\"c", count: 10_000)
        let text = Self.document(rows, layout: .oneLine)
        let (ahead, taken) = try Self.read(text, ahead: true)
        #expect(taken == [false])
        #expect(ahead.map(\.uri) == rows.map(\.uri))
        #expect(ahead.map(\.origin) == rows.indices.map { "t.json: data[\($0)]" })
    }

    @Test("An error in the second half reads as one reader's: the same row, line and column")
    func errorsInSecondHalf() throws {
        var rows = Self.rows(100)
        rows[83].uri = "   "
        let mapping = Self.document(rows, layout: .lines)
        let expected = "t.json: data[83].dataURI: expected a non-empty URI, found the string \"   \""
        for ahead in [true, false] {
            #expect(throws: HaulError.self) { _ = try Self.read(mapping, ahead: ahead) }
            do { _ = try Self.read(mapping, ahead: ahead) } catch let error as HaulError { #expect(error.message == expected) }
        }
        // A syntax error on line 91 (line 1 is the header, rows from line 2): a missing comma.
        var lines = Self.document(Self.rows(100), layout: .lines).components(separatedBy: "\n")
        lines[90] = lines[90].replacingOccurrences(of: ",\"dataURI\"", with: " \"dataURI\"")
        let broken = lines.joined(separator: "\n")
        let column = lines[90].utf8.distance(from: lines[90].startIndex, to: lines[90].range(of: " \"dataURI\"")!.lowerBound) + 2
        for ahead in [true, false] {
            do {
                _ = try Self.read(broken, ahead: ahead)
                Issue.record("no error")
            } catch let error as HaulError {
                #expect(error.message == "t.json:91:\(column): malformed JSON: expected , or } in an object")
            }
        }
    }

    @Test("Rows read ahead fill several runs, and a run boundary loses or repeats no row", arguments: [1, 2, 5, 64, 1 << 16])
    func runBoundaries(capacity: Int) throws {
        let rows = Self.rows(131)
        let text = Self.document(rows, layout: .lines)
        let (ahead, taken) = try Self.read(text, ahead: true, runCapacity: capacity)
        #expect(taken == [true])
        #expect(ahead.map(\.uri) == rows.map(\.uri))
        #expect(ahead.map(\.origin) == rows.indices.map { "t.json: data[\($0)]" })
    }

    @Test("A list too small to split, or a row refused before the guess, is read by one reader")
    func refusedBeforeGuess() throws {
        var rows = Self.rows(80)
        rows[5].uri = ""
        let text = Self.document(rows, layout: .lines)
        let taken = Locked<[Bool]>([])
        do {
            _ = try RowsAhead.$minimumBytes.withValue(0) {
                try RowsAhead.$observer.withValue({ t in taken.withLock { $0.append(t) } }) {
                    try Catalog.parse(Data(text.utf8), name: "t.json")
                }
            }
            Issue.record("no error")
        } catch let error as HaulError {
            #expect(error.message == "t.json: data[5].dataURI: expected a non-empty URI, found the string \"\"")
        }
        #expect(taken.withLock { $0 } == [false])
        // Too small to split by the standard measure: one reader, no guess.
        let (products, none) = try RowsAhead.$observer.withValue({ _ in Issue.record("a small list was split") }) {
            (try Catalog.parse(Data(Self.document(Self.rows(80), layout: .lines).utf8), name: "t.json"), 0)
        }
        #expect(products.count == 80 && none == 0)
    }

    @Test("Repeated URIs and their totals: those of a set of strings, canonical equivalents included")
    func repeatedURIs() throws {
        // "é" precomposed and decomposed are one string to Swift: one URI.
        let uris = (0..<500).map { i -> String in
            switch i % 5 {
            case 0: "mast:HST/product/a\(i % 37)_flt.fits"
            case 1: "mast:HST/product/caf\u{E9}\(i % 13).fits"
            case 2: "mast:HST/product/cafe\u{301}\(i % 13).fits"
            case 3: "mast:HST/product/K\(i % 17).fits"
            default: "mast:HST/product/\u{212A}\(i % 17).fits"
            }
        }
        let products = uris.enumerated().map { i, uri in
            Product(uri: uri, filename: "f\(i).fits", dataset: "d", size: Int64(i))
        }
        var firstOf: [String: Int] = [:]
        var expectedFirst: [Int] = []
        var bytes: Int64 = 0
        for (i, uri) in uris.enumerated() {
            if let first = firstOf[uri] { expectedFirst.append(first) } else {
                firstOf[uri] = i
                expectedFirst.append(i)
                bytes += Int64(i)
            }
        }
        #expect(FirstRows.of(products) == expectedFirst)
        let plan = Plan(products: products, selection: Selection(), root: "r", resolver: try URLResolver(archive: "http://127.0.0.1:9"))
        #expect(plan.summary.totalFiles == firstOf.count)
        #expect(plan.summary.totalBytes == bytes)
        #expect(plan.summary.duplicates == uris.count - firstOf.count)
    }

    @Test("Every page of the preview: datasets in order of first appearance, rows in catalog order", arguments: [1, 3, 7, 100])
    func previewPages(size: Int) throws {
        // Datasets that come back after others, and two spellings of one name ("é" both ways).
        let datasets = ["a", "b", "a", "caf\u{E9}", "c", "cafe\u{301}", "b", "d", "d", "a"]
        let products = (0..<57).map { i in
            Product(uri: "mast:X/product/f\(i).fits", filename: "f\(i).fits", dataset: datasets[(i / 3) % datasets.count],
                    size: i % 4 == 0 ? nil : Int64(i))
        }
        let plan = Plan(products: products, selection: Selection(), root: "r", resolver: try URLResolver(archive: "http://127.0.0.1:9"))
        // The preview order worked out plainly: a list per dataset, in order of first appearance.
        var order: [String] = []
        var members: [String: [Int]] = [:]
        for (index, entry) in plan.entries.enumerated() {
            let d = entry.product.dataset
            if members[d] == nil { order.append(d) }
            members[d, default: []].append(index)
        }
        let preview = order.flatMap { d in members[d]!.map { (d, $0) } }
        let pages = (preview.count + size - 1) / size
        for number in 1...pages {
            let page = try plan.page(number, size: size)
            let slice = Array(preview[((number - 1) * size)..<min(preview.count, number * size)])
            #expect(page.groups.flatMap(\.entries) == slice.map(\.1))
            var k = 0
            for group in page.groups {
                let d = slice[k].0
                #expect(group.dataset == d)
                #expect(group.totalRows == members[d]!.count)
                #expect(group.totalBytes == members[d]!.reduce(0) { $0 + (plan.entries[$1].product.size ?? 0) })
                let position = (number - 1) * size + k
                #expect(group.continued == (position > 0 && preview[position - 1].0 == d))
                k += group.entries.count
            }
        }
    }

    /// The Windows device check as it was before its quick answer for long stems: the oracle.
    static func windowsDeviceByUppercasing(_ component: String) -> String? {
        var stem = component.prefix { $0 != "." }
        while stem.last == " " { stem = stem.dropLast() }
        let upper = stem.uppercased()
        if ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"].contains(upper) { return upper }
        let scalars = Array(upper.unicodeScalars)
        if scalars.count == 4, upper.hasPrefix("COM") || upper.hasPrefix("LPT"),
           ("0"..."9").contains(scalars[3]) || ["\u{B9}", "\u{B2}", "\u{B3}"].contains(scalars[3]) {
            return upper
        }
        return nil
    }

    @Test("Windows device names: the quick answer for long stems is the upper-casing one", arguments: [
        "con", "CON.txt", "con      .fits", "co n", "coNıN$.txt", "conın$", "conout$ .x", "com\u{B9}", "lpt9 .txt",
        "c\u{301}on", "con.\u{301}txt", "con\u{301}.txt", "Céline_jw01_cal.fits", "東京東京東京東京", "ﬀﬀﬀﬀ", "aux        x",
        "nul\u{0307}", "prn.tar.gz", "ſſſſſſſſ", "ıııııııı.fits",
    ])
    func windowsDevices(_ name: String) {
        #expect(SafePath.windowsDevice(name) == Self.windowsDeviceByUppercasing(name))
    }

    @Test("ASCII fast paths answer as uppercased() and lowercased() do", arguments: ["jwst", "JWST", "Jwst", "jw\u{17F}t", "hasp", "HASP ", "auxiliary", "AUXILIARY", "gs-fg", "GS-x", "g\u{17F}-", "", "é", "2B", "2b"])
    func caseFolding(_ text: String) {
        #expect(text.uppercasedEquals("JWST") == (text.uppercased() == "JWST"))
        #expect(text.uppercasedEquals("HASP") == (text.uppercased() == "HASP"))
        #expect(text.uppercasedEquals("AUXILIARY") == (text.uppercased() == "AUXILIARY"))
        #expect(text.uppercasedHasPrefix("GS-") == text.uppercased().hasPrefix("GS-"))
        #expect(!text.isUppercaseASCII || text.uppercased() == text)
        #expect(!text.isLowercaseASCII || text.lowercased() == text)
        #expect(Product.isJWST(mission: text, filename: "x") == (text.uppercased() == "JWST"))
        #expect(Product.normaliseSuffix(text) == {
            var s = text.trimmingCharacters(in: .whitespacesAndNewlines)
            while s.hasPrefix("_") { s.removeFirst() }
            return s.isEmpty ? nil : s.uppercased()
        }())
    }
}
