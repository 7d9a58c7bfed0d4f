import Foundation
@testable import Haul
import Testing

/// The readers share what rows repeat: one ``Product/Common`` for the products whose mission, level,
/// category, suffix, product type, instrument, filters, origin and details are the same
/// (``Product/CommonTable``), and what the mapping made of the last mission, subgroup, group and access
/// (``RowMemo``). The products must be the ones the mapping makes of each row alone: read here from
/// the tree reader's rows with no sharing, and compared field by field, byte for byte, and by what
/// `haul select` prints of them.
@Suite("Select: products read with shared fields equal products made a row at a time")
struct SelectSharingTests {
    /// The products of a `{"data": [...]}` CAOM list made a row at a time: the tree reader's rows, the
    /// mapping with nothing shared between rows.
    static func reference(_ data: Data, name: String, keepingDetails: Bool) throws -> [Product] {
        guard case .object(let document) = try JSONReader.parse(data), case .array(let rows)? = document["data"] else {
            Issue.record("not a CAOM list")
            return []
        }
        let details = keepingDetails ? DetailsTable() : nil
        return try rows.enumerated().map { index, value in
            guard case .object(let object) = value else { throw HaulError(.invalidCatalog, "row \(index) is no object") }
            let fields = RowField.allCases.map { field -> JSONValue? in
                keepingDetails || !field.isDetail ? object[field.key] : nil
            }
            var row = JSONRow(fields: fields, origin: "\(name): data", path: "data", index: index, name: name)
            row.details = details
            return try Catalog.caomProduct(row)
        }
    }

    /// A product's strings, as bytes (`==` on strings finds canonically equivalent ones equal).
    static func bytes(_ p: Product) -> [[UInt8]?] {
        [p.uri, p.filename, p.dataset, p.mission, p.level, p.category, p.suffix, p.productType, p.instrument, p.filters, p.origin,
         p.details?.description, p.details?.project, p.details?.proposalID, p.details?.dataProductType]
            .map { $0.map { Array($0.utf8) } }
    }

    static func expectSame(_ read: [Product], _ reference: [Product], _ what: String) throws {
        try #require(read.count == reference.count, "\(what)")
        for i in read.indices {
            #expect(read[i] == reference[i], "\(what): row \(i)")
            #expect(bytes(read[i]) == bytes(reference[i]), "\(what): row \(i)")
            #expect(read[i].recommended == reference[i].recommended && read[i].guideStar == reference[i].guideStar
                && read[i].access == reference[i].access && read[i].size == reference[i].size, "\(what): row \(i)")
        }
        // What `haul select` prints: the summary and pages of the preview, and the export.
        let resolver = try URLResolver(archive: "https://mast.stsci.edu")
        for selection in [Selection(), Selection(quick: .recommended), Selection(levels: ["2b"], suffixes: ["CAL"])] {
            let a = Plan(products: read, selection: selection, root: "r", resolver: resolver)
            let b = Plan(products: reference, selection: selection, root: "r", resolver: resolver)
            #expect(a.exportCSV() == b.exportCSV(), "\(what)")
            for number in 1...max(1, min(3, (a.entries.count + 99) / 100)) {
                #expect(a.summaryJSON(page: try a.page(number, size: 100)) == b.summaryJSON(page: try b.page(number, size: 100)), "\(what): page \(number)")
            }
        }
    }

    /// Rows that change every shared field often and come back to earlier values, beyond ASCII,
    /// escaped, null, of the other type, in other member orders (``ShardRowsTests/shapes(rows:pretty:)``),
    /// and strings that are canonically equivalent but other bytes.
    static func documents() -> [(String, String)] {
        var out = [false, true].map { pretty in ("shapes-\(pretty)", ShardRowsTests.shapes(rows: 3_000, pretty: pretty)) }
        // The same letters composed in two orders (canonically equivalent, the same length), row after row.
        let marks = ["o\u{0301}\u{0327}", "o\u{0327}\u{0301}"]
        let rows = (0..<400).map { i in
            let m = marks[i % 2]
            let n = marks[(i / 3) % 2]
            let mission = [n, "JWST", "hst", n][i % 4]
            return "{\"obs_id\":\"d\(m)\(i / 4)\",\"obs_collection\":\"\(mission)\",\"productSubGroupDescription\":\"s\(m)\","
                + "\"instrument_name\":\"\(n)\",\"filters\":\"\(i % 5 == 0 ? "\\u00f3" : "\u{00F3}")\",\"productType\":\"T\(m)\","
                + "\"productGroupDescription\":\(["null", "\"Minimum Recommended Products\"", "\"Other products\""][i % 3]),"
                + "\"dataRights\":\"\(i % 4 == 0 ? "EXCLUSIVE_ACCESS" : "PUBLIC")\",\"calib_level\":\(i % 3 + 1),"
                + "\"dataURI\":\"mast:X/product/f\(i)_\(m).fits\",\"size\":\(i)}"
        }
        out.append(("equivalent", "{\"data\":[\n" + rows.joined(separator: ",\n") + "\n]}"))
        // Member names that begin with another's (`obs_id` and `obs_id2`, `filter` and `filters`, the
        // eight bytes `productT` and `productType`…) at the same positions and in other orders, and a
        // name escaped: a known name is found only when the name's bytes end where it ends.
        let prefixed = (0..<300).map { i -> String in
            let real = ["\"obs_id\":\"o\(i / 3)\"", "\"dataURI\":\"mast:X/product/p\(i).fits\"", "\"size\":\(i)", "\"productType\":\"SCIENCE\"",
                        "\"filters\":\"F\(i % 3)\"", "\"obs\\u005fcollection\":\"JWST\""]
            let others = ["\"obs_id2\":\"x\"", "\"dataURIx\":\"mast:X/bad\(i)\"", "\"sizes\":\"big\"", "\"productTypes\":\"AUX\"",
                          "\"filter\":\"F\"", "\"productT\":\"T\""]
            let members: [String]
            switch i % 3 {
            case 0: members = real
            case 1: members = others + real
            default: members = Array(zip(others, real).flatMap { [$0.1, $0.0] }.reversed())
            }
            return "{" + members.joined(separator: ",") + "}"
        }
        out.append(("prefixes", "{\"data\":[\n" + prefixed.joined(separator: ",\n") + "\n]}"))
        out.append(("escapes", escapes()))
        return out
    }

    /// Repeated values written escaped in one row and plain in the next (`\u00e9` and `é`, `\/` and `/`,
    /// `\"` and `\\`), long and short, beyond ASCII, null or absent between: a value shared by its bytes
    /// (``SharedStrings``, the direct reading's groups) must be the one its own row spells.
    static func escapes() -> String {
        let rows = (0..<240).map { i -> String in
            let escaped = i % 2 == 0
            let e = escaped ? "\\u00e9" : "\u{00E9}"
            let slash = escaped ? "\\/" : "/"
            let dataset = ["C\(e)line_obs_\(i / 6)_with_a_long_name", "q\\\"\\\\\(e)\(i / 6)", "\(e)"][i % 3]
            let mission = [i % 5 == 0 ? "null" : "\"JWST\"", "\"H\(e)ST long enough to be shared\""][i / 7 % 2]
            let subgroup = i % 4 == 3 ? "null" : "\"  _\(["CAL", "c\(e)l", "GS-FG", "x1d"][i % 4])  \""
            let name = i % 9 == 4 ? "" : "\"productFilename\":\"\(i % 3 == 0 ? "\(e)" : "jw")\(i)_\(e)_cal.fits\","
            return "{\"obs_id\":\"\(dataset)\",\"obs_collection\":\(mission),\"productSubGroupDescription\":\(subgroup),"
                + "\"instrument_name\":\"NIR\(slash)CAM \(e)\",\"filters\":\(i % 6 == 1 ? "null" : "\" F\(e)\\\"W \""),"
                + "\"productGroupDescription\":\(escaped ? "\"Minimum Recommended Products\"" : "\"minimum recommended product\\u0073\""),"
                + "\"calib_level\":\(["2", "\"2\"", "2.0", "null"][i % 4]),\"project\":\"P\(e)\",\"description\":\"d\(e)\(i % 3)\","
                + "\"dataRights\":\(escaped ? "\"PUBLIC\"" : "\"p\\u0075blic\""),\(name)"
                + "\"dataURI\":\"mast:JWST\(slash)product\(slash)\(i % 3 == 0 ? "\(e)" : "jw")\(i)_\(e)_cal.fits\",\"size\":\(i % 5 == 0 ? "\"\(i)\"" : "\(i)")}"
        }
        return "{\"data\":[\n" + rows.joined(separator: ",\n") + "\n]}"
    }

    @Test("Products made straight from the rows' bytes equal those made through each row's JSONRow", arguments: [false, true])
    func directEqualsRows(keepingDetails: Bool) throws {
        let folder = TemporaryFolder()
        for (label, text) in Self.documents() {
            let path = folder.path + "/\(label).json"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let reference = try Self.reference(Data(contentsOf: URL(fileURLWithPath: path)), name: path, keepingDetails: keepingDetails)
            for ahead in [false, true] {
                for direct in [false, true] {
                    let read = try RowsAhead.$minimumBytes.withValue(ahead ? 0 : Int.max) {
                        try ProductListReader.$readsCAOMProductsDirectly.withValue(direct) {
                            try Catalog.load(paths: [path], keepingDetails: keepingDetails).products
                        }
                    }
                    try Self.expectSame(read, reference, "\(label), \(ahead ? "read ahead" : "one reader"), \(direct ? "directly" : "through rows")")
                }
            }
        }
    }

    @Test("A file name's one-pass scan reads its guide-star mark and suffix as the mapping's functions do")
    func nameScan() {
        let pieces = ["jw", "_", "gs", "GS", "-", "fg", ".", "fits", "_cal", "x1d", "a", "_gS-", "..", "_", "-", "\r", "é",
                      String(repeating: "s", count: 33)]
        var generator = SystemRandomNumberGenerator()
        var names = ["", "_", ".", "_.", "a_.b", "_gs-", "x_gs", "x_gs-fg_cal.fits", "jw01_nrca1_cal.fits", "z14z0104t_shf.fits", "a_b.c_d.e"]
        for _ in 0..<20_000 {
            names.append((0..<Int.random(in: 1...7, using: &generator)).map { _ in pieces[Int.random(in: 0..<pieces.count, using: &generator)] }.joined())
        }
        for name in names {
            var text = name
            text.withUTF8 { bytes in
                let scan = ProductListReader.NameScan(bytes)
                let plain = Product.suffix(ofASCIIName: bytes)
                #expect(scan.plain == (plain != nil), "\(name)")
                guard scan.plain else { return }
                #expect(scan.guideStar == Product.hasGuideStarMark(bytes), "\(name)")
                #expect(scan.suffix(bytes) == plain!, "\(name)")
                #expect(scan.suffix(bytes) == Product.suffix(ofFilename: name), "\(name)")
            }
        }
    }

    @Test("A row the mapping refuses gives the same message read directly or through its JSONRow")
    func directErrors() throws {
        let folder = TemporaryFolder()
        let good = "{\"obs_id\":\"o1\",\"obs_collection\":\"JWST\",\"dataURI\":\"mast:JWST/product/a_cal.fits\",\"size\":1}"
        // Each bad row after good ones (so that the groups hold values), with the message expected.
        let bad: [(String, String)] = [
            ("{\"obs_id\":\"o1\",\"dataURI\":7}", "data[3].dataURI: expected a string, found the number 7"),
            ("{\"obs_id\":\"o1\",\"dataURI\":\"  \"}", "data[3].dataURI: expected a non-empty URI, found the string \"  \""),
            ("{\"obs_id\":\"o1\"}", "data[3].dataURI: expected the product's URI, found no such field"),
            ("{\"obs_id\":\"o1\",\"dataURI\":\"mast:JWST/product/\"}", "data[3].dataURI: expected a URI ending in a file name"),
            ("{\"obs_id\":\"o1\",\"dataURI\":\"mast:X/a.fits\",\"productFilename\":[1]}", "data[3].productFilename: expected a string, found an array"),
            ("{\"obs_id\":\"o1\",\"dataURI\":\"mast:X/a.fits\",\"size\":\"big\"}", "data[3].size: expected a size in bytes (a whole number ≥ 0), found the string \"big\""),
            ("{\"obs_id\":\"o1\",\"dataURI\":\"mast:X/a.fits\",\"size\":-1}", "data[3].size: expected a size in bytes"),
            ("{\"obs_id\":{},\"dataURI\":\"mast:X/a.fits\"}", "data[3].obs_id: expected a string, found an object"),
            ("{\"obs_id\":\"o1\",\"obs_collection\":true,\"dataURI\":\"mast:X/a.fits\"}", "data[3].obs_collection: expected a string, found true"),
            ("{\"obs_id\":\"o1\",\"dataRights\":\"SECRET\",\"dataURI\":\"mast:X/a.fits\"}", "data[3].dataRights: expected PUBLIC, EXCLUSIVE_ACCESS or RESTRICTED"),
            ("{\"obs_id\":\"o1\",\"calib_level\":[2],\"dataURI\":\"mast:X/a.fits\"}", "data[3].calib_level: expected a number or a string, found an array"),
            ("{\"obs_id\":\"o1\",\"obs_collection\":\"HST\",\"project\":5,\"dataURI\":\"mast:X/a.fits\"}", "data[3].project: expected a string, found the number 5"),
        ]
        for (k, (row, expected)) in bad.enumerated() {
            let path = folder.path + "/bad\(k).json"
            try ("{\"data\":[" + [good, good, good, row, good].joined(separator: ",") + "]}").write(toFile: path, atomically: true, encoding: .utf8)
            var messages: [String] = []
            for direct in [false, true] {
                do {
                    _ = try ProductListReader.$readsCAOMProductsDirectly.withValue(direct) { try Catalog.load(paths: [path]) }
                    Issue.record("\(row): read without an error")
                } catch {
                    messages.append("\(error)")
                }
            }
            #expect(messages.count == 2 && messages[0] == messages[1], "\(row)")
            #expect(messages.last?.contains(expected) == true, "\(messages.last ?? ""): expected \(expected)")
            #expect(messages.last?.contains(path) == true, "\(messages.last ?? "") names no file")
        }
        // A JWST row's `project` is never read: one the mapping would refuse is no error either way.
        let path = folder.path + "/jwst.json"
        try ("{\"data\":[" + good + ",{\"obs_id\":\"o1\",\"obs_collection\":\"JWST\",\"project\":5,\"dataURI\":\"mast:X/b.fits\"}]}")
            .write(toFile: path, atomically: true, encoding: .utf8)
        for direct in [false, true] {
            let products = try ProductListReader.$readsCAOMProductsDirectly.withValue(direct) { try Catalog.load(paths: [path]).products }
            #expect(products.map(\.filename) == ["a_cal.fits", "b.fits"])
        }
    }

    @Test("The products of every shape, read by one reader or two, with and without details", arguments: [false, true])
    func sameProducts(keepingDetails: Bool) throws {
        let folder = TemporaryFolder()
        for (label, text) in Self.documents() {
            let path = folder.path + "/\(label).json"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let reference = try Self.reference(Data(contentsOf: URL(fileURLWithPath: path)), name: path, keepingDetails: keepingDetails)
            for ahead in [false, true] {
                let read = try RowsAhead.$minimumBytes.withValue(ahead ? 0 : Int.max) {
                    try Catalog.load(paths: [path], keepingDetails: keepingDetails).products
                }
                try Self.expectSame(read, reference, "\(label), \(ahead ? "read ahead" : "one reader")")
            }
        }
    }

    @Test("Values that are equal strings but other bytes get a Common of their own")
    func canonicallyEquivalent() {
        let table = Product.CommonTable()
        func values(_ mission: String, origin: String = "a: data") -> Product.Common.Values {
            Product.Common.Values(
                mission: mission, level: "2b", category: nil, suffix: "CAL", productType: "SCIENCE", instrument: nil, filters: nil,
                originText: origin, details: nil
            )
        }
        let a = table.common(values("o\u{0301}\u{0327}"))
        let b = table.common(values("o\u{0327}\u{0301}"))
        #expect(a !== b)
        #expect(Array(a.values.mission!.utf8) == Array("o\u{0301}\u{0327}".utf8))
        #expect(Array(b.values.mission!.utf8) == Array("o\u{0327}\u{0301}".utf8))
        #expect(table.common(values("o\u{0301}\u{0327}")).values.mission!.utf8.elementsEqual("o\u{0301}\u{0327}".utf8))
        // The same strings again (as a reader's shared strings give them): the same one, made once.
        let long = String(repeating: "long mission ", count: 3)
        let x = table.common(values(long))
        _ = table.common(values("other"))
        #expect(table.common(values(long)) === x)
        // Another origin is another Common; a product given a new value gets a new one, the old unchanged.
        #expect(table.common(values("other", origin: "b: data")) !== table.common(values("other")))
        var p = Product(uri: "u", filename: "f", dataset: "d", mission: "JWST", level: "2b")
        let before = p.common
        p.level = "3"
        #expect(p.level == "3" && before.values.level == "2b" && p.mission == "JWST")
    }
}
