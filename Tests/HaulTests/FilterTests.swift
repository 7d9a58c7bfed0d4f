import Foundation
import Haul
import Testing

/// astroquery's filters (`--where`, `--extension`, `--mrp-only`) and the check that a selector value
/// names something the catalog has (docs/guide.md: "Selecting before downloading", "From astroquery").
@Suite("Filters and selector values")
struct FilterTests {
    /// The CAOM fixture's rows as JSON objects, read independently of Haul's reader.
    func rawRows() throws -> [[String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture("jwst-program.caom.json")))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require(object["data"] as? [[String: Any]])
    }

    func text(_ value: Any?) -> String? {
        switch value {
        case let s as String: return s
        case let n as NSNumber: return n.stringValue
        default: return nil
        }
    }

    func selectedURIs(_ selection: Selection) throws -> Set<String> {
        let products = try Catalog.load(paths: [fixture("jwst-program.caom.json")]).products
        return Set(selection.apply(to: products).map(\.uri))
    }

    @Test("--where is AND across filters and OR within one, as filter_products; --extension matches name endings")
    func andOr() throws {
        let selection = Selection(
            filters: [try Selection.ColumnFilter(parsing: "productType=SCIENCE,info"), try Selection.ColumnFilter(parsing: "calib_level=2, 3")],
            extensions: ["fits"]
        )
        // The same filter on the raw JSON rows: every product but guide-star files (the quick set `all`).
        let expected = Set(try rawRows().filter { row in
            let name = text(row["productFilename"]) ?? ""
            return ["SCIENCE", "INFO"].contains(text(row["productType"]) ?? "")
                && ["2", "3"].contains(text(row["calib_level"]) ?? "")
                && name.hasSuffix("fits") && !name.contains("_gs-")
        }.compactMap { text($0["dataURI"]) })
        let picked = try selectedURIs(selection)
        #expect(picked == expected)
        #expect(picked.count == 14)
        // One filter alone keeps more: AND narrows.
        #expect(try selectedURIs(Selection(filters: [try Selection.ColumnFilter(parsing: "productType=SCIENCE")])).count > picked.count)
    }

    @Test("Column names: CAOM's, missions search's aliases, any case; a value's case and a suffix's _ do not matter")
    func columns() throws {
        #expect(try Selection.ColumnFilter(parsing: "PRODUCTTYPE=x").column == .productType)
        #expect(try Selection.ColumnFilter(parsing: "file_suffix=_cal").column == .productSubGroupDescription)
        #expect(try Selection.ColumnFilter(parsing: "instrument=NIRISS/SOSS").column == .instrumentName)
        let cal = try selectedURIs(Selection(filters: [try Selection.ColumnFilter(parsing: "productSubGroupDescription=_cal")]))
        // The subgroup, or where the catalog leaves it empty the file name's suffix (`…_cal.jpg`).
        let expected = Set(try rawRows().filter { row in
            text(row["productSubGroupDescription"]).map { $0 == "CAL" } ?? (text(row["productFilename"])?.contains("_cal.") == true)
        }.compactMap { text($0["dataURI"]) })
        #expect(cal == expected)
        #expect(cal.count == 4)
        let rights = try selectedURIs(Selection(filters: [try Selection.ColumnFilter(parsing: "dataRights=exclusive_access")]))
        #expect(rights.count == 4)
    }

    @Test("The columns kept for --where alone: description, project, proposal_id, dataproduct_type, in JSON and in every astropy table", arguments: [
        "jwst-program.caom.json", "astropy/jwst-program.ecsv", "astropy/jwst-program.csv", "astropy/jwst-program.xml",
        "astropy/jwst-program-binary2.xml", "astropy/jwst-program.fits",
    ])
    func detailColumns(_ catalog: String) throws {
        let rows = try rawRows()
        let products = try Catalog.load(paths: [fixture(catalog)], keepingDetails: true).products
        // Not kept unless asked for: a big catalog reads a fifth faster without them.
        #expect(try Catalog.load(paths: [fixture(catalog)]).products.allSatisfy { $0.details == nil })
        for (column, values) in [("description", ["science", "PREVIEW"]), ("project", ["CALJWST"]), ("proposal_id", ["17183"]),
                                 ("dataproduct_type", ["SPECTRUM"])] {
            let filter = try Selection.ColumnFilter(parsing: "\(column)=" + values.joined(separator: ","))
            let picked = Set(Selection(filters: [filter]).apply(to: products).map(\.uri))
            // The same on the raw rows (the quick set `all`: no guide-star files), values in any case.
            let expected = Set(rows.filter { row in
                let value = text(row[column])?.lowercased()
                return values.contains { $0.lowercased() == value } && !(text(row["productFilename"]) ?? "").contains("_gs-")
            }.compactMap { text($0["dataURI"]) })
            #expect(picked == expected, "\(catalog): --where \(column)")
            #expect(!picked.isEmpty, "\(catalog): --where \(column)")
        }
        // Rows with the same values share one record of them.
        let kept = products.compactMap(\.details)
        #expect(Set(kept.map { ObjectIdentifier($0) }).count == Set(kept).count, "\(catalog)")
    }

    @Test("A malformed --where says what was expected; an unknown column lists the columns", arguments: [
        ("productTyp=SCIENCE", "--where productTyp=SCIENCE: no column 'productTyp'; the columns are productType, calib_level, productSubGroupDescription, productGroupDescription, dataRights, obs_id, obs_collection, instrument_name, filters, productFilename, dataURI, category, size, description, project, proposal_id, dataproduct_type"),
        ("productType", "--where productType: expected COLUMN=VALUE[,VALUE…], e.g. productType=SCIENCE"),
        ("productType=", "--where productType=: no value after '='; expected productType=VALUE[,VALUE…]"),
        ("productType= , ", "--where productType= , : no value after '='; expected productType=VALUE[,VALUE…]"),
    ])
    func malformed(text: String, message: String) throws {
        let error = #expect(throws: HaulError.self) { try Selection.ColumnFilter(parsing: text) }
        #expect(error?.message == message)
        #expect(error?.isInputError == true)
    }

    @Test("Negated values, comparisons and ranges, as astroquery's filter_products reads them")
    func negationAndNumbers() throws {
        let rows = try rawRows().filter { !(text($0["productFilename"]) ?? "").contains("_gs-") }
        func uris(_ keep: ([String: Any]) -> Bool) -> Set<String> { Set(rows.filter(keep).compactMap { text($0["dataURI"]) }) }
        func size(_ row: [String: Any]) -> Double? { text(row["size"]).flatMap(Double.init) }
        func level(_ row: [String: Any]) -> Double? { text(row["calib_level"]).flatMap(Double.init) }

        let notAux = try selectedURIs(Selection(filters: [try Selection.ColumnFilter(parsing: "productType=!AUXILIARY,!info")]))
        #expect(notAux == uris { !["AUXILIARY", "INFO"].contains(text($0["productType"]) ?? "") })
        let scienceNotCal = try selectedURIs(Selection(filters: [try Selection.ColumnFilter(parsing: "productType=SCIENCE,PREVIEW,!SCIENCE")]))
        #expect(scienceNotCal == uris { text($0["productType"]) == "PREVIEW" })

        let small = try selectedURIs(Selection(filters: [try Selection.ColumnFilter(parsing: "size=<20000")]))
        #expect(small == uris { (size($0) ?? .infinity) < 20000 })
        #expect(!small.isEmpty)
        let band = try selectedURIs(Selection(filters: [try Selection.ColumnFilter(parsing: "size=10000..30000,!24000")]))
        #expect(band == uris { size($0).map { $0 >= 10000 && $0 <= 30000 && $0 != 24000 } ?? false })
        let high = try selectedURIs(Selection(filters: [try Selection.ColumnFilter(parsing: "calib_level=>=2"), try Selection.ColumnFilter(parsing: "calib_level=!3")]))
        // The row without a calib_level, `…_cal.jpg`, is JWST's level 2b by its suffix, so calib_level 2.
        #expect(high == uris { (level($0) ?? ((text($0["productFilename"]) ?? "").contains("_cal.") ? 2 : nil)) == 2 })
        #expect(high.count > 0)

        let error = #expect(throws: HaulError.self) { try Selection.ColumnFilter(parsing: "size=big") }
        #expect(error?.message == "--where size=big: size is a number: expected N, <N, <=N, >N, >=N or LOW..HIGH (a leading ! negates), found big")
        // A negated value that names nothing is a typo too; comparisons need not name a value.
        let products = try Catalog.load(paths: [fixture("jwst-program.caom.json")]).products
        let typo = #expect(throws: HaulError.self) { try Selection(filters: [try Selection.ColumnFilter(parsing: "productType=!AUXILARY")]).checkValues(in: products) }
        #expect(typo?.message == "--where productType=!AUXILARY: this catalog has AUXILIARY, INFO, PREVIEW, SCIENCE")
        try Selection(filters: [try Selection.ColumnFilter(parsing: "size=<1"), try Selection.ColumnFilter(parsing: "calib_level=2.0")]).checkValues(in: products)
    }

    @Test("--mrp-only's selection is --quick recommended's: the rows marked Minimum Recommended Products")
    func mrpOnly() throws {
        let expected = Set(try rawRows().filter { text($0["productGroupDescription"]) == "Minimum Recommended Products" }.compactMap { text($0["dataURI"]) })
        #expect(try selectedURIs(Selection(quick: .recommended)) == expected)
        #expect(expected.count == 7)
        // …and astroquery's productGroupDescription filter says the same.
        #expect(try selectedURIs(Selection(filters: [try Selection.ColumnFilter(parsing: "productGroupDescription=Minimum Recommended Products")])) == expected)
    }

    @Test("A selector value the catalog does not have is an input error listing the values it has", arguments: [
        (Selection(levels: ["foo"]), "--level foo: this catalog has 1, 1b, 2, 2a, 2b, 3, aux, calibrated, hasp, uncalibrated"),
        (Selection(levels: ["2b", "4"]), "--level 4: this catalog has 1, 1b, 2, 2a, 2b, 3, aux, calibrated, hasp, uncalibrated"),
        (Selection(suffixes: ["nosuch"]), "--suffix nosuch: this catalog has ASN, CAL, CSPEC, DRZ, FLT, GS-ACQ1, GS-FG, POOL, RATE, RATEINTS, RAW, S2D, SPT, TRAPSFILLED, UNCAL, WHTLT, X1DINTS"),
        (Selection(filters: [Selection.ColumnFilter(column: .productType, values: ["SCIENCE", "FOO"])]), "--where productType=FOO: this catalog has AUXILIARY, INFO, PREVIEW, SCIENCE"),
        (Selection(filters: [Selection.ColumnFilter(column: .calibLevel, values: ["4"])]), "--where calib_level=4: this catalog has 1, 2, 3"),
        (Selection(extensions: ["fitz"]), "--extension fitz: this catalog has csv, ecsv, fits, jpg, json"),
    ])
    func unknownValues(selection: Selection, message: String) throws {
        let products = try Catalog.load(paths: [fixture("jwst-program.caom.json")]).products
        let error = #expect(throws: HaulError.self) { try selection.checkValues(in: products) }
        #expect(error?.message == message)
        #expect(error?.code == .invalidArgument)
    }

    @Test("Values the catalog has pass, in any form the selectors accept")
    func knownValues() throws {
        let products = try Catalog.load(paths: [fixture("jwst-program.caom.json")]).products
        let selection = Selection(
            levels: ["2", "L1b", "CALIBRATED"], suffixes: ["_x1dints", "cal"],
            filters: [Selection.ColumnFilter(column: .productType, values: ["science"]), Selection.ColumnFilter(column: .calibLevel, values: ["3"])],
            extensions: [".FITS", "_cal.fits"]
        )
        try selection.checkValues(in: products)
        // An empty catalog says so rather than listing nothing.
        let error = #expect(throws: HaulError.self) { try Selection(levels: ["3"]).checkValues(in: []) }
        #expect(error?.message == "--level 3: the catalog lists no products")
    }
}
