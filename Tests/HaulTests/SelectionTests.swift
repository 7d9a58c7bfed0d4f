import Foundation
import Haul
import Testing

/// The overlay's selectors on catalogs shaped like MAST's (``Selection``).
@Suite("Selection")
struct SelectionTests {
    let resolver = try! URLResolver(archive: "http://127.0.0.1:8080")

    func load(_ name: String) throws -> [Product] {
        try Catalog.load(paths: [fixture(name)]).products
    }

    /// The selected rows' file names, with what happens to each when it is not a plain download.
    func picked(_ products: [Product], _ selection: Selection, authorized: Bool = false) -> [String] {
        Plan(products: products, selection: selection, root: "r", resolver: resolver, authorized: authorized).entries.map { entry in
            switch entry.disposition {
            case .download: return entry.product.filename
            case .duplicate: return entry.product.filename + " (duplicate)"
            case .excluded: return entry.product.filename + " (excluded)"
            case .unsafe: return entry.product.filename + " (unsafe)"
            }
        }
    }

    let obs1 = "jw02734001001_02101_00001-seg001_nis"
    let obs2 = "jw02734001001_02101_00002-seg001_nis"
    let level3 = "jw02734-o001_t001_niriss_clear-gr700xd-substrip256"
    let asn = "jw02734-o001_20230712t145013_tso3_00001_asn.json"
    let pool = "jw02734_20230712t145013_pool.csv"
    let secret = "jw04567001001_02101_00001_nrs1"

    @Test("Levels and suffixes come out of each format normalised alike")
    func normalisation() throws {
        let caom = try load("jwst-program.caom.json")
        let row = { (name: String) in caom.first { $0.filename == name }! }
        // calib_level 2 + CAL is JWST's 2b; 2 + RATE is 2a; 1 + UNCAL is 1b; level 3 stays 3.
        #expect(row("\(obs1)_cal.fits").level == "2b")
        #expect(row("\(obs1)_rate.fits").level == "2a")
        #expect(row("\(obs1)_uncal.fits").level == "1b")
        #expect(row("\(level3)_x1dints.fits").level == "3")
        #expect(row("\(obs1)_cal.fits").suffix == "CAL")
        // A null subgroup and null calib_level: suffix and level from the file name.
        let jpg = row("\(obs2)_cal.jpg")
        #expect(jpg.suffix == "CAL" && jpg.level == "2b" && jpg.size == nil && jpg.filters == nil)
        #expect(jpg.instrument == "NIRISS/SOSS")
        // calib_level and size written as strings; dataRights missing is public.
        let traps = row("\(obs2)_trapsfilled.fits")
        #expect(traps.level == "2a" && traps.size == 12345 && traps.access == .public)
        // HST rows: the calib_level number, and the missions-search name beside it.
        #expect(row("ieqw01ojq_flt.fits").level == "2" && row("ieqw01ojq_flt.fits").category == "calibrated")
        #expect(row("ieqw01ojq_raw.fits").category == "uncalibrated")
        #expect(row("ieqw01ojq_spt.fits").category == "aux")
        #expect(row("hst_17183_cos_ngc-5548_g130m_lf8k_cspec.fits").category == "hasp")
        // Guide-star files by name and by subgroup.
        #expect(caom.filter(\.guideStar).count == 5)

        let missions = try load("hst.missions.json")
        let m = { (name: String) in missions.first { $0.filename == name }! }
        #expect(m("oep601010_flt.fits").suffix == "FLT" && m("oep601010_flt.fits").level == "calibrated")
        #expect(m("oep601010_x1d.fits").instrument == "STIS")
        #expect(m("oep601020_raw.fits").suffix == "RAW" && m("oep601020_raw.fits").access == .exclusive)
        #expect(m("oep601020_x1d.fits").size == nil)

        let csv = try load("overlay-export.csv")
        #expect(csv.map(\.level) == ["2b", "1b", "2a", "2a", "3"])
        #expect(csv.map(\.suffix) == ["CAL", "UNCAL", "RATE", "RATEINTS", "X1DINTS"])
        #expect(csv[0].uri == "mast:JWST/product/jw02734001001_02101_00001-seg001_nis_cal.fits")

        // The same selectors mean the same on every format.
        let selection = Selection(levels: ["2B"], suffixes: ["_cal"])
        #expect(picked(csv, selection) == ["jw02734001001_02101_00001-seg001_nis_cal.fits"])
        #expect(picked(caom, selection) == picked(caom, Selection(levels: ["2b"])))
        #expect(picked(csv, Selection(suffixes: ["cal"])) == picked(csv, Selection(suffixes: ["_CAL"])))
        let list = try load("products.txt")
        #expect(list.map(\.suffix) == ["CAL", "UNCAL", "CAL", "FLT"])
        #expect(list.map(\.level) == ["2b", "1b", "2b", nil])
        #expect(picked(list, Selection(levels: ["2b"])) == ["jw02734001001_02101_00001-seg001_nis_cal.fits"])
    }

    @Test("Quick selections: all leaves out guide stars, recommended is the minimum set, none clears")
    func quick() throws {
        let caom = try load("jwst-program.caom.json")
        let all = picked(caom, Selection())
        #expect(all.count == 27)
        #expect(!all.contains { $0.contains("_gs-") })
        #expect(all.filter { $0.hasSuffix("(duplicate)") } == ["\(asn) (duplicate)", "\(pool) (duplicate)", "\(asn) (duplicate)", "\(pool) (duplicate)"])
        #expect(all.filter { $0.hasSuffix("(excluded)") }.count == 4)
        #expect(picked(caom, Selection(quick: .all)) == all)
        #expect(picked(caom, Selection(quick: .recommended)) == [
            "\(level3)_x1dints.fits", "\(obs1)_cal.fits", "\(obs2)_cal.fits", "\(secret)_cal.fits (excluded)",
            "ieqw01010_drz.fits", "ieqw01ojq_flt.fits", "hst_17183_cos_ngc-5548_g130m_lf8k_cspec.fits",
        ])
        #expect(picked(caom, Selection(quick: .nothing)).isEmpty)
        // A checked box without --quick starts from none; with --quick it adds to the quick set.
        #expect(picked(caom, Selection(levels: ["1b"])) == ["\(obs1)_uncal.fits", "\(obs2)_uncal.fits", "\(secret)_uncal.fits (excluded)"])
        #expect(picked(caom, Selection(quick: .recommended, levels: ["1b"])) == [
            "\(level3)_x1dints.fits", "\(obs1)_uncal.fits", "\(obs1)_cal.fits", "\(obs2)_uncal.fits", "\(obs2)_cal.fits",
            "\(secret)_uncal.fits (excluded)", "\(secret)_cal.fits (excluded)",
            "ieqw01010_drz.fits", "ieqw01ojq_flt.fits", "hst_17183_cos_ngc-5548_g130m_lf8k_cspec.fits",
        ])
        // With a token, exclusive-access rows are downloads.
        #expect(picked(caom, Selection(quick: .recommended), authorized: true).contains("\(secret)_cal.fits"))
    }

    @Test("Levels: JWST sub-levels, calib_level numbers taking their sub-levels, HST names, HASP")
    func levels() throws {
        let caom = try load("jwst-program.caom.json")
        #expect(picked(caom, Selection(levels: ["3"])) == [
            "\(level3)_x1dints.fits", "\(level3)_whtlt.ecsv", asn, pool, "ieqw01010_drz.fits", "hst_17183_cos_ngc-5548_g130m_lf8k_cspec.fits",
        ])
        #expect(picked(caom, Selection(levels: ["2a"])) == [
            "\(obs1)_rate.fits", "\(obs1)_rateints.fits", "\(obs2)_rate.fits", "\(obs2)_rateints.fits", "\(obs2)_trapsfilled.fits",
            "\(secret)_rate.fits (excluded)",
        ])
        let two = picked(caom, Selection(levels: ["2"]))
        #expect(two.count == 16)
        #expect(two.contains("\(obs1)_cal.fits") && two.contains("\(obs1)_rate.fits") && two.contains("ieqw01ojq_flt.fits"))
        #expect(picked(caom, Selection(levels: ["Level 2A", "L1B"])) == picked(caom, Selection(levels: ["2a", "1b"])))
        #expect(picked(caom, Selection(levels: ["calibrated"])) == ["ieqw01010_drz.fits", "ieqw01ojq_flt.fits"])
        #expect(picked(caom, Selection(levels: ["UNCALIBRATED"])) == ["ieqw01ojq_raw.fits"])
        #expect(picked(caom, Selection(levels: ["aux"])) == ["ieqw01ojq_spt.fits"])
        #expect(picked(caom, Selection(levels: ["HASP"])) == ["hst_17183_cos_ngc-5548_g130m_lf8k_cspec.fits"])

        let missions = try load("hst.missions.json")
        #expect(picked(missions, Selection(levels: ["calibrated"])) == ["oep601010_x1d.fits", "oep601010_flt.fits", "oep601020_x1d.fits (excluded)"])
        #expect(picked(missions, Selection(levels: ["aux"])) == ["oep601010_spt.fits", "oep601010_asn.fits", "oep601020_jit.fits"])
        #expect(picked(missions, Selection(levels: ["hasp"])) == ["hst_17183_stis_oep6_g140l_cspec.fits"])
        #expect(picked(missions, Selection(suffixes: ["x1d"])) == ["oep601010_x1d.fits", "oep601020_x1d.fits (excluded)"])
    }

    @Test("Suffixes: any case, leading underscore optional, several boxes are a union")
    func suffixes() throws {
        let caom = try load("jwst-program.caom.json")
        #expect(picked(caom, Selection(suffixes: ["x1dints"])) == ["\(level3)_x1dints.fits"])
        #expect(picked(caom, Selection(suffixes: ["_X1DINTS"])) == ["\(level3)_x1dints.fits"])
        #expect(picked(caom, Selection(suffixes: ["cal", "S2D"])) == [
            "\(obs1)_cal.fits", "\(obs2)_cal.fits", "\(obs2)_cal.jpg", "\(secret)_cal.fits (excluded)", "\(secret)_s2d.fits (excluded)",
        ])
        // A suffix box never adds guide-star files, though theirs end in _cal too.
        #expect(!picked(caom, Selection(suffixes: ["cal"])).contains { $0.contains("_gs-") })
        // Level and suffix boxes together are a union.
        #expect(picked(caom, Selection(levels: ["aux"], suffixes: ["x1dints"])) == ["\(level3)_x1dints.fits", "ieqw01ojq_spt.fits"])
    }

    @Test("Guide stars: only the highest level of each guide-star exposure")
    func guideStars() throws {
        let caom = try load("jwst-program.caom.json")
        #expect(picked(caom, Selection(guideStars: true)) == [
            "jw02734001001_gs-fg_2023193145213_cal.fits",
            "jw02734001001_gs-fg_2023193151522_cal.fits",
            // The acquisition has only level 1b: that is its highest.
            "jw02734001001_gs-acq1_2023193144512_uncal.fits",
        ])
        let withAll = picked(caom, Selection(quick: .all, guideStars: true))
        #expect(withAll.count == 30)
        #expect(!withAll.contains("jw02734001001_gs-fg_2023193145213_uncal.fits"))
    }

    @Test("Pipeline inputs: uncalibrated exposures, associations and pools")
    func pipelineInputs() throws {
        let caom = try load("jwst-program.caom.json")
        #expect(picked(caom, Selection(pipelineInputs: true)) == [
            asn, pool, "\(obs1)_uncal.fits", "\(asn) (duplicate)", "\(pool) (duplicate)",
            "\(obs2)_uncal.fits", "\(asn) (duplicate)", "\(pool) (duplicate)", "\(secret)_uncal.fits (excluded)", "ieqw01ojq_raw.fits",
        ])
    }

    @Test("A regular expression narrows whatever else is selected")
    func regex() throws {
        let caom = try load("jwst-program.caom.json")
        #expect(picked(caom, Selection(pattern: try Selection.FileNamePattern("/_RATE/i"))) == [
            "\(obs1)_rate.fits", "\(obs1)_rateints.fits", "\(obs2)_rate.fits", "\(obs2)_rateints.fits", "\(secret)_rate.fits (excluded)",
        ])
        #expect(picked(caom, Selection(pattern: try Selection.FileNamePattern("_RATE"))).isEmpty)
        #expect(picked(caom, Selection(pattern: try Selection.FileNamePattern(#"/_rate\.fits$/"#))) == [
            "\(obs1)_rate.fits", "\(obs2)_rate.fits", "\(secret)_rate.fits (excluded)",
        ])
        #expect(picked(caom, Selection(guideStars: true, pattern: try Selection.FileNamePattern("gs-fg"))) == [
            "jw02734001001_gs-fg_2023193145213_cal.fits", "jw02734001001_gs-fg_2023193151522_cal.fits",
        ])
        #expect(picked(caom, Selection(quick: .recommended, levels: ["1b"], pattern: try Selection.FileNamePattern("^jw02734001001_"))) == [
            "\(obs1)_uncal.fits", "\(obs1)_cal.fits", "\(obs2)_uncal.fits", "\(obs2)_cal.fits",
        ])
    }

    @Test("JavaScript's regex syntax, where ICU's differs", arguments: [
        ("[[]x", "a[x", true), ("[[]x", "ax", false),
        ("a$", "a\n", false), ("/a$/m", "a\nb", true),
        ("[^]", "x", true), ("x[]", "x", false),
        ("a{", "a{", true), ("a{2}", "aa", true), ("a{2}", "a{2}", false), ("}", "}", true),
        ("[a&&b]", "&", true), ("[a--b]", "-", true),
        ("/A.B/s", "a\nb", false), ("/A.B/si", "a\nb", true),
        (#"\d+\.fits"#, "x_12.fits", true), (#"/\//"#, "a/b", true), ("/x/y", "ax", false), ("/x/y", "xa", true),
        ("(?<name>cal)", "x_cal", true), ("(?<=_)cal", "_cal", true), (#"\u0041"#, "A", true), (#"/\u{41}/u"#, "A", true),
    ])
    func javascriptSyntax(pattern: String, name: String, expected: Bool) throws {
        #expect(try Selection.FileNamePattern(pattern).matches(name) == expected)
    }

    @Test("An invalid pattern says what is wrong and where", arguments: [
        ("(abc", "a ( is never closed with ), at character 1"),
        ("ab)c", "a ) without a matching (, at character 3"),
        ("*a", "nothing to repeat before \"*\", at character 1"),
        ("/x|+/", "nothing to repeat before \"+\", at character 4"),
        ("[abc", "a [ class is never closed with ], at character 1"),
        ("/abc\\/", "a \\ at the end escapes nothing, at character 5"),
        ("a{3,1}", "the numbers in {3,1} are out of order, at character 2"),
        ("/x/q", "unknown flag \"q\""),
        ("/x/ii", "the flag \"i\" is given twice"),
        ("/a{/u", "a { that starts no quantifier"),
    ])
    func invalidPatterns(pattern: String, message: String) {
        do {
            _ = try Selection.FileNamePattern(pattern)
            Issue.record("\(pattern) was accepted")
        } catch let error as HaulError {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains(message), "\(error.message)")
            if message.contains("at character") {
                // The caret sits under the character named.
                let lines = error.message.split(separator: "\n", omittingEmptySubsequences: false)
                let n = Int(message.split(separator: " ").last!)!
                #expect(lines.count == 3 && lines[2].count == 2 + n, "\(error.message)")
            }
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("Every page of a list whose datasets interleave, of one product each and of many, is the one the whole grouping gives", arguments: [1, 3, 7, 100])
    func pagesAgainstTheWholeGrouping(size: Int) throws {
        // Datasets of one product, runs of several, and returns to datasets seen long before.
        var products: [Product] = []
        var state: UInt64 = 5
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33) % n
        }
        for i in 0..<700 {
            let dataset = i % 5 == 0 ? "d\(next(40))" : i % 5 == 1 ? "one\(i)" : "run\(i / 9)"
            products.append(product("f\(i)_cal.fits", dataset: dataset, size: Int64(i)))
        }
        products.append(products[3])
        let plan = Plan(products: products, selection: Selection(), root: "r", resolver: resolver)
        // The grouping, worked out here from the entries: datasets in order of first appearance.
        var order: [String] = []
        var members: [String: [Int]] = [:]
        var bytes: [String: Int64] = [:]
        for (index, entry) in plan.entries.enumerated() {
            let dataset = entry.product.dataset
            if members[dataset] == nil { order.append(dataset) }
            members[dataset, default: []].append(index)
            if entry.disposition == .download { bytes[dataset, default: 0] += entry.product.size ?? 0 }
        }
        let preview = order.flatMap { members[$0]! }
        let pages = (preview.count + size - 1) / size
        for number in 1...pages {
            let page = try plan.page(number, size: size)
            let positions = ((number - 1) * size)..<min(preview.count, number * size)
            var expected: [(String, [Int], Bool)] = []
            for position in positions {
                let index = preview[position]
                let dataset = plan.entries[index].product.dataset
                if let last = expected.last, last.0 == dataset {
                    expected[expected.count - 1].1.append(index)
                } else {
                    expected.append((dataset, [index], members[dataset]!.first != index))
                }
            }
            #expect(page.groups.map(\.dataset) == expected.map(\.0), "page \(number)")
            #expect(page.groups.map(\.entries) == expected.map(\.1), "page \(number)")
            #expect(page.groups.map(\.continued) == expected.map(\.2), "page \(number)")
            #expect(page.groups.map(\.totalRows) == expected.map { members[$0.0]!.count }, "page \(number)")
            #expect(page.groups.map(\.totalBytes) == expected.map { bytes[$0.0] ?? 0 }, "page \(number)")
        }
    }

    @Test("Pages of the preview: ranges, the last page, past the end, empty, groups across pages")
    func pages() throws {
        // 1,234 rows in datasets of 7, listed with two datasets interleaved at the start.
        var products: [Product] = []
        for i in 0..<1234 {
            let dataset = i < 4 ? "d\(i % 2)" : "d\(i / 7 + 1)"
            products.append(product("f\(i)_cal.fits", dataset: dataset, size: Int64(i)))
        }
        let plan = Plan(products: products, selection: Selection(), root: "r", resolver: resolver)
        let first = try plan.page(1, size: 100)
        #expect(first.rangeText == "1–100 of 1,234")
        #expect(first.count == 13)
        // Grouped by dataset in order of first appearance: d0 is rows 0 and 2; d1 is rows 1, 3 and 4…6.
        #expect(first.groups[0].dataset == "d0" && first.groups[0].entries == [0, 2])
        #expect(first.groups[1].dataset == "d1" && first.groups[1].entries == [1, 3, 4, 5, 6])
        let second = try plan.page(2, size: 100)
        #expect(second.rangeText == "101–200 of 1,234")
        #expect(second.range == 100..<200)
        // Row 100 of the preview is in the middle of a dataset: its group is marked continued.
        #expect(second.groups[0].continued)
        #expect(second.groups[0].totalRows == 7)
        #expect(!first.groups[0].continued)
        let last = try plan.page(13, size: 100)
        #expect(last.rangeText == "1,201–1,234 of 1,234")
        #expect(last.groups.flatMap(\.entries).count == 34)
        #expect(throws: HaulError.self) { try plan.page(14, size: 100) }
        do { _ = try plan.page(14, size: 100) } catch let e as HaulError {
            #expect(e.message == "--page 14: the selection has 1,234 rows, 13 pages of 100")
        }
        #expect(throws: HaulError.self) { try plan.page(0, size: 100) }
        #expect(throws: HaulError.self) { try plan.page(1, size: 0) }
        // One page exactly, and a size beyond the rows.
        #expect(try plan.page(1, size: 1234).count == 1)
        #expect(try plan.page(1, size: 1234).rangeText == "1–1,234 of 1,234")
        #expect(try plan.page(1, size: 5000).rangeText == "1–1,234 of 1,234")
        #expect(try plan.page(2, size: 617).rangeText == "618–1,234 of 1,234")
        #expect(try plan.page(1234, size: 1).rangeText == "1,234–1,234 of 1,234")
        // Every row is on exactly one page.
        var seen: [Int] = []
        for n in 1...13 { seen += try plan.page(n, size: 100).groups.flatMap(\.entries) }
        #expect(seen.sorted() == Array(0..<1234))
        // An empty selection has one empty page.
        let empty = Plan(products: products, selection: Selection(quick: .nothing), root: "r", resolver: resolver)
        #expect(try empty.page(1, size: 100).rangeText == "0 of 0")
        #expect(throws: HaulError.self) { try empty.page(2, size: 100) }
        #expect(Int.max.grouped == "9,223,372,036,854,775,807" && 999.grouped == "999" && 1000.grouped == "1,000")
    }

    @Test("The CSV export read back as a catalog gives the same selection", arguments: [
        Selection(), Selection(quick: .recommended), Selection(guideStars: true, pipelineInputs: true),
        Selection(quick: .all, levels: ["3"], guideStars: true),
    ])
    func exportRoundTrip(selection: Selection) throws {
        var products = try load("jwst-program.caom.json") + load("hst.missions.json")
        // Names a spreadsheet would run, and fields that need quoting.
        products.append(Product(uri: "mast:JWST/product/=cmd|x.fits", filename: "=cmd|x.fits", dataset: "jw1, \"quoted\"", level: "2b", suffix: "CAL", size: 7))
        products.append(Product(uri: "mast:JWST/product/-5_cal.fits", filename: "-5_cal.fits", dataset: "+d", suffix: "CAL", instrument: "@I", filters: "a\nb"))
        for authorized in [false, true] {
            let plan = Plan(products: products, selection: selection, root: "r", resolver: resolver, authorized: authorized)
            let csv = plan.exportCSV()
            #expect(csv.hasPrefix("Dataset,Filename,Product Level,Suffix,Instrument,Filter / Grating,URI,Size,Access\r\n"))
            let back = try Catalog.parse(Data(csv.utf8), name: "export.csv")
            let again = Plan(products: back, selection: Selection(), root: "r", resolver: resolver, authorized: authorized)
            #expect(again.entries.map(\.product.uri) == plan.entries.map(\.product.uri))
            #expect(again.entries.map(\.path) == plan.entries.map(\.path))
            #expect(again.entries.map(\.url) == plan.entries.map(\.url))
            #expect(again.entries.map(\.disposition) == plan.entries.map(\.disposition))
            #expect(again.entries.map(\.product.size) == plan.entries.map(\.product.size))
            #expect(again.entries.map(\.product.access) == plan.entries.map(\.product.access))
            #expect(again.entries.map(\.product.level) == plan.entries.map(\.product.level))
            #expect(again.entries.map(\.product.suffix) == plan.entries.map(\.product.suffix))
            #expect(again.entries.map(\.product.filters) == plan.entries.map(\.product.filters))
            #expect(again.summary.selectedFiles == plan.summary.selectedFiles)
            #expect(again.summary.selectedBytes == plan.summary.selectedBytes)
            #expect(again.summary.duplicates == plan.summary.duplicates)
            #expect(again.summary.excludedExclusive == plan.summary.excludedExclusive)
            // And it exports to the same text again.
            #expect(again.exportCSV() == csv)
        }
    }
}
