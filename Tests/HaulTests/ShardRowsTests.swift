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

    @Test("The same shard files, rows.csv and plan.json", arguments: cases, [false, true])
    func same(_ c: Case, ahead: Bool) throws {
        let folder = TemporaryFolder()
        let paths = try Self.catalogs(in: folder.path)
        let selection = try c.selection()
        let resolver = try URLResolver(archive: "https://mast.stsci.edu")
        var options = ShardPlan.Options(shards: 3, archive: resolver)
        options.fingerprint = "0123456789abcdef"
        let products = try Catalog.load(paths: paths, keepingDetails: selection.needsDetails).products
        let plan = Plan(products: products, selection: selection, layout: c.layout, root: "r", resolver: resolver, authorized: c.authorized)
        let rows = try RowsAhead.$minimumBytes.withValue(ahead ? 0 : Int.max) {
            try ShardPlan.plan(catalogs: paths, selection: selection, layout: c.layout, root: "r", authorized: c.authorized)
        }
        #expect(rows.rowCount == products.count)
        #expect(rows.summary == plan.summary.withoutTotals)
        guard plan.summary.selectedFiles > 0 else { return }
        try ShardPlan.write(plan, to: folder.path + "/products", options: options)
        try ShardPlan.write(rows, to: folder.path + "/rows", options: options)
        let names = ["plan.json", "rows.csv", "shards/00000.csv", "shards/00001.csv", "shards/00002.csv"]
        for name in names {
            let a = readBytes(folder.path + "/products/" + name) ?? []
            #expect(!a.isEmpty, "\(name) is empty")
            #expect(a == readBytes(folder.path + "/rows/" + name), "\(name) differs")
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
