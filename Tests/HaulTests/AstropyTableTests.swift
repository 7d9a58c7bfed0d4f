import Foundation
import Haul
import Testing

/// The astropy fixtures: the CAOM fixture as astroquery's table, written by astropy 8 in each format
/// (`Fixtures/astropy/make_fixtures.py`).
let astropyFixtures: [(file: String, format: Catalog.Format)] = [
    ("astropy/jwst-program.csv", .astropyCSV),
    ("astropy/jwst-program.ecsv", .ecsv),
    ("astropy/jwst-program.xml", .votable),
    ("astropy/jwst-program-binary2.xml", .votable),
    ("astropy/jwst-program.fits", .fits),
]

@Suite("Astropy tables")
struct AstropyTableTests {
    /// Products without their origins, which name the file and row each format's way.
    func comparable(_ products: [Product]) -> [Product] {
        products.map { var p = $0; p.origin = ""; return p }
    }

    func error(_ text: String, name: String) -> String {
        error(Data(text.utf8), name: name)
    }

    func error(_ data: Data, name: String) -> String {
        do {
            let products = try Catalog.parse(data, name: name)
            return "no error: \(products.count) products"
        } catch let e as HaulError {
            #expect(e.code == .invalidCatalog)
            return e.message
        } catch {
            return "\(error)"
        }
    }

    func fixtureData(_ name: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: fixture(name)))
    }

    @Test("A product table written by astropy reads as the JSON it was made from", arguments: astropyFixtures.map(\.file))
    func sameProducts(file: String) throws {
        let json = try Catalog.load(paths: [fixture("jwst-program.caom.json")]).products
        let table = try Catalog.load(paths: [fixture(file)]).products
        #expect(table.count == 32)
        #expect(comparable(table) == comparable(json))
        // Every row kept its masked values as nulls: the row with no size and no level, and the one with no dataRights.
        #expect(table[21].size == nil && table[21].level == "2b" && table[21].suffix == "CAL")
        #expect(table[22].access == .public && table[22].size == 12345)
        // Origins name the row as the format places it.
        let origin = table[2].origin
        switch astropyFixtures.first(where: { $0.file == file })!.format {
        case .astropyCSV: #expect(origin == fixture(file) + ":4")
        case .ecsv: #expect(origin == fixture(file) + ":31")
        case .fits: #expect(origin == fixture(file) + ": row 3")
        default: #expect(origin.hasPrefix(fixture(file)) && (origin.hasSuffix(": row 3") || origin.hasSuffix(":82")))
        }
    }

    @Test("Formats are told from the content; the overlay's CSV and URL lists are still themselves")
    func detection() throws {
        for (file, format) in astropyFixtures {
            #expect(Catalog.detect(try fixtureData(file)) == format, "\(file)")
        }
        #expect(Catalog.detect(try fixtureData("overlay-export.csv")) == .csv)
        #expect(Catalog.detect(try fixtureData("products.txt")) == .urlList)
        #expect(Catalog.detect(Data("# my list\nmast:JWST/product/a.fits\n".utf8)) == .urlList)
        #expect(Catalog.detect(Data("# a comment astropy wrote\nobs_id,dataURI\n".utf8)) == .astropyCSV)
        #expect(Catalog.detect(Data("https://example.org/a,b.fits\n".utf8)) == .urlList)
    }

    @Test("The fixtures hold what the readers must meet: FITS blocks and column types, BINARY2 variable-length text")
    func fixtureShapes() throws {
        let fits = try fixtureData("astropy/jwst-program.fits")
        #expect(fits.count % 2880 == 0 && fits.count / 2880 >= 5)
        let header = String(decoding: fits.prefix(5 * 2880), as: UTF8.self)
        for card in ["TFORM1  = '8A      '", "TFORM16 = 'K       '", "TNULL16 =", "TFORM19 = 'J       '", "TNULL19 =",
                     "TFORM22 = 'D       '", "TFORM23 = 'L       '"] {
            #expect(header.contains(card), "\(card)")
        }
        let binary2 = String(decoding: try fixtureData("astropy/jwst-program-binary2.xml"), as: UTF8.self)
        #expect(binary2.contains("<BINARY2>") && binary2.contains(#"arraysize="*" datatype="unicodeChar" name="dataURI""#))
    }

    @Test("haul select --json gives the same summary and rows for each table as for its JSON", arguments: [
        [String](), ["--quick", "all"], ["--level", "2b", "--suffix", "cal"], ["--guidestar"],
    ])
    func select(selectors: [String]) async throws {
        let folder = TemporaryFolder()
        let expected = try await runHaul(["select", fixture("jwst-program.caom.json")] + selectors + ["--json"], in: folder.path)
        #expect(expected.status == 0)
        #expect(expected.stdout.contains(#""selected_files":"#))
        for (file, _) in astropyFixtures {
            let run = try await runHaul(["select", fixture(file)] + selectors + ["--json"], in: folder.path)
            #expect(run.status == 0, "\(file): \(run.stderr)")
            #expect(run.stdout == expected.stdout, "\(file)")
        }
    }

    @Test("A broken table exits 2 naming the file and the place")
    func commandLineError() async throws {
        let folder = TemporaryFolder()
        let fits = try fixtureData("astropy/jwst-program.fits")
        try fits.prefix(10_000).write(to: URL(fileURLWithPath: folder.path + "/cut.fits"))
        let run = try await runHaul(["select", "cut.fits"], in: folder.path)
        #expect(run.status == 2)
        #expect(run.stderr.hasPrefix("haul: error: cut.fits: byte 8640: the file ends inside the table: 32 rows of 362 bytes stated, 1360 bytes left"), "\(run.stderr)")
    }

    // MARK: CSV

    @Test("CSV: CAOM columns in any order, masked values empty, other columns ignored")
    func csvOrder() throws {
        let csv = """
        size,keep,dataURI,calib_level,obs_id,productFilename,dataRights,productSubGroupDescription,obs_collection,productGroupDescription
        117538560,True,mast:JWST/product/jw01_nrca1_cal.fits,2,jw01_nrca1,jw01_nrca1_cal.fits,PUBLIC,CAL,JWST,Minimum Recommended Products
        ,,mast:JWST/product/jw01_gs-fg_1_cal.fits,,,,EXCLUSIVE_ACCESS,GS-FG,JWST,
        "30528",False,"mast:HST/product/ib2u01a1q_flt.fits",2,ib2u01010,,,FLT,HST,

        """
        let json = """
        [{"dataURI": "mast:JWST/product/jw01_nrca1_cal.fits", "obs_id": "jw01_nrca1", "productFilename": "jw01_nrca1_cal.fits",
          "size": 117538560, "calib_level": 2, "dataRights": "PUBLIC", "productSubGroupDescription": "CAL", "obs_collection": "JWST",
          "productGroupDescription": "Minimum Recommended Products"},
         {"dataURI": "mast:JWST/product/jw01_gs-fg_1_cal.fits", "size": null, "calib_level": null, "obs_id": null,
          "dataRights": "EXCLUSIVE_ACCESS", "productSubGroupDescription": "GS-FG", "obs_collection": "JWST"},
         {"dataURI": "mast:HST/product/ib2u01a1q_flt.fits", "size": 30528, "calib_level": 2, "obs_id": "ib2u01010",
          "productSubGroupDescription": "FLT", "obs_collection": "HST"}]
        """
        let table = try Catalog.parse(Data(csv.utf8), name: "p.csv")
        let expected = try Catalog.parse(Data(json.utf8), name: "p.json")
        #expect(comparable(table) == comparable(expected))
        #expect(table.map(\.origin) == ["p.csv:2", "p.csv:3", "p.csv:4"])
        #expect(table[1].guideStar && table[1].access == .exclusive && table[1].size == nil && table[1].dataset == "")
        #expect(table[0].recommended && table[0].level == "2b")
    }

    @Test("A missions-search product table (MastMissions.get_product_list) reads as its JSON")
    func missionsTable() throws {
        // The rows of hst.missions.json as astropy writes the table, with astroquery's column order.
        let json = try Catalog.load(paths: [fixture("hst.missions.json")]).products
        let object = try JSONSerialization.jsonObject(with: fixtureData("hst.missions.json")) as! [String: Any]
        let rows = object["products"] as! [[String: Any]]
        let columns = ["product_key", "access", "dataset", "instrument_name", "filters", "filename", "uri", "file_suffix", "category", "size", "type"]
        var csv = columns.joined(separator: ",") + "\n"
        for row in rows {
            csv += columns.map { key in
                guard let value = row[key], !(value is NSNull) else { return "" }
                let text = "\(value)"
                return text.contains(",") || text.contains(" ") ? "\"\(text)\"" : text
            }.joined(separator: ",") + "\n"
        }
        #expect(Catalog.detect(Data(csv.utf8)) == .astropyCSV)
        let products = try Catalog.parse(Data(csv.utf8), name: "m.csv")
        #expect(products.count == rows.count)
        #expect(comparable(products) == comparable(json))
    }

    @Test("CSV: the fixture with its columns reversed gives the same products")
    func csvReversed() throws {
        let text = String(decoding: try fixtureData("astropy/jwst-program.csv"), as: UTF8.self)
        let reversed = text.split(separator: "\n").map { line in
            line.split(separator: ",", omittingEmptySubsequences: false).reversed().joined(separator: ",")
        }.joined(separator: "\n")
        let products = try Catalog.parse(Data(reversed.utf8), name: "r.csv")
        let json = try Catalog.load(paths: [fixture("jwst-program.caom.json")]).products
        #expect(comparable(products) == comparable(json))
    }

    @Test("CSV errors name the line", arguments: [
        ("obs_id,dataURI\na,mast:X/a.fits\nb\n", "t.csv:3: expected 2 fields as in the header, found 1"),
        ("obs_id,dataURI,size\na,mast:X/a.fits,12kB\n", #"t.csv:2: size: expected a size in bytes (a whole number ≥ 0), found the string "12kB""#),
        ("obs_id,dataURI\na,\n", "t.csv:2: dataURI: expected the product's URI, found an empty (masked) value"),
        ("obs_id,productFilename\na,b.fits\n", "t.csv:1: no dataURI column: expected the columns of a MAST product list (dataURI, as astroquery's Observations.get_product_list gives; or uri, as MastMissions.get_product_list gives), found obs_id, productFilename"),
        ("obs_id,dataURI\n\"a,mast:X/a.fits\n", "t.csv:2: a quoted field is never closed"),
        ("obs_id,dataURI,dataRights\na,mast:X/a.fits,SECRET\n", #"t.csv:2: dataRights: expected PUBLIC, EXCLUSIVE_ACCESS or RESTRICTED, found the string "SECRET""#),
        ("dataURI,obs_id,dataURI\nmast:X/a,a,mast:X/b\n", "t.csv:1: the column dataURI appears twice"),
    ])
    func csvErrors(text: String, message: String) {
        let got = error(text, name: "t.csv")
        #expect(got.hasPrefix(message), "got: \(got)")
    }

    // MARK: ECSV

    static let ecsvHeader = """
    # %ECSV 1.0
    # ---
    # datatype:
    # - {name: dataURI, datatype: string}
    # - {name: size, datatype: int64, description: 'bytes, as MAST says'}
    # - name: calib_level
    #   datatype: int32
    #   unit: ''
    # meta: !!omap
    # - {comments: [a, b]}
    # schema: astropy-2.0

    """

    @Test("ECSV: block and flow datatype entries, quoted fields, masked values, comma delimiter")
    func ecsvShapes() throws {
        let spaced = Self.ecsvHeader + "dataURI size calib_level\n\"mast:JWST/product/jw01 a_cal.fits\" 12 2\nmast:JWST/product/jw01_c_uncal.fits \"\" \"\"\n"
        let products = try Catalog.parse(Data(spaced.utf8), name: "s.ecsv")
        #expect(products.map(\.filename) == ["jw01 a_cal.fits", "jw01_c_uncal.fits"])
        #expect(products.map(\.size) == [12, nil])
        #expect(products.map(\.level) == ["2b", "1b"])
        #expect(products.map(\.origin) == ["s.ecsv:13", "s.ecsv:14"])
        let comma = Self.ecsvHeader.replacingOccurrences(of: "# schema", with: "# delimiter: ','\n# schema") + "dataURI,size,calib_level\nmast:JWST/product/jw01_a_cal.fits,12,\n"
        let read = try Catalog.parse(Data(comma.utf8), name: "c.ecsv")
        #expect(read.map(\.size) == [12] && read[0].level == "2b")
    }

    @Test("ECSV errors name the line", arguments: [
        (ecsvHeader + "dataURI size calib_level\nmast:X/a.fits abc 2\n", #"t.ecsv:13: size: expected an int64 value, found "abc""#),
        (ecsvHeader + "dataURI size calib_level\nmast:X/a.fits 1\n", "t.ecsv:13: expected 3 fields as in the header, found 2"),
        (ecsvHeader + "dataURI calib_level size\n", "t.ecsv:12: expected the column names the header lists (dataURI size calib_level), found dataURI calib_level size"),
        (ecsvHeader + "dataURI size calib_level\n\"mast:X/a.fits 1 2\n", "t.ecsv:13: a quoted field is never closed"),
        (ecsvHeader, "t.ecsv:12: the header is not followed by a line of column names"),
        ("# %ECSV 1.0\n# ---\n# datatype:\n# - {name: dataURI, datatype: string\n", "t.ecsv:4: a flow mapping { is never closed in the ECSV header's datatype list"),
        ("# %ECSV 1.0\n# ---\n# datatype:\n# - {name: dataURI, datatype: string}\n# - {name: size, datatype: complex128}\ndataURI size\n",
         "t.ecsv:5: ECSV column size (datatype complex128): expected one of bool"),
        ("# %ECSV 1.0\n# ---\n# datatype:\n# - {name: dataURI, datatype: string, subtype: 'int64[2]'}\ndataURI\n",
         "t.ecsv:4: ECSV column dataURI (subtype int64[2]): array and object columns are not supported for a CAOM field"),
        ("# %ECSV 2.5\n# ---\n", "t.ecsv:1: ECSV version 2.5 is not supported"),
        ("# %ECSV 1.0\n#---\n", "t.ecsv:2: expected a header line starting with \"# \""),
        ("# %ECSV 1.0\n# ---\n# delimiter: '|'\n# datatype:\n", "t.ecsv:3: delimiter \"|\": expected ' ' or ','"),
    ])
    func ecsvErrors(text: String, message: String) {
        let got = error(text, name: "t.ecsv")
        #expect(got.hasPrefix(message), "got: \(got)")
    }

    // MARK: VOTable

    static func votable(fields: String, data: String) -> String {
        """
        <?xml version="1.0" encoding="utf-8"?>
        <!-- a comment -->
        <VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
         <RESOURCE type="results">
          <TABLE>
        \(fields)
           <DATA>
        \(data)
           </DATA>
          </TABLE>
         </RESOURCE>
        </VOTABLE>

        """
    }

    static let voFields = """
       <FIELD name="dataURI" datatype="char" arraysize="*"/>
       <FIELD name="size" datatype="long"><VALUES null="-999"/></FIELD>
       <FIELD name="keep" datatype="boolean"/>
    """

    /// A BINARY2 row: the null flags, then `dataURI` (char, `*`), `size` (long), `keep` (boolean).
    static func binary2Row(_ uri: String, size: Int64?, nullURI: Bool = false) -> [UInt8] {
        var row: [UInt8] = [(nullURI ? 0x80 : 0) | (size == nil ? 0x40 : 0)]
        let text = Array(uri.utf8)
        row += withUnsafeBytes(of: UInt32(text.count).bigEndian, Array.init) + text
        row += withUnsafeBytes(of: (size ?? 0).bigEndian, Array.init)
        row.append(UInt8(ascii: "T"))
        return row
    }

    static func binary2(_ bytes: [UInt8]) -> String {
        votable(fields: voFields, data: "<BINARY2>\n<STREAM encoding=\"base64\">\n\(Data(bytes).base64EncodedString(options: .lineLength64Characters))\n</STREAM>\n</BINARY2>")
    }

    @Test("VOTable: entities, CDATA, VALUES null, a namespace prefix; BINARY2 nulls by flag and by VALUES")
    func votableShapes() throws {
        let tabledata = Self.votable(fields: Self.voFields, data: """
            <TABLEDATA>
             <TR><TD>mast:HST/product/a&amp;b_flt.fits</TD><TD>-999</TD><TD>T</TD></TR>
             <TR><TD><![CDATA[mast:HST/product/<c>_raw.fits]]></TD><TD>&#x31;2</TD><TD/></TR>
            </TABLEDATA>
            """)
        let products = try Catalog.parse(Data(tabledata.utf8), name: "t.xml")
        #expect(products.map(\.uri) == ["mast:HST/product/a&b_flt.fits", "mast:HST/product/<c>_raw.fits"])
        #expect(products.map(\.size) == [nil, 12])
        #expect(products.map(\.origin) == ["t.xml:11", "t.xml:12"])
        let prefixed = tabledata.replacingOccurrences(of: "<", with: "<vot:").replacingOccurrences(of: "<vot:/", with: "</vot:")
            .replacingOccurrences(of: "<vot:?xml", with: "<?xml").replacingOccurrences(of: "<vot:!", with: "<!")
            .replacingOccurrences(of: "xmlns=", with: "xmlns:vot=")
        #expect(try Catalog.parse(Data(prefixed.utf8), name: "v.xml").map(\.size) == [nil, 12])

        let binary = Self.binary2(Self.binary2Row("mast:HST/product/a_flt.fits", size: 40) + Self.binary2Row("mast:HST/product/b_raw.fits", size: nil)
            + Self.binary2Row("mast:HST/product/c_raw.fits", size: -999))
        let read = try Catalog.parse(Data(binary.utf8), name: "b.xml")
        #expect(read.map(\.filename) == ["a_flt.fits", "b_raw.fits", "c_raw.fits"])
        #expect(read.map(\.size) == [40, nil, nil])
        #expect(read.map(\.origin) == ["b.xml: row 1", "b.xml: row 2", "b.xml: row 3"])
    }

    @Test("VOTable errors name the line, and for BINARY2 the byte of the stream")
    func votableErrors() throws {
        let row = Self.binary2Row("mast:HST/product/a_flt.fits", size: 40) // 1 + 4 + 27 + 8 + 1 = 41 bytes
        let cases: [(String, String)] = [
            (Self.votable(fields: Self.voFields, data: "<TABLEDATA>\n<TR><TD>mast:X/a.fits</TD><TD>1</TD></TR>\n</TABLEDATA>"),
             "t.xml:11: expected 3 TD cells as there are FIELDs, found 2"),
            (Self.votable(fields: Self.voFields, data: "<TABLEDATA>\n<TR><TD>mast:X/a.fits</TD><TD>1 kB</TD><TD/></TR>\n</TABLEDATA>"),
             #"t.xml:11: size: expected a long (a whole number), found "1 kB""#),
            (Self.votable(fields: Self.voFields, data: "<TABLEDATA>\n<TR><TD>mast:X/a.fits</TD><TD>1</TD><TD>&nbsp;</TD></TR>\n</TABLEDATA>"),
             "t.xml:11: malformed XML: unknown reference &nbsp;"),
            (Self.votable(fields: Self.voFields, data: "<TABLEDATA>\n<TR><TD>mast:X/a.fits</TD><TD>1</TD><TD/>\n</TABLEDATA>"),
             "t.xml:12: malformed XML: </TABLEDATA> closes no open <TABLEDATA>"),
            (Self.votable(fields: Self.voFields, data: "<BINARY>\n<STREAM encoding=\"base64\">AAAA</STREAM>\n</BINARY>"),
             "t.xml:10: VOTable BINARY serialization is not supported: expected TABLEDATA or BINARY2"),
            (Self.votable(fields: Self.voFields, data: "<FITS><STREAM href=\"x.fits\"/></FITS>"),
             "t.xml:10: VOTable FITS serialization is not supported"),
            (Self.votable(fields: Self.voFields, data: "<BINARY2>\n<STREAM encoding=\"gzip\">AAAA</STREAM>\n</BINARY2>"),
             #"t.xml:11: a BINARY2 STREAM with encoding "gzip" is not supported"#),
            (Self.binary2(row).replacingOccurrences(of: "AAAA", with: "AA!A"),
             "t.xml:12: BINARY2 stream: the byte 0x21 is not base64"),
            (Self.binary2(row).replacingOccurrences(of: "</STREAM>", with: "A</STREAM>"),
             "t.xml:13: BINARY2 stream: base64 text after = padding (after 39 decoded bytes)"),
            (Self.binary2(row + [0]).replacingOccurrences(of: "</STREAM>", with: "A</STREAM>"),
             "t.xml:13: BINARY2 stream: the base64 text ends inside a group of four characters (after 42 decoded bytes)"),
            // Two rows, the second cut inside its size: its 8 bytes start at 41 + 1 + 4 + 27 = 73.
            (Self.binary2(row + Array(row.prefix(35))), "t.xml:11: BINARY2 stream byte 73: the stream ends inside row 2, FIELD size (8 bytes expected, 3 left)"),
            (Self.binary2(row + [0x00, 0x7F, 0xFF, 0xFF, 0xFF]), "t.xml:11: BINARY2 stream byte 42: the stream ends inside row 2, FIELD dataURI (2147483647 bytes expected, 0 left)"),
            (Self.votable(fields: #"<FIELD name="dataURI" datatype="char" arraysize="*"/><FIELD name="size" datatype="long" arraysize="2"/>"#, data: "<TABLEDATA/>"),
             "t.xml:6: VOTable FIELD size (datatype long, arraysize 2): arrays are not supported for a CAOM field"),
            (Self.votable(fields: #"<FIELD name="dataURI" datatype="string"/>"#, data: "<TABLEDATA/>"),
             "t.xml:6: FIELD dataURI (datatype string): expected a VOTable datatype"),
            (Self.votable(fields: #"<FIELD name="obs_id" datatype="char" arraysize="*"/>"#, data: "<TABLEDATA/>"),
             "t.xml:5: no dataURI column"),
            ("<?xml version=\"1.0\"?>\n<RESOURCE/>\n", "t.xml:2: the root element is <RESOURCE>: expected a VOTABLE element"),
            ("<?xml version=\"1.0\"?>\n<!DOCTYPE VOTABLE [<!ENTITY a \"b\">]>\n<VOTABLE/>", "t.xml:2: a DOCTYPE or other <! declaration is not supported"),
            ("<VOTABLE>\n<RESOURCE>\n<TABLE>\n<FIELD name=\"dataURI\" datatype=\"char\" arraysize=\"*\"/>\n<DATA>\n<TABLEDATA>\n<TR><TD>mast:X/a",
             "t.xml:7: malformed XML: the document ends before </TD>"),
            ("<VOTABLE>\n<RESOURCE name=\"a>\n</VOTABLE>", "t.xml:3: malformed XML: < in the value of the attribute name"),
            ("<!DOCTYPE html>\n<html><body>Sign in</body></html>\n", "t.xml: an HTML page, not a catalog"),
        ]
        for (text, message) in cases {
            let got = error(text, name: "t.xml")
            #expect(got.hasPrefix(message), "got: \(got)")
        }
        // Cut after its rows, a document is still a cut document.
        let tabledata = try fixtureData("astropy/jwst-program.xml")
        let rowsEnd = try #require(tabledata.range(of: Data("</TABLEDATA>\n".utf8))).upperBound
        let lines = tabledata.prefix(rowsEnd).filter { $0 == 0x0A }.count
        #expect(error(tabledata.prefix(rowsEnd), name: "t.xml") == "t.xml:\(lines + 1): malformed XML: the document ends before </DATA>")
        // The fixture cut anywhere: an error, never a crash nor a partial list.
        let whole = try fixtureData("astropy/jwst-program-binary2.xml")
        for cut in stride(from: 100, to: whole.count, by: 997) {
            #expect(error(whole.prefix(cut), name: "t.xml").hasPrefix("t.xml:"))
        }
    }

    // MARK: FITS

    /// A FITS file: an empty primary HDU, then a BINTABLE of `columns` (name, TFORM, extra cards) and
    /// `rows` of raw bytes, every header and data padded to 2,880-byte blocks.
    static func fits(_ columns: [(String, String, [String])], rows: [[UInt8]], rowBytes: Int? = nil, rowCount: Int? = nil, before: [UInt8] = []) -> Data {
        func card(_ text: String) -> [UInt8] { Array(text.padding(toLength: 80, withPad: " ", startingAt: 0).utf8) }
        func value(_ key: String, _ v: String) -> [UInt8] {
            card(key.padding(toLength: 8, withPad: " ", startingAt: 0) + "= " + String(repeating: " ", count: max(0, 20 - v.count)) + v)
        }
        func text(_ key: String, _ v: String) -> [UInt8] {
            card(key.padding(toLength: 8, withPad: " ", startingAt: 0) + "= '" + v.padding(toLength: max(8, v.count), withPad: " ", startingAt: 0) + "'")
        }
        func pad(_ bytes: [UInt8], with fill: UInt8) -> [UInt8] { bytes + [UInt8](repeating: fill, count: (2880 - bytes.count % 2880) % 2880) }
        var out = pad(value("SIMPLE", "T") + value("BITPIX", "8") + value("NAXIS", "0") + value("EXTEND", "T") + card("END"), with: 0x20)
        out += before
        var header = text("XTENSION", "BINTABLE") + value("BITPIX", "8") + value("NAXIS", "2")
        header += value("NAXIS1", "\(rowBytes ?? rows.first?.count ?? 0)") + value("NAXIS2", "\(rowCount ?? rows.count)")
        header += value("PCOUNT", "0") + value("GCOUNT", "1") + value("TFIELDS", "\(columns.count)")
        for (n, (name, form, extra)) in columns.enumerated() {
            header += text("TTYPE\(n + 1)", name) + text("TFORM\(n + 1)", form)
            for line in extra { header += card(line) }
        }
        out += pad(header + card("END"), with: 0x20)
        out += pad(rows.flatMap { $0 }, with: 0)
        return Data(out)
    }

    static func field(_ text: String, _ width: Int) -> [UInt8] {
        Array(text.utf8.prefix(width)) + [UInt8](repeating: 0x20, count: max(0, width - text.utf8.count))
    }

    static func big<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }

    @Test("FITS: integer widths, TNULL, TZERO, a NaN float, an L column, an IMAGE extension before the table")
    func fitsShapes() throws {
        let columns: [(String, String, [String])] = [
            ("dataURI", "30A", []), ("size", "J", ["TNULL2  =                   -1"]), ("calib_level", "I", ["TZERO3  =                32768"]),
            ("keep", "L", []), ("obs_id", "10A", []), ("size_mb", "E", []),
        ]
        func row(_ uri: String, _ size: Int32, _ level: UInt16, _ keep: UInt8, _ obs: String) -> [UInt8] {
            Self.field(uri, 30) + Self.big(size) + Self.big(Int16(bitPattern: level &- 32768)) + [keep] + Self.field(obs, 10) + Self.big(Float.nan.bitPattern)
        }
        // An IMAGE extension of 3 × 1000 bytes (two blocks) before the table, skipped by its stated size.
        var image = Array("XTENSION= 'IMAGE   '".padding(toLength: 80, withPad: " ", startingAt: 0).utf8)
        for line in ["BITPIX  =                    8", "NAXIS   =                    2", "NAXIS1  =                 1000", "NAXIS2  =                    3", "END"] {
            image += Array(line.padding(toLength: 80, withPad: " ", startingAt: 0).utf8)
        }
        image += [UInt8](repeating: 0x20, count: 2880 - image.count) + [UInt8](repeating: 7, count: 5760)
        let data = Self.fits(columns, rows: [
            row("mast:HST/product/a_flt.fits", 40, 2, UInt8(ascii: "T"), "a"),
            row("mast:HST/product/b_raw.fits", -1, 1, 0, ""),
        ], before: image)
        let products = try Catalog.parse(data, name: "t.fits")
        #expect(products.map(\.filename) == ["a_flt.fits", "b_raw.fits"])
        #expect(products.map(\.size) == [40, nil])
        #expect(products.map(\.level) == ["2", "1"])
        #expect(products.map(\.dataset) == ["a", ""])
        #expect(products.map(\.origin) == ["t.fits: row 1", "t.fits: row 2"])
    }

    @Test("FITS errors name the byte")
    func fitsErrors() throws {
        let uri = Self.field("mast:HST/product/a_flt.fits", 30)
        let whole = try fixtureData("astropy/jwst-program.fits")
        let cases: [(Data, String)] = [
            (whole.prefix(10_000), "t.fits: byte 8640: the file ends inside the table: 32 rows of 362 bytes stated, 1360 bytes left"),
            (whole.prefix(300), "t.fits: byte 240: the file ends inside a header (no END card)"),
            (whole.prefix(4000), "t.fits: byte 4000: the file ends inside a header (no END card)"),
            (whole.prefix(2880), "t.fits: no BINTABLE extension"),
            (Self.fits([("dataURI", "30A", []), ("size", "1PB(10)", [])], rows: [uri + [UInt8](repeating: 0, count: 8)]),
             "t.fits: byte 3760: FITS column 2 size (TFORM 1PB(10)): variable-length arrays are not supported"),
            (Self.fits([("dataURI", "30A", []), ("size", "8Z", [])], rows: [uri + [UInt8](repeating: 0, count: 8)]),
             "t.fits: byte 3760: FITS column 2 (TFORM 8Z): unknown type code Z"),
            (Self.fits([("dataURI", "30A", []), ("size", "2K", [])], rows: [uri + [UInt8](repeating: 0, count: 16)]),
             "t.fits: byte 3760: FITS column 2 size (TFORM 2K): arrays are not supported for a CAOM field"),
            (Self.fits([("dataURI", "30A", []), ("size", "K", [])], rows: [uri + [UInt8](repeating: 0, count: 8)], rowBytes: 40),
             "t.fits: byte 3120: NAXIS1 = 40, but the columns' TFORMs add up to 38 bytes a row"),
            (Self.fits([("dataURI", "30A", []), ("obs_collection", "L", [])], rows: [uri + [UInt8(ascii: "Y")]]),
             "t.fits: byte 5790: row 1, FITS column 2 obs_collection (TFORM L): expected T, F or 0 for a logical value, found the byte 89"),
            (Self.fits([("dataURI", "30A", [])], rows: [uri], rowCount: 1 << 40),
             "t.fits: byte 5760: the file ends inside the table: 1099511627776 rows of 30 bytes stated"),
            (Self.fits([("dataURI", "0A", [])], rows: [], rowBytes: 0, rowCount: 1 << 40),
             "t.fits: byte 3120: NAXIS1 = 0 with NAXIS2 = 1099511627776"),
            (Self.fits([("obs_id", "30A", [])], rows: [uri]), "t.fits: byte 2880: no dataURI column"),
            (Self.fits([("dataURI", "30A", [])], rows: [uri]).replacingBytes(of: "TFORM1  = '30A     '", with: "TFORM1  = 30        "),
             "t.fits: byte 3600: FITS column 1 has no TFORM1 card with a quoted format"),
            (Self.fits([("dataURI", "30A", []), ("size", "K", ["TNULL2  = 'x'"])], rows: [uri + [UInt8](repeating: 0, count: 8)]),
             "t.fits: byte 3840: TNULL2 = x: expected a whole number"),
        ]
        for (data, message) in cases {
            let got = error(data, name: "t.fits")
            #expect(got.hasPrefix(message), "got: \(got)")
        }
        // The fixture cut anywhere: an error, never a crash nor a partial list.
        // (Up to the end of the rows: the padding of the last block is not needed to read them.)
        for cut in stride(from: 9, to: 8640 + 32 * 362, by: 499) {
            #expect(error(whole.prefix(cut), name: "t.fits").hasPrefix("t.fits"))
        }
    }

    @Test("Any damage to a table gives products or an input error, never a crash")
    func mutations() throws {
        let originals = try astropyFixtures.map { [UInt8](try fixtureData($0.file)) }
        let interesting: [UInt8] = Array("<>/=\"'&;#,: \n0123456789ABCDEFTFK-+*x".utf8) + [0x00, 0xFF, 0x7F, 0x80]
        expectDamageReadsOrIsRefused(originals, seed: 0x5441_424C, interesting: interesting, rounds: 1_000, whenEmpty: 0x3C)
    }
}

extension Data {
    /// The data with the first occurrence of one ASCII text replaced by another of the same length.
    func replacingBytes(of text: String, with replacement: String) -> Data {
        precondition(text.utf8.count == replacement.utf8.count)
        guard let range = range(of: Data(text.utf8)) else { return self }
        var copy = self
        copy.replaceSubrange(range, with: Data(replacement.utf8))
        return copy
    }
}
