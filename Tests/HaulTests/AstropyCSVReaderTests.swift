import Foundation
@testable import Haul
import Testing

/// The astropy CSV table read from its bytes (``AstropyCSVReader``) splits records and reports errors
/// exactly as ``CSVReader`` does on the same text: CSVReader, a separate implementation over Unicode
/// scalars, is the oracle.
@Suite("Astropy CSV read from its bytes")
struct AstropyCSVReaderTests {
    static let texts = [
        "a,b,c\n1,2,3\n",
        "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n",
        "a,b\n\"two\nlines\",z\n\"\",\n",
        "a,b\nx\ry,\"in\rquotes\"\nlast,no newline",
        "a,b\nCéline,東京\n\"é\"\"\",\"\\u00e9 \\\"\" \\\\ \\/\"\n",
        "a\n\n\n,\n",
        "a,b\n\"\"\"\",\"\"\n",
        "",
        "\n",
        "a,b\n\"x\"",
    ]
    static let broken = [
        "a,b\nx\"y,z\n",
        "a,b\n\"x\"y,z\n",
        "a,b\n\"x\n\ny,z\n",
        "a,b\n1,2\n\"\"\",3\n",
        "a,b\nx,\"",
        "a,b\nCéline,東京\n\"é\"\"\",\\u00e9 \\\" \\\\ \\/\n",
    ]

    static func records(_ text: String) throws -> [(Int, [String])] {
        var text = text
        return try text.withUTF8 { bytes in
            var reader = AstropyCSVReader(bytes: bytes, name: "t.csv")
            var out: [(Int, [String])] = []
            while let line = try reader.next() {
                out.append((line, reader.fields.indices.map { reader.text($0) }))
            }
            return out
        }
    }

    @Test("Records and their lines are CSVReader's", arguments: texts)
    func records(text: String) throws {
        let expected = try CSVReader.records(text, name: "t.csv")
        let found = try Self.records(text)
        #expect(found.map(\.0) == expected.map(\.line))
        #expect(found.map(\.1) == expected.map(\.fields))
    }

    @Test("Errors are CSVReader's, with the same line", arguments: broken)
    func errors(text: String) {
        var expected = ""
        do { _ = try CSVReader.records(text, name: "t.csv") } catch let error as HaulError { expected = error.message } catch {}
        #expect(!expected.isEmpty)
        do {
            _ = try Self.records(text)
            Issue.record("no error")
        } catch let error as HaulError {
            #expect(error.message == expected)
        } catch {
            Issue.record("\(error)")
        }
    }

    /// Tables that a split in two halves could misread: quoted fields across lines and with doubled
    /// quotes, CRLF and LF, blank rows, text beyond ASCII; and each with a syntax error or a refused row
    /// (or both) early, in the middle or late.
    static func halvesTables() -> [String] {
        let header = "# a comment\n\ndataURI,productFilename,obs_id,size,description\n"
        func row(_ i: Int) -> String {
            let description = ["plain", "\"two\nlines, \"\"quoted\"\"\"", "\"\"\"\"", "\"Céline\r\n東京\"", "", "\"a\n\n\nb\""][i % 6]
            return "mast:HST/product/f\(i)_flt.fits,\"f\(i)\"\"_flt.fits\",obs\(i / 7),\(i * 100),\(description)" + (i % 4 == 0 ? "\r\n" : "\n") + (i % 13 == 0 ? "\n" : "")
        }
        let rows = (0..<400).map(row)
        var tables = [header + rows.joined()]
        let syntax = "mast:X/b.fits,b\"x,o,1,d\n"
        let refused = "mast:X/a.fits,a.fits,o,12kB,d\n"
        let short = "mast:X/c.fits,c.fits\n"
        for at in [3, 150, 199, 200, 201, 260, 398] {
            for bad in [syntax, refused, short, refused + syntax, syntax + refused, "\"never closed,\n"] {
                var broken = rows
                broken.insert(bad, at: at)
                tables.append(header + broken.joined())
            }
            var two = rows
            two.insert(refused, at: 20)
            two.insert(syntax, at: at)
            tables.append(header + two.joined())
        }
        return tables
    }

    @Test("A table read in two halves on two threads: the products and messages of one reader")
    func halves() throws {
        for (k, table) in Self.halvesTables().enumerated() {
            let data = Data(table.utf8)
            // The second half's products in runs of 7 (moved into the first's list), so that several fill.
            func read(minimum: Int) -> Result<[Product], HaulError> {
                RowsAhead.$minimumBytes.withValue(minimum) {
                    RowsAhead.$runCapacity.withValue(7) {
                        do { return .success(try Catalog.parse(data, name: "t.csv")) } catch let error as HaulError { return .failure(error) } catch {
                            return .failure(HaulError(.invalidArgument, "not a HaulError: \(error)"))
                        }
                    }
                }
            }
            let one = read(minimum: Int.max)
            for minimum in [0, data.count / 3] {
                switch (one, read(minimum: minimum)) {
                case let (.success(a), .success(b)):
                    #expect(a == b, "table \(k)")
                    #expect(a.map(\.origin) == b.map(\.origin), "table \(k)")
                case let (.failure(a), .failure(b)):
                    #expect(a.message == b.message, "table \(k)")
                case let (a, b):
                    Issue.record("table \(k): \(a) read in one, \(b) in two")
                }
            }
            if k == 0, case .success(let products) = one { #expect(products.count == 400) }
        }
    }

    @Test("Where the second half starts: after a line break outside quotes")
    func recordStart() {
        let text = "a,b\n\"x\ny\",\"\"\"\n\"\nz,w\n"
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBufferPointer { b in
            let all = UnsafeBufferPointer(b)
            // From inside the quoted field: its line break is skipped; the record after it starts at `z`.
            let z = text.utf8.firstIndex(of: UInt8(ascii: "z"))!.utf16Offset(in: text)
            #expect(AstropyCSVReader.recordStart(in: all, from: 6) == z)
            #expect(AstropyCSVReader.recordStart(in: all, from: 0) == 4)
            #expect(AstropyCSVReader.recordStart(in: all, from: z) == nil)
            #expect(AstropyCSVReader.lineBreaks(in: all) == 5)
        }
    }

    @Test("A table: products from the values written; a syntax error after a refused row wins; bad UTF-8 names its line")
    func table() throws {
        let header = "# comment\n\ndataURI,productFilename,obs_id,size,description\n"
        let rows = (0..<50).map { i in "mast:HST/product/f\(i)_flt.fits,\"f\(i),\"\"q\"\"_flt.fits\",obs\(i / 10),\(i * 100),\"two\nlines\"\r\n" }
        let products = try Catalog.parse(Data(("\u{FEFF}" + header + rows.joined()).utf8), name: "t.csv")
        #expect(products.map(\.uri) == (0..<50).map { "mast:HST/product/f\($0)_flt.fits" })
        #expect(products.map(\.filename) == (0..<50).map { "f\($0),\"q\"_flt.fits" })
        #expect(products.map(\.size) == (0..<50).map { Int64($0 * 100) })
        // Rows take two lines each; the header is line 3.
        #expect(products.map(\.origin) == (0..<50).map { "t.csv:\(4 + 2 * $0)" })
        let refusedThenBroken = header + "mast:X/a.fits,a.fits,o,12kB,d\n" + "mast:X/b.fits,b\"x,o,1,d\n"
        #expect(throws: HaulError.self) { try Catalog.parse(Data(refusedThenBroken.utf8), name: "t.csv") }
        do { _ = try Catalog.parse(Data(refusedThenBroken.utf8), name: "t.csv") } catch let error as HaulError {
            #expect(error.message == "t.csv:5: a quote inside an unquoted field: expected the whole field in quotes, with quotes doubled (\"\")")
        }
        var invalid = Data((header + "mast:X/a.fits,a.fits,o,1,d\n").utf8)
        invalid.append(contentsOf: [0x6D, 0xC3, 0x28, 0x0A])
        do {
            _ = try Catalog.parse(invalid, name: "t.csv")
            Issue.record("no error")
        } catch let error as HaulError {
            #expect(error.message == "t.csv:5: not valid UTF-8 text")
        }
    }
}
