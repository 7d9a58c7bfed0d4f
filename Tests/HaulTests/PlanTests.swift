import Haul
import Testing

@Suite("Plan")
struct PlanTests {
    let resolver = try! URLResolver(archive: "http://127.0.0.1:8080")

    @Test("URIs resolve to MAST's endpoints, percent-escaped as URLResolver states")
    func resolution() throws {
        #expect(resolver.url(for: "mast:JWST/product/jw01_cal.fits") == "http://127.0.0.1:8080/api/v0.1/Download/file?uri=mast:JWST/product/jw01_cal.fits")
        #expect(resolver.url(for: "mast:HST/product/a b+c&d.fits") == "http://127.0.0.1:8080/api/v0.1/Download/file?uri=mast:HST/product/a%20b%2Bc%26d.fits")
        #expect(resolver.url(for: "Z14Z0104T/z14z0104t_shf.fits") == "http://127.0.0.1:8080/search/hst/api/v0.1/retrieve_product?product_name=Z14Z0104T%2Fz14z0104t_shf.fits")
        #expect(resolver.url(for: "https://example.org/x.fits?a=1") == "https://example.org/x.fits?a=1")
        let jwst = try URLResolver(archive: "https://mast.example/", mission: .jwst)
        #expect(jwst.url(for: "jw01/jw01_cal.fits") == "https://mast.example/search/jwst/api/v0.1/retrieve_product?product_name=jw01%2Fjw01_cal.fits")
        let environment = try URLResolver(environment: ["HAUL_ARCHIVE": "http://127.0.0.1:9"])
        #expect(environment.archive == "http://127.0.0.1:9")
        #expect(try URLResolver().archive == "https://mast.stsci.edu")
        #expect(throws: HaulError.self) { try URLResolver(archive: "ftp://x") }
    }

    @Test("The first row of a URI keeps the file; later ones are duplicates of it")
    func dedup() {
        let products = [
            product("pool_asn.json", dataset: "obs1", size: 10),
            product("a_cal.fits", dataset: "obs1", size: 100),
            product("pool_asn.json", dataset: "obs2", size: 10),
            product("pool_asn.json", dataset: "obs3", size: 10),
        ]
        let plan = Plan(products: products, selection: Selection(), root: "r", resolver: resolver)
        #expect(plan.entries.map(\.disposition) == [.download, .download, .duplicate(of: 0), .duplicate(of: 0)])
        #expect(plan.summary.selectedFiles == 2)
        #expect(plan.summary.selectedBytes == 110)
        #expect(plan.summary.duplicates == 2)
        #expect(plan.summary.totalFiles == 2)
        #expect(plan.downloads == [0, 1])
    }

    @Test("Nested and flat layouts; flat collisions get deterministic names")
    func layouts() {
        let products = [
            Product(uri: "mast:JWST/product/x.fits", filename: "x.fits", dataset: "d1"),
            Product(uri: "mast:HST/product/x.fits", filename: "x.fits", dataset: "d2"),
            Product(uri: "mast:HST/other/X.FITS", filename: "X.FITS", dataset: "d3"),
            Product(uri: "mast:HST/product/x (2).fits", filename: "x (2).fits", dataset: "d4"),
            Product(uri: "mast:HST/product/manifest.csv", filename: "manifest.csv", dataset: "d5"),
        ]
        let nested = Plan(products: products, selection: Selection(), layout: .nested, root: "r", resolver: resolver)
        #expect(nested.entries.map(\.path) == ["d1/x.fits", "d2/x.fits", "d3/X.FITS", "d4/x (2).fits", "d5/manifest.csv"])
        #expect(nested.entries.allSatisfy { $0.renamedFrom == nil })

        let flat = Plan(products: products, selection: Selection(), layout: .flat, root: "r", resolver: resolver)
        #expect(flat.entries.map(\.path) == ["x.fits", "x (3).fits", "X (4).FITS", "x (2).fits", "manifest (2).csv"])
        #expect(flat.entries.map(\.renamedFrom) == [nil, "x.fits", "X.FITS", nil, "manifest.csv"])
    }

    @Test("Unsafe names never become paths", arguments: [
        ("../../etc/passwd", "d", "file name climbs out of its folder (..)"),
        ("/etc/passwd", "d", "file name is an absolute path"),
        ("a\u{0}b.fits", "d", "file name contains the control character U+0000"),
        ("a\nb.fits", "d", "file name contains the control character U+000A"),
        ("ok.fits", "..", "dataset climbs out of its folder (..)"),
        ("ok.fits", "C:\\temp", "dataset is an absolute (drive) path"),
        ("ok.fits", "a\\..\\..\\b", "dataset climbs out of its folder (..)"),
        ("", "d", "file name is empty"),
        (String(repeating: "x", count: 300), "d", "file name has a component of 300 bytes, longer than the 255 a file system allows"),
        // 1,000 bytes in one component; 1,100 bytes in components of 100.
        (String(repeating: "x", count: 995) + ".fits", "d", "file name has a component of 1000 bytes, longer than the 255 a file system allows"),
        (Array(repeating: String(repeating: "y", count: 99), count: 11).joined(separator: "/") + "/z.fits", "d", "file name is 1106 bytes long, more than the 1024 a name may have"),
        // Right-to-left override and marks: the name would show in another order than it has.
        ("report\u{202E}stif.exe", "d", "file name contains the bidirectional control character U+202E, which shows the name in another order than it has"),
        ("a\u{200F}b.fits", "d", "file name contains the bidirectional control character U+200F, which shows the name in another order than it has"),
        ("ok.fits", "obs\u{2067}1", "dataset contains the bidirectional control character U+2067, which shows the name in another order than it has"),
        // Windows device names, any case, with an extension, trailing spaces, in any component.
        ("CON", "d", "file name uses the Windows device name CON, which cannot be a file on Windows"),
        ("nul.fits", "d", "file name uses the Windows device name NUL, which cannot be a file on Windows"),
        ("Com1.tar.gz", "d", "file name uses the Windows device name COM1, which cannot be a file on Windows"),
        ("lpt9 .txt", "d", "file name uses the Windows device name LPT9, which cannot be a file on Windows"),
        ("COM\u{B9}.fits", "d", "file name uses the Windows device name COM\u{B9}, which cannot be a file on Windows"),
        ("ok.fits", "aux/x", "dataset uses the Windows device name AUX, which cannot be a file on Windows"),
        ("conout$", "d", "file name uses the Windows device name CONOUT$, which cannot be a file on Windows"),
        // Windows drops a trailing dot or space: two names would become one.
        ("a.fits.", "d", "file name has a component ending in a dot or a space, which Windows drops"),
        ("a.fits ", "d", "file name has a component ending in a dot or a space, which Windows drops"),
        ("ok.fits", "obs1 /x", "dataset has a component ending in a dot or a space, which Windows drops"),
        ("a//b.fits", "d", "file name has an empty component"),
    ])
    func unsafe(filename: String, dataset: String, problem: String) {
        let products = [
            Product(uri: "mast:X/bad", filename: filename, dataset: dataset),
            Product(uri: "mast:X/good.fits", filename: "good.fits", dataset: "d"),
        ]
        let plan = Plan(products: products, selection: Selection(), root: "r", resolver: resolver)
        #expect(plan.entries[0].disposition == .unsafe(problem))
        #expect(plan.entries[1].disposition == .download)
        #expect(plan.summary.unsafe == 1)
    }

    @Test("A plan big enough for two threads finds every unsafe file name and dataset, in runs of a dataset and one-product ones", arguments: Plan.Layout.allCases)
    func unsafeOnTwoThreads(layout: Plan.Layout) {
        // More rows than one thread checks alone (``Halves``), datasets in runs of 1 to 12, some of them
        // (and some file names) unsafe, a run's unsafe dataset sometimes right after the same safe one.
        let hostile = ["aux", "a/../b", "obs ", "x\u{202E}y", "C\u{E9}line\u{85}", "", "CONıN$"]
        var products: [Product] = []
        var run = 0
        while products.count < 70_000 {
            run += 1
            let dataset = run % 97 == 0 ? hostile[run % hostile.count] : run % 13 == 0 ? "d\(run)_C\u{E9}line" : "d\(run)"
            for k in 0..<(1 + run % 12) {
                let i = products.count
                let filename = i % 1_009 == 0 ? hostile[i % hostile.count] + ".fits" : "f\(i)_\(k)_cal.fits"
                products.append(Product(uri: "mast:X/\(i)", filename: filename, dataset: dataset))
            }
        }
        let plan = Plan(products: products, selection: Selection(), layout: layout, root: "r", resolver: resolver)
        var unsafe = 0
        for (index, product) in products.enumerated() {
            let problem = SafePath.problem(in: product.filename, what: "file name")
                ?? (layout == .nested ? SafePath.problem(in: product.dataset, what: "dataset") : nil)
            if let problem { unsafe += 1 }
            #expect(plan.entries[index].disposition == (problem.map { .unsafe($0) } ?? .download), "row \(index)")
        }
        #expect(plan.summary.unsafe == unsafe && unsafe > 0)
    }

    @Test("Names close to the hostile ones stay as they are", arguments: [
        "console.fits", "CONS", "COM10.fits", "LPT.txt", "auxiliary_cal.fits", "nullable.json", "prn_x.fits",
        "a.b.c", "Ωmega_ñ_日本_🔭.fits", "arabic_\u{0627}\u{0644}.fits", "colon:and|pipe?.fits",
        String(repeating: "x", count: 255),
        // 1,000 bytes in components of at most 255: kept.
        Array(repeating: String(repeating: "w", count: 199), count: 5).joined(separator: "/"),
    ])
    func nearlyHostile(_ filename: String) {
        #expect(SafePath.problem(in: filename, what: "file name") == nil)
        let plan = Plan(products: [Product(uri: "mast:X/f", filename: filename, dataset: "d")], selection: Selection(), root: "r", resolver: resolver)
        #expect(plan.entries[0].disposition == .download)
        #expect(plan.entries[0].path == "d/" + filename)
    }

    @Test("Quick selections, and exclusive-access products without a token")
    func selection() {
        var recommended = product("a_cal.fits", size: 1)
        recommended.recommended = true
        var guideStar = product("jw01_gs-fg_1_cal.fits", size: 1)
        guideStar.guideStar = true
        guideStar.recommended = true
        let exclusive = product("b_cal.fits", size: 1, access: .exclusive)
        let plain = product("c_uncal.fits", size: 1)
        let products = [recommended, guideStar, exclusive, plain]
        let all = Plan(products: products, selection: Selection(quick: .all), root: "r", resolver: resolver)
        #expect(all.entries.map(\.product.filename) == ["a_cal.fits", "b_cal.fits", "c_uncal.fits"])
        #expect(all.entries[1].disposition == .excluded("exclusive access needs a token"))
        #expect(all.summary.excludedExclusive == 1)
        let rec = Plan(products: products, selection: Selection(quick: .recommended), root: "r", resolver: resolver)
        #expect(rec.entries.map(\.product.filename) == ["a_cal.fits"])
        let none = Plan(products: products, selection: Selection(quick: .nothing), root: "r", resolver: resolver)
        #expect(none.entries.isEmpty)
        let token = Plan(products: products, selection: Selection(quick: .all), root: "r", resolver: resolver, authorized: true)
        #expect(token.entries[1].disposition == .download)
    }
}
