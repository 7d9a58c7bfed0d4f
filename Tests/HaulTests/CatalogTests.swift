import Foundation
import Haul
import HaulArchive
import Testing

@Suite("Catalogs")
struct CatalogTests {
    func parse(_ text: String, name: String = "list") throws -> [Product] {
        try Catalog.parse(Data(text.utf8), name: name)
    }

    func error(_ text: String, name: String = "list") -> HaulError? {
        do {
            _ = try parse(text, name: name)
            return nil
        } catch let e as HaulError {
            return e
        } catch {
            return nil
        }
    }

    @Test("CAOM product list as Mast.Caom.Products returns it, nulls and odd types included")
    func caom() throws {
        let json = """
        {"status": "COMPLETE", "msg": "", "fields": [{"name": "obsID", "type": "string"}],
         "data": [
          {"obsID": "87600001", "obs_collection": "JWST", "obs_id": "jw02736001001_02101_00001_nrca1",
           "dataURI": "mast:JWST/product/jw02736001001_02101_00001_nrca1_cal.fits",
           "productFilename": "jw02736001001_02101_00001_nrca1_cal.fits", "productType": "SCIENCE",
           "productGroupDescription": "Minimum Recommended Products", "productSubGroupDescription": "CAL",
           "calib_level": 2, "size": 117538560, "dataRights": "PUBLIC", "instrument_name": "NIRCAM/IMAGE ",
           "filters": "CLEAR;F090W"},
          {"obsID": 87600001, "obs_collection": "JWST", "obs_id": null,
           "dataURI": "mast:JWST/product/jw02736001001_gs-fg_2022157141256_cal.fits",
           "productFilename": null, "productGroupDescription": null, "productSubGroupDescription": "GS-FG",
           "calib_level": "2", "size": "30528", "dataRights": "EXCLUSIVE_ACCESS"},
          {"dataURI": "mast:HST/product/ib2u01a1q_flt.fits", "obs_collection": "HST", "obs_id": "ib2u01010",
           "productSubGroupDescription": "_flt", "calib_level": 2, "size": null}
         ]}
        """
        let products = try parse(json, name: "caom.json")
        #expect(products.count == 3)
        let cal = products[0]
        #expect(cal.uri == "mast:JWST/product/jw02736001001_02101_00001_nrca1_cal.fits")
        #expect(cal.filename == "jw02736001001_02101_00001_nrca1_cal.fits")
        #expect(cal.dataset == "jw02736001001_02101_00001_nrca1")
        #expect(cal.mission == "JWST")
        #expect(cal.level == "2b")
        #expect(cal.suffix == "CAL")
        #expect(cal.recommended)
        #expect(!cal.guideStar)
        #expect(cal.access == .public)
        #expect(cal.size == 117_538_560)
        #expect(cal.instrument == "NIRCAM/IMAGE")
        #expect(cal.origin == "caom.json: data[0]")
        let gs = products[1]
        #expect(gs.filename == "jw02736001001_gs-fg_2022157141256_cal.fits")
        #expect(gs.dataset == "87600001")
        #expect(gs.guideStar)
        #expect(!gs.recommended)
        #expect(gs.access == .exclusive)
        #expect(gs.size == 30528)
        let flt = products[2]
        #expect(flt.suffix == "FLT")
        #expect(flt.level == "2")
        #expect(flt.size == nil)
        #expect(flt.access == .public)
    }

    @Test("A bare JSON array of CAOM rows")
    func caomArray() throws {
        let products = try parse(#"[{"dataURI": "mast:HST/product/ib2u01010_drz.fits", "obs_id": "ib2u01010"}]"#)
        #expect(products.map(\.filename) == ["ib2u01010_drz.fits"])
        #expect(products[0].dataset == "ib2u01010")
    }

    @Test("Missions-search product list")
    func missions() throws {
        let json = """
        {"products": [
          {"uri": "Z14Z0104T/z14z0104t_shf.fits", "filename": "z14z0104t_shf.fits", "dataset": "Z14Z0104T",
           "file_suffix": "shf", "category": "UNCALIBRATED", "access": "PUBLIC", "instrument_name": "FOS       ",
           "filters": "G190H", "size": 8640, "type": "science"},
          {"uri": "Z14Z0104T/z14z0104t_c1f.fits", "filename": "z14z0104t_c1f.fits", "dataset": "Z14Z0104T",
           "file_suffix": "c1f", "category": "CALIBRATED", "access": "PUBLIC", "size": 25920}
        ]}
        """
        let products = try parse(json)
        #expect(products.count == 2)
        #expect(products[0].uri == "Z14Z0104T/z14z0104t_shf.fits")
        #expect(products[0].instrument == "FOS")
        #expect(products[0].suffix == "SHF")
        #expect(products[0].level == "uncalibrated")
        #expect(!products[0].recommended)
        #expect(products[1].recommended)
        #expect(products[1].size == 25920)
    }

    @Test("The overlay's CSV export, with quoted fields, and Haul's with URI, Size, Access")
    func csv() throws {
        let overlay = "Dataset,Filename,Product Level,Suffix,Instrument,Filter / Grating\r\n" +
            "jw02736-o001_t001_nircam_clear-f090w,jw02736-o001_t001_nircam_clear-f090w_i2d.fits,3,I2D,NIRCAM/IMAGE,\"CLEAR;F090W\"\r\n" +
            "ib2u01010,ib2u01010_drz.fits,3,DRZ,\"WFC3/IR, spare\",F160W\r\n"
        let products = try parse(overlay, name: "overlay.csv")
        #expect(products.count == 2)
        #expect(products[0].uri == "mast:JWST/product/jw02736-o001_t001_nircam_clear-f090w_i2d.fits")
        #expect(products[1].uri == "mast:HST/product/ib2u01010_drz.fits")
        #expect(products[1].instrument == "WFC3/IR, spare")
        #expect(products[0].origin == "overlay.csv:2")

        let export = "Dataset,Filename,Product Level,Suffix,Instrument,Filter / Grating,URI,Size,Access\n" +
            "d1,a.fits,2b,CAL,NIRCAM,F090W,mast:JWST/product/a.fits,1234,EXCLUSIVE_ACCESS\n" +
            "d1,b.fits,2b,CAL,NIRCAM,F090W,,,PUBLIC\n"
        let exported = try parse(export)
        #expect(exported.map(\.size) == [1234, nil])
        #expect(exported.map(\.access) == [.exclusive, .public])
        #expect(exported[1].uri == "mast:HST/product/b.fits")
    }

    @Test("Plain lists of URIs and URLs, with comments and blank lines")
    func urlList() throws {
        let text = """
        # a program's calibrated files

        mast:JWST/product/jw02736001001_02101_00001_nrca1_cal.fits
        https://mast.stsci.edu/api/v0.1/Download/file?uri=mast:HST/product/ib2u01a1q_flt.fits
          http://example.org/data/x.fits  \r
        """
        let products = try parse(text)
        #expect(products.map(\.filename) == ["jw02736001001_02101_00001_nrca1_cal.fits", "ib2u01a1q_flt.fits", "x.fits"])
        #expect(products[0].dataset == "JWST/product")
        #expect(products[1].dataset == "HST/product")
        #expect(products[2].dataset == "example.org/data")
        #expect(products[2].uri == "http://example.org/data/x.fits")
    }

    @Test("Malformed input names the file, the line or JSON path, and what was expected", arguments: [
        ("{\"data\": [\n  {\"dataURI\": \"mast:X/a\"},\n  {\"dataURI\": }\n]}", "list:3:"),
        (#"{"data": [{"dataURI": "mast:X/a"}, {"dataURI": "mast:X/b", "size": "big"}]}"#, #"list: data[1].size: expected a size in bytes (a whole number ≥ 0), found the string "big""#),
        (#"{"data": [{"dataURI": "mast:X/a"}, {"productFilename": "b.fits"}]}"#, "list: data[1].dataURI: expected the product's URI, found no such field"),
        (#"{"data": [{"dataURI": 42}]}"#, "list: data[0].dataURI: expected a string, found the number 42"),
        (#"{"data": [{"dataURI": "mast:X/a", "size": -5}]}"#, "list: data[0].size: expected a size in bytes (a whole number ≥ 0), found the number -5"),
        (#"{"data": [{"dataURI": "mast:X/a", "dataRights": "SECRET"}]}"#, "list: data[0].dataRights: expected PUBLIC, EXCLUSIVE_ACCESS or RESTRICTED"),
        (#"{"data": {"dataURI": "mast:X/a"}}"#, "list: data: expected an array of product rows, found an object"),
        (#"{"status": "ERROR", "msg": "Query timed out", "data": []}"#, "list: the service that wrote this product list reported an error: Query timed out"),
        (#"{"products": [{"uri": "A/a.fits"}, 7]}"#, "list: products[1]: expected a product row (a JSON object), found the number 7"),
        (#"{"fields": []}"#, #"list: expected a "data" array"#),
        ("Dataset,Filename,Product Level,Suffix,Instrument,Filter / Grating\nd,a.fits,3,I2D,NIRCAM,F090W\nd,b.fits,3\n", "list:3: expected 6 fields as in the header, found 3"),
        ("Dataset,Filename,Product Level\nd,a.fits,3\n", "list:1: expected the header Dataset,Filename,Product Level,Suffix,Instrument,Filter / Grating"),
        ("Dataset,Filename,Product Level,Suffix,Instrument,Filter / Grating\nd,\"a.fits,3,I2D,NIRCAM,F090W\n", "list:2:"),
        ("Dataset,Filename,Product Level,Suffix,Instrument,Filter / Grating,URI,Size,Access\nd,a.fits,3,I2D,N,F,mast:X/a,12kB,PUBLIC\n", #"list:2: Size: expected a size in bytes (a whole number ≥ 0), found "12kB""#),
        ("mast:JWST/product/a.fits\nftp://example.org/b.fits\n", #"list:2: expected a mast: URI, an http(s):// URL or an s3://BUCKET/KEY, found "ftp://example.org/b.fits""#),
        ("s3://stpubdata/hst/public/\n", #"list:1: expected s3://BUCKET/KEY ending in a file name, found "s3://stpubdata/hst/public/""#),
        ("mast:nofile\n", "list:1: expected a URI of the form mast:MISSION/…/FILE"),
        ("", "list: empty catalog"),
        ("  \n\n", "list: empty catalog"),
    ])
    func malformed(text: String, message: String) {
        let e = error(text)
        #expect(e?.code == .invalidCatalog)
        #expect(e?.message.hasPrefix(message) == true, "got: \(e?.message ?? "no error")")
    }

    @Test("The JSON reader: RFC 8259 exactly, with line:column for every break", arguments: [
        ("[\n  {\"dataURI\": \"mast:X/a\"},\n  {\"dataURI\": 01}\n]", "list:3:15: malformed JSON: a number may not start with 0"),
        ("{\"data\": [{\"dataURI\": \"mast:X/a\"}]} x", "list:1:37: malformed JSON: unexpected text after the JSON value"),
        ("{\"data\": [{\"dataURI\": \"mast:\tX\"}]}", "list:1:29: malformed JSON: a control character inside a string (escape it)"),
        ("{\"data\": [{\"dataURI\": \"mast:X/a\\q\"}]}", "list:1:32: malformed JSON: an unknown escape \\q"),
        ("{\"data\": [{\"dataURI\": \"mast:X/a\"},]}", "list:1:35: malformed JSON: expected a value"),
        ("{\"data\": [{\"dataURI\": \"mast:X/a\" \"size\": 1}]}", "list:1:34: malformed JSON: expected , or } in an object"),
        ("{\"data\": [{\"dataURI\": \"mast:X/a}]}", "list:1:23: malformed JSON: a string is never closed"),
        ("{\"data\": [{\"dataURI\": tru}]}", "list:1:23: malformed JSON: expected a value"),
        ("{\"data\": [{\"dataURI\": \"a\", \"size\": 1e999}]}", "list:1:36: malformed JSON: a number out of range"),
        (String(repeating: "[", count: 100_000), "list:1:513: malformed JSON: nested more than 512 deep"),
    ])
    func jsonSyntax(text: String, message: String) {
        let e = error(text)
        #expect(e?.code == .invalidCatalog)
        #expect(e?.message.hasPrefix(message) == true, "got: \(e?.message ?? "no error")")
    }

    @Test("JSON strings: escapes, surrogate pairs, a lone surrogate, a member name repeated across rows")
    func jsonStrings() throws {
        let text = #"{"data": [{"dataURI": "mast:X/\u00e9\ud83d\ude00\ud800x\/\"q\"", "obs_id": "a"}, {"obs_id": "b", "dataURI": "mast:X/b"}, {"d\u0061taURI": "mast:X/c", "obs_id": "c"}]}"#
        let products = try Catalog.parse(Data(text.utf8), name: "s.json")
        #expect(products.map(\.uri) == ["mast:X/é😀\u{FFFD}x/\"q\"", "mast:X/b", "mast:X/c"])
        #expect(products.map(\.dataset) == ["a", "b", "c"])
        var invalid = Data(#"{"data": [{"dataURI": "mast:X/"#.utf8)
        invalid.append(contentsOf: [0xC3, 0x28])
        invalid.append(contentsOf: Array(#""}]}"#.utf8))
        #expect(throws: HaulError.self) { try Catalog.parse(invalid, name: "u.json") }
    }

    @Test("Member names that share a known name's first bytes, or all but its last, are other members; a name is known at a row's end too")
    func memberNamesNearKnownOnes() throws {
        // Each row names its members in another order, with near misses of the known names (the same
        // first 8 bytes, the same length, one byte longer or shorter), so that each is looked up by its
        // position, by its key and by its bytes. The last row's last name ends within 8 bytes of the end.
        let rows = [
            #"{"productFilenamX": "no.fits", "dataURI": "mast:X/a", "productFilename": "a.fits", "obs_id": "a", "size": 1}"#,
            #"{"obs_id": "b", "productFilename": "b.fits", "productFilenameX": "no", "dataURI": "mast:X/b", "productFilenam": "no", "size": 2}"#,
            #"{"dataURIx": "mast:X/no", "dataURI": "mast:X/c", "obs_idd": "no", "obs_id": "c", "productFilename": "c.fits", "sizf": 9}"#,
            #"{"size": 4, "dataURI": "mast:X/d", "productFilename": "d.fits", "obs_i": "no", "obs_id": "d"}"#,
        ]
        let products = try Catalog.parse(Data(("[" + rows.joined(separator: ",") + "]").utf8), name: "n.json")
        #expect(products.map(\.uri) == ["mast:X/a", "mast:X/b", "mast:X/c", "mast:X/d"])
        #expect(products.map(\.filename) == ["a.fits", "b.fits", "c.fits", "d.fits"])
        #expect(products.map(\.dataset) == ["a", "b", "c", "d"])
        #expect(products.map(\.size) == [1, 2, nil, 4])
        let end = try Catalog.parse(Data(#"[{"dataURI": "mast:X/e", "obs_id": "e"}, {"obs_id": "f", "dataURI": "mast:X/f"}]"#.utf8), name: "e.json")
        #expect(end.map(\.dataset) == ["e", "f"])
    }

    @Test("Any damage to a catalog gives products or an input error, never a crash")
    func mutations() throws {
        let originals = try ["jwst-program.caom.json", "overlay-export.csv", "hst.missions.json"].map {
            [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture($0))))
        }
        let interesting: [UInt8] = Array("{}[]\",:\\0123456789-eE.nulltruefalse \n".utf8) + [0x00, 0xFF, 0xC3, 0x80]
        expectDamageReadsOrIsRefused(originals, seed: 0x4841_554C, interesting: interesting, rounds: 1_500, whenEmpty: 0x5B)
    }

    @Test("Bytes that are not UTF-8 are reported at their line")
    func notUTF8() {
        var data = Data("mast:JWST/product/a.fits\nmast:JWST/product/".utf8)
        data.append(contentsOf: [0xFF, 0xFE])
        data.append(contentsOf: Array(".fits\n".utf8))
        #expect(throws: HaulError.self) { try Catalog.parse(data, name: "u.txt") }
        do { _ = try Catalog.parse(data, name: "u.txt") } catch let e as HaulError {
            #expect(e.message == "u.txt:2: not valid UTF-8 text")
        } catch {}
    }

    @Test("Several catalogs and standard input merge in order; a missing file is an input error")
    func merge() throws {
        let folder = TemporaryFolder()
        let a = folder.path + "/a.txt"
        try "mast:JWST/product/a.fits\n".write(toFile: a, atomically: true, encoding: .utf8)
        let catalog = try Catalog.load(paths: [a, "-"]) { Data(#"[{"dataURI": "mast:HST/product/b.fits"}]"#.utf8) }
        #expect(catalog.products.map(\.uri) == ["mast:JWST/product/a.fits", "mast:HST/product/b.fits"])
        #expect(catalog.products[1].origin == "<stdin>: [0]")

        #expect(throws: HaulError.self) { try Catalog.load(paths: [folder.path + "/missing.json"]) }
        do { _ = try Catalog.load(paths: [folder.path + "/missing.json"]) } catch let e as HaulError {
            #expect(e.code == .invalidCatalog)
            #expect(e.message.contains("missing.json: cannot read"))
        } catch {}
        #expect(throws: HaulError.self) { try Catalog.load(paths: ["-", "-"]) { Data() } }
    }

    @Test("The bundled sample catalog parses as MAST CAOM JSON")
    func sample() throws {
        let sample = SampleCatalog()
        let products = try Catalog.parse(sample.caomJSON(), name: "sample.json")
        #expect(products.count == sample.rows.count)
        #expect(products.contains { $0.guideStar })
        #expect(products.contains { $0.access == .exclusive })
        #expect(Set(products.map(\.uri)).count < products.count)
    }
}

/// Damages each of `originals` at random (a fixed SplitMix64 sequence from `seed`, so a failure repeats:
/// bytes replaced by `interesting` ones, removed, inserted, or the tail cut) `rounds` times in all, and
/// checks that every damaged catalog reads, or is refused as an input error naming it; never a crash.
func expectDamageReadsOrIsRefused(
    _ originals: [[UInt8]], seed start: UInt64, interesting: [UInt8], rounds: Int, whenEmpty: UInt8
) {
    var seed = start
    func next(_ n: Int) -> Int {
        seed &+= 0x9E37_79B9_7F4A_7C15
        var z = seed
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(max(1, n)))
    }
    var parsed = 0, refused = 0
    for round in 0..<rounds {
        var bytes = originals[round % originals.count]
        for _ in 0..<(1 + next(4)) {
            switch next(4) {
            case 0: bytes[next(bytes.count)] = interesting[next(interesting.count)]
            case 1: bytes.remove(at: next(bytes.count))
            case 2: bytes.insert(interesting[next(interesting.count)], at: next(bytes.count))
            default: bytes.removeLast(next(bytes.count / 2))
            }
            if bytes.isEmpty { bytes = [whenEmpty] }
        }
        do {
            _ = try Catalog.parse(Data(bytes), name: "m")
            parsed += 1
        } catch let e as HaulError {
            #expect(e.code == .invalidCatalog)
            #expect(e.message.hasPrefix("m"))
            refused += 1
        } catch {
            Issue.record("not a HaulError: \(error)")
        }
    }
    #expect(parsed + refused == rounds)
    #expect(parsed > 0 && refused > 0)
}
