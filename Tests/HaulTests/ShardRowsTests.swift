import Foundation
@testable import Haul
import HaulArchive
import Testing

/// `haul plan` keeps only what shards need of each row (``PlanRows``, ``ShardPlan/RowPlan``); `haul
/// download` plans from the catalog's products (``Plan``). The two must agree: the same shard files,
/// `rows.csv` and `plan.json`, byte for byte, for every selector, both layouts, with and without a token,
/// read by one thread or with rows read ahead on a second.
@Suite("Shards: the plan from rows equals the plan from products")
struct ShardRowsTests {
    struct Case: Sendable, CustomStringConvertible {
        var description: String
        var selection: @Sendable () throws -> Selection
        var layout: Plan.Layout = .nested
        var authorized = false
    }

    static let cases: [Case] = [
        Case(description: "all", selection: { Selection() }),
        Case(description: "all, flat", selection: { Selection() }, layout: .flat),
        Case(description: "all, with a token", selection: { Selection() }, authorized: true),
        Case(description: "recommended", selection: { Selection(quick: .recommended) }),
        Case(description: "guide stars", selection: { Selection(guideStars: true) }),
        Case(description: "levels and suffixes", selection: { Selection(levels: ["2b", "calibrated"], suffixes: ["asn"]) }),
        Case(description: "pipeline inputs", selection: { Selection(pipelineInputs: true) }),
        Case(description: "regex", selection: { Selection(pattern: try Selection.FileNamePattern("_(cal|x1d|flt)")) }),
        Case(description: "where", selection: { Selection(filters: [try Selection.ColumnFilter(parsing: "productType=SCIENCE,AUXILIARY")]) }),
        Case(description: "where on details", selection: { Selection(filters: [try Selection.ColumnFilter(parsing: "dataproduct_type=!image")]) }),
        Case(description: "extension, flat", selection: { Selection(extensions: ["fits"]) }, layout: .flat),
    ]

    /// Two catalogs: the sample's CAOM list, and an export that lists some of its URIs again, names that
    /// clash (in the flat layout and, by case, in the nested one), unsafe names, an exclusive row and a
    /// name beyond ASCII.
    static func catalogs(in folder: String) throws -> [String] {
        let sample = SampleCatalog(jwstObservations: 2, hstObservations: 3, scale: 0.05)
        try sample.caomJSON().write(to: URL(fileURLWithPath: folder + "/a.json"))
        let again = sample.rows.prefix(40).enumerated().filter { $0.offset % 3 == 0 }.map { _, r in
            "\(r.obsId),\(r.productFilename),2b,_cal,NIRCAM,F200W,\(r.dataURI),\(r.size),\(r.dataRights)"
        }
        let extra = [
            "obs9,X.FITS,2b,_cal,NIRCAM,F200W,mast:JWST/product/obs9/X.FITS,100,PUBLIC",
            "obs9,x.fits,2b,_cal,NIRCAM,F200W,mast:JWST/product/obs9/x.fits,200,PUBLIC",
            "obs8,x.fits,2b,_cal,NIRCAM,F200W,mast:JWST/product/obs8/x.fits,300,PUBLIC",
            "obs8,../evil.fits,2b,_cal,NIRCAM,F200W,mast:JWST/product/evil.fits,5,PUBLIC",
            "CON,ok.fits,2b,_cal,NIRCAM,F200W,mast:JWST/product/CON/ok.fits,6,PUBLIC",
            "obs8,secret_cal.fits,2b,_cal,NIRCAM,F200W,mast:JWST/product/secret_cal.fits,7,EXCLUSIVE_ACCESS",
            "obs8,Ωmega_日本_cal.fits,2b,_cal,NIRCAM,,mast:JWST/product/Ωmega_日本_cal.fits,8,PUBLIC",
            "obs8,\"a,b_cal.fits\",2b,_cal,NIRCAM,F200W,\"mast:JWST/product/a,b_cal.fits\",,PUBLIC",
            "obs8,manifest.csv,2b,_cal,NIRCAM,F200W,mast:JWST/product/manifest.csv,9,PUBLIC",
        ]
        let csv = "Dataset,Filename,Product Level,Suffix,Instrument,Filter / Grating,URI,Size,Access\r\n"
            + (again + extra).map { $0 + "\r\n" }.joined()
        try csv.write(toFile: folder + "/b.csv", atomically: true, encoding: .utf8)
        return [folder + "/a.json", folder + "/b.csv"]
    }

    /// How `haul plan` reads the catalogs: by one reader or with rows read ahead on a second thread, and
    /// CAOM rows straight into the rows (as it does) or each through its product (as other rows).
    struct Reading: Sendable, CustomStringConvertible, CaseIterable {
        var ahead: Bool
        var direct: Bool

        static let allCases = [false, true].flatMap { ahead in [true, false].map { Reading(ahead: ahead, direct: $0) } }

        var description: String { (ahead ? "read ahead" : "one reader") + (direct ? ", directly" : ", through products") }

        func plan(_ paths: [String], _ selection: Selection, layout: Plan.Layout, authorized: Bool) throws -> ShardPlan.RowPlan {
            try RowsAhead.$minimumBytes.withValue(ahead ? 0 : Int.max) {
                try PlanRows.$readsCAOMDirectly.withValue(direct) {
                    try ShardPlan.plan(catalogs: paths, selection: selection, layout: layout, root: "r", authorized: authorized)
                }
            }
        }
    }

    static let shardFiles = ["plan.json", "rows.csv", "shards/00000.csv", "shards/00001.csv", "shards/00002.csv"]

    /// Plans `paths` from their products (``Plan``, as `haul download` does) and from rows read each way in
    /// `readings`, and expects the same summary and the same files, byte for byte.
    @discardableResult
    static func expectSame(
        _ paths: [String], _ selection: Selection, layout: Plan.Layout = .nested, authorized: Bool = false,
        readings: [Reading], in folder: String, direct: ClosedRange<Double> = 0...1
    ) throws -> Int {
        let resolver = try URLResolver(archive: "https://mast.stsci.edu")
        var options = ShardPlan.Options(shards: 3, archive: resolver)
        options.fingerprint = "0123456789abcdef"
        let products = try Catalog.load(paths: paths, keepingDetails: selection.needsDetails).products
        let plan = Plan(products: products, selection: selection, layout: layout, root: "r", resolver: resolver, authorized: authorized)
        if plan.summary.selectedFiles > 0 { try ShardPlan.write(plan, to: folder + "/products", options: options) }
        for (k, reading) in readings.enumerated() {
            let rows = try reading.plan(paths, selection, layout: layout, authorized: authorized)
            #expect(rows.rowCount == products.count, "\(reading)")
            // The share of the rows read straight into the rows: none through products.
            let share = Double(rows.rows.directRows) / Double(max(1, rows.rowCount))
            #expect(reading.direct ? direct.contains(share) : share == 0, "\(reading): \(share) of the rows read directly")
            #expect(rows.summary == plan.summary.withoutTotals, "\(reading)")
            guard plan.summary.selectedFiles > 0 else { continue }
            try ShardPlan.write(rows, to: folder + "/rows\(k)", options: options)
            for name in shardFiles {
                let a = readBytes(folder + "/products/" + name) ?? []
                #expect(!a.isEmpty, "\(name) is empty")
                #expect(Bytes(a) == Bytes(readBytes(folder + "/rows\(k)/" + name)), "\(name) differs, \(reading)")
            }
        }
        return plan.summary.selectedFiles
    }

    @Test("The same shard files, rows.csv and plan.json", arguments: cases, Reading.allCases)
    func same(_ c: Case, reading: Reading) throws {
        let folder = TemporaryFolder()
        let paths = try Self.catalogs(in: folder.path)
        try Self.expectSame(paths, try c.selection(), layout: c.layout, authorized: c.authorized, readings: [reading], in: folder.path)
    }

    /// More selections, for the lists of other shapes: each selector that reads a row's own name, URI or
    /// size, and each that does not.
    static let shapeSelections: [@Sendable () throws -> Selection] = [
        { Selection() },
        { Selection(quick: .recommended) },
        { Selection(guideStars: true) },
        { Selection(levels: ["2b", "calibrated", "1"], suffixes: ["asn", "flt"]) },
        { Selection(pipelineInputs: true) },
        { Selection(pattern: try Selection.FileNamePattern("_(cal|flt)")) },
        { Selection(filters: [try Selection.ColumnFilter(parsing: "productType=SCIENCE"), try Selection.ColumnFilter(parsing: "calib_level=>=2")]) },
        { Selection(filters: [try Selection.ColumnFilter(parsing: "dataproduct_type=!image")]) },
        { Selection(filters: [try Selection.ColumnFilter(parsing: "description=long")]) },
        { Selection(filters: [try Selection.ColumnFilter(parsing: "size=>=3000")]) },
        { Selection(filters: [try Selection.ColumnFilter(parsing: "productSubGroupDescription=cal,_FLT")]) },
        { Selection(extensions: ["fits"]) },
        // One for each field a verdict can read (`Selection.Rules.reads`), so that a verdict shared by
        // rows that differ in a field it reads would show.
        { Selection(quick: .recommended, guideStars: true) },
        { Selection(levels: ["calibrated"]) },
        { Selection(suffixes: ["CAL"]) },
        { Selection(filters: [try Selection.ColumnFilter(parsing: "obs_id=jw01-o1,p9")]) },
        { Selection(filters: [try Selection.ColumnFilter(parsing: "obs_collection=!HST")]) },
        { Selection(filters: [try Selection.ColumnFilter(parsing: "instrument_name=NIRCAM/IMAGE")]) },
        { Selection(filters: [try Selection.ColumnFilter(parsing: "filters=!CLEAR;F090W")]) },
        { Selection(filters: [try Selection.ColumnFilter(parsing: "dataRights=PUBLIC")]) },
        { Selection(filters: [try Selection.ColumnFilter(parsing: "category=calibrated,aux")]) },
        { Selection(filters: [try Selection.ColumnFilter(parsing: "productGroupDescription=Minimum Recommended Products")]) },
        { Selection(filters: [try Selection.ColumnFilter(parsing: "project=HASP"), try Selection.ColumnFilter(parsing: "proposal_id=!1234")]) },
        { Selection(filters: [try Selection.ColumnFilter(parsing: "productFilename=same.fits,SAME.FITS")]) },
        { Selection(filters: [try Selection.ColumnFilter(parsing: "dataURI=plain5")]) },
    ]

    /// A CAOM list of rows that take every way the mapping has: values padded with spaces, escaped,
    /// beyond ASCII, null, absent, of the other type (`obsID` a number, sizes as strings and floats), names
    /// that clash or are unsafe, guide stars, JWST by mission or by name, HST categories, long descriptions;
    /// each combination on a few rows in a row (as a list's observations share their fields) and again
    /// later. `pretty`: indented, a member a line, members in another order.
    static func shapes(rows count: Int, pretty: Bool) -> String {
        func q(_ s: String) -> String {
            var out = "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\r": out += "\\r"
                case "\n": out += "\\n"
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        }
        func name(_ k: Int, _ i: Int) -> String? {
            switch k % 18 {
            case 0: "jw0\(i)_nrca1_cal.fits"
            case 1: nil
            case 2: ""
            case 3: "   "
            case 4: " padded_\(i)_flt.fits "
            case 5: "Ωmega_日本_\(i)_cal.fits"
            case 6: "jw\u{301}x\(i)_uncal.fits"
            case 7: "a\r\nb\(i)_cal.fits"
            case 8: "../evil.fits"
            case 9: "CON.fits"
            case 10: "jw01_gs-fg_\(i)_cal.fits"
            case 11: "JW01_GS-FG_\(i % 5)_uncal.fits"
            case 12: "x\(i)_asn.json"
            case 13: "p\(i)_pool.csv"
            case 14: "same.fits"
            case 15: "SAME.FITS"
            case 16: "noext\(i)"
            default: "\u{6F}\u{308}_\(i)_cal.fits"
            }
        }
        func uri(_ i: Int) -> String {
            switch i % 7 {
            case 0: "mast:JWST/product/jw0\(i)_nrca1_cal.fits"
            case 1: " mast:HST/product/ib\(i)_flt.fits "
            case 2: "mast:HST/product/Ωmega_\(i)_flt.fits"
            case 3: "mast:X/dir/\u{301}n\(i).fits"
            case 4: "mast:JWST/product/jw0\(i % 50)_x1d.fits"
            case 5: "plain\(i)"
            default: "mast:TESS/product/tess\(i)_gs-x.fits"
            }
        }
        func size(_ k: Int, _ i: Int) -> String {
            switch k % 8 {
            case 0: "\"size\":\(2880 * (i + 1))"
            case 1: "\"size\":null"
            case 2: "\"size\":\"\(i + 7)\""
            case 3: "\"size\":\(i).0"
            case 4: "\"size\":\(i + 1)e3"
            case 5: ""
            case 6: "\"size\":\" \(i) \""
            default: "\"size\":\"\""
            }
        }
        let datasets = ["\"obs_id\":\"jw01-o1\"", "\"obs_id\":null,\"obsID\":87600001", "\"parent_obsid\":\"p9\"", "", "\"obs_id\":\"CON\"",
                        "\"obs_id\":\" padded \"", "\"obs_id\":\"Ωbs\""]
        let missions = ["\"obs_collection\":\"JWST\"", "\"obs_collection\":\"jwst\"", "\"obs_collection\":null", "\"obs_collection\":\"HST\"", ""]
        let subgroups = ["\"productSubGroupDescription\":\"CAL\"", "\"productSubGroupDescription\":\"_flt\"", "\"productSubGroupDescription\":null",
                         "\"productSubGroupDescription\":\"GS-FG\"", "\"productSubGroupDescription\":\"\"", "\"productSubGroupDescription\":\" uncal \"", ""]
        let levels = ["\"calib_level\":2", "\"calib_level\":\"2\"", "\"calib_level\":null", "\"calib_level\":\"2b\"", "\"calib_level\":1", "\"calib_level\":3", ""]
        let types = ["\"productType\":\"SCIENCE\"", "\"productType\":\"AUXILIARY\"", "\"productType\":null", ""]
        let groups = ["\"productGroupDescription\":\"Minimum Recommended Products\"", "\"productGroupDescription\":\" minimum recommended products \"",
                      "\"productGroupDescription\":null", ""]
        let rights = ["\"dataRights\":\"PUBLIC\"", "\"dataRights\":\"EXCLUSIVE_ACCESS\"", "\"dataRights\":\"restricted\"", "\"dataRights\":null", ""]
        // A number as `project` is refused for an HST row only: JWST rows are read without it.
        let projects = ["\"project\":\"HASP\"", "\"project\":\"CALSTIS\"", "\"project\":null", "", "\"project\":5"]
        let long = String(repeating: "a long description ", count: 120)
        let extras = ["\"instrument_name\":\"NIRCAM/IMAGE \",\"filters\":\"CLEAR;F090W\"", "\"instrument_name\":null,\"filters\":null",
                      "\"description\":\(q(long)),\"dataproduct_type\":\"image\",\"proposal_id\":\"1234\"",
                      "\"description\":\"long\",\"dataproduct_type\":\"spectrum\",\"proposal_id\":1234", "\"unknown\":{\"a\":[1,2,{}]}"]
        var rows: [String] = []
        for i in 0..<count {
            // Each combination of the shared fields for 1 to 4 rows in a row, and again later.
            let g = (i / (1 + i % 4)) % 997
            var members = [
                datasets[g % datasets.count], missions[(g / 2) % missions.count], subgroups[(g / 3) % subgroups.count],
                levels[(g / 5) % levels.count], types[(g / 7) % types.count], groups[(g / 11) % groups.count],
                rights[(g / 13) % rights.count], extras[(g / 17) % extras.count],
            ]
            let project = projects[(g / 19) % projects.count]
            // A number as `project` only where the row is a JWST one, so that the list reads.
            if !project.hasSuffix("5") || members[1].lowercased().contains("jwst") { members.append(project) }
            members += ["\"dataURI\":" + q(uri(i)), size(i / 3, i)]
            if let name = name(i / 2, i) { members.append("\"productFilename\":" + q(name)) }
            members = members.filter { !$0.isEmpty }
            if i % 5 == 2 { members.reverse() }
            rows.append(pretty ? "  {\n    " + members.joined(separator: ",\n    ") + "\n  }" : "{" + members.joined(separator: ",") + "}")
        }
        return pretty ? "{\n \"data\": [\n" + rows.joined(separator: ",\n") + "\n ]\n}\n" : "{\"data\":[" + rows.joined(separator: ",\n") + "]}"
    }

    @Test("Lists of other shapes: read directly, the rows of the products' way", arguments: 0..<shapeSelections.count)
    func shapes(_ s: Int) throws {
        let folder = TemporaryFolder()
        var paths: [String] = []
        for pretty in [false, true] {
            let path = folder.path + "/shapes-\(pretty).json"
            try Self.shapes(rows: 500, pretty: pretty).write(toFile: path, atomically: true, encoding: .utf8)
            paths.append(path)
        }
        for layout in ReadAheadTests.Layout.allCases {
            let path = folder.path + "/\(layout).json"
            try ReadAheadTests.document(ReadAheadTests.rows(150), layout: layout).write(toFile: path, atomically: true, encoding: .utf8)
            paths.append(path)
        }
        for layout in [Plan.Layout.nested, .flat] {
            let selected = try Self.expectSame(
                paths, try Self.shapeSelections[s](), layout: layout, readings: Reading.allCases, in: folder.path + "/\(layout)",
                direct: 0.9...1
            )
            #expect(selected > 0)
        }
    }

    @Test("Rows whose fields take many values: the caches of values, verdicts and shared fields forget and make again, and the rows stay the same")
    func manyValues() throws {
        let folder = TemporaryFolder()
        // Each field with more values than its cache holds, in orders that come back to them; datasets
        // of three rows; verdicts that read several fields (more combinations than their cache holds).
        let body = (0..<12_000).map { i in
            "{\"obs_id\":\"o\(i / 3)\",\"obs_collection\":\"\(i % 11 == 0 ? "JWST" : "HST")\",\"productSubGroupDescription\":\"S\(i % 300)\","
                + "\"productType\":\"T\(i % 97)\",\"calib_level\":\(i % 5),\"instrument_name\":\"I\((i / 7) % 2_000)\",\"filters\":\"F\(i % 131)\","
                + "\"dataURI\":\"mast:HST/product/f\(i % 25_000)_flt.fits\",\"size\":\(i % 977)}"
        }
        let path = folder.path + "/values.json"
        try ("{\"data\":[\n" + body.joined(separator: ",\n") + "\n]}").write(toFile: path, atomically: true, encoding: .utf8)
        let selections = [
            Selection(),
            Selection(levels: ["2"], suffixes: ["S7", "S200"]),
            Selection(filters: [try Selection.ColumnFilter(parsing: "productType=T3,T50,T96"), try Selection.ColumnFilter(parsing: "instrument_name=!I5")]),
            Selection(filters: [try Selection.ColumnFilter(parsing: "filters=F1,F2,F3,F130"), try Selection.ColumnFilter(parsing: "obs_id=!o7")]),
        ]
        for (k, selection) in selections.enumerated() {
            try Self.expectSame([path], selection, readings: Reading.allCases, in: folder.path + "/\(k)", direct: 1...1)
        }
    }

    @Test("A row the mapping refuses: the same message, read directly or through products", arguments: [
        #"{"dataURI":"mast:X/dir/","size":1}"#, #"{"dataURI":"  ","size":1}"#, #"{"dataURI":5}"#, #"{"dataURI":"mast:X/a.fits","size":"abc"}"#,
        #"{"dataURI":"mast:X/a.fits","size":-1}"#, #"{"dataURI":"mast:X/a.fits","size":1.5}"#, #"{"dataURI":"mast:X/a.fits","productFilename":7}"#,
        #"{"dataURI":"mast:X/a.fits","obs_collection":"HST","project":5}"#, #"{"dataURI":"mast:X/a.fits","dataRights":"SECRET"}"#,
        #"{"dataURI":"mast:X/a.fits","calib_level":true}"#, #"{"obs_id":"x"}"#, #"[1]"#,
    ])
    func refused(_ bad: String) throws {
        let folder = TemporaryFolder()
        let good = (0..<50).map { #"{"obs_id":"o","dataURI":"mast:X/f\#($0).fits","size":\#($0)}"# }
        let path = folder.path + "/bad.json"
        try ("{\"data\":[" + (good + [bad] + good).joined(separator: ",\n") + "]}").write(toFile: path, atomically: true, encoding: .utf8)
        let expected = #expect(throws: HaulError.self) { try Catalog.load(paths: [path]) }
        for reading in Reading.allCases {
            let got = #expect(throws: HaulError.self, "\(reading)") { try reading.plan([path], Selection(), layout: .nested, authorized: false) }
            #expect(got?.message == expected?.message, "\(reading)")
        }
    }

    @Test("Largest first, ties in index order: the radix sort gives the comparison sort's order")
    func largestFirst() {
        var state: UInt64 = 7
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11
        }
        // Few distinct sizes (many ties), sizes past 2^32 and up to Int64.max, zeros, a negative one.
        var sizes = (0..<50_000).map { _ in Int64(next() % 40) * 1_000_000_007 }
        sizes += [0, Int64.max, Int64.max, 1 << 40, -5, 3, 3, 1 << 32]
        sizes += (0..<5_000).map { _ in Int64(bitPattern: next()) & Int64.max }
        let expected = sizes.indices.sorted { a, b in sizes[a] != sizes[b] ? sizes[a] > sizes[b] : a < b }.map(Int32.init)
        let (order, keys) = ShardPlan.largestFirst(sizes)
        #expect(order == expected)
        #expect(keys.map(ShardPlan.size(ofKey:)) == expected.map { sizes[Int($0)] })
        #expect(ShardPlan.largestFirst([]).order.isEmpty)
    }

    @Test("Balance: each file, largest first, to the shard with the fewest bytes, then files, then the lowest index", arguments: [1, 2, 37, 1_000])
    func balanceByRule(_ shards: Int) {
        var state: UInt64 = 5
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11
        }
        // Many ties, zeros, negatives (counted as nothing), sizes that saturate the sum.
        var sizes = (0..<6_000).map { _ in Int64(next() % 7) * 1_000_003 }
        sizes += [0, -5, Int64.max, Int64.max, Int64.max - 1, 1 << 40, 3, 3]
        sizes += (0..<3_000).map { _ in Int64(next() % 100_000_000) }
        // The rule, plainly: files in order of size (largest first, ties in index order), each to the least shard.
        let order = sizes.indices.sorted { a, b in sizes[a] != sizes[b] ? sizes[a] > sizes[b] : a < b }
        var bytes = [Int64](repeating: 0, count: shards)
        var files = [Int](repeating: 0, count: shards)
        var expected = [Int32](repeating: -1, count: sizes.count)
        for i in order {
            let s = (0..<shards).min { a, b in (bytes[a], files[a], a) < (bytes[b], files[b], b) }!
            expected[i] = Int32(s)
            bytes[s] = bytes[s].addingSize(max(0, sizes[i]))
            files[s] += 1
        }
        #expect(ShardPlan.balance(sizes: sizes, shards: shards) == expected)
    }

    @Test("A selector value the catalogs lack: the same message as download's")
    func unknownValues() throws {
        let folder = TemporaryFolder()
        let paths = try Self.catalogs(in: folder.path)
        let products = try Catalog.load(paths: paths).products
        for selection in [
            Selection(levels: ["9z"]), Selection(suffixes: ["nosuch"]), Selection(extensions: ["zip"]),
            Selection(filters: [try Selection.ColumnFilter(parsing: "instrument_name=NOSUCH")]),
        ] {
            let expected = #expect(throws: HaulError.self) { try selection.checkValues(in: products) }
            let got = #expect(throws: HaulError.self) {
                try ShardPlan.plan(catalogs: paths, selection: selection, layout: .nested, root: "r", authorized: false)
            }
            #expect(got?.message == expected?.message)
        }
    }
}

extension Plan.Summary {
    /// The summary without the catalog's totals, which a plan of shards does not count.
    var withoutTotals: Plan.Summary {
        var s = self
        s.totalFiles = 0
        s.totalBytes = 0
        return s
    }
}
