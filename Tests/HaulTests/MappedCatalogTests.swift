import Foundation
@testable import Haul
import HaulArchive
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A catalog is read through a memory mapping; a file cut short meanwhile (another program rewriting
/// it) would end the process with SIGBUS on the pages it lost. It is an error naming the file instead.
@Suite("A catalog cut short while it is read")
struct MappedCatalogTests {
    static let message = "the file was cut short while it was read"

    @Test("Cut short after it is mapped, to nothing, to a page, to half: an error naming the file, never SIGBUS", arguments: ["sample.json", "astropy/jwst-program.fits", "astropy/jwst-program.ecsv", "astropy/jwst-program-binary2.xml"])
    func cutShort(_ name: String) throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/catalog"
        let original: Data
        if name == "sample.json" {
            // Several megabytes: most of it is unread when the file shrinks.
            original = SampleCatalog(jwstObservations: 40, hstObservations: 100).caomJSON()
        } else {
            original = try Data(contentsOf: URL(fileURLWithPath: fixture(name)))
        }
        for cut in [0, 4096, original.count / 2] where cut < original.count {
            try original.write(to: URL(fileURLWithPath: path))
            do {
                _ = try Catalog.parseMapped(path) { #expect(truncate(path, off_t(cut)) == 0) }
                Issue.record("\(name) cut to \(cut) bytes was read without an error")
            } catch let error as HaulError {
                #expect(error.code == .invalidCatalog)
                #expect(error.message.hasPrefix("\(path): \(Self.message)"), "\(name) cut to \(cut): \(error.message)")
            }
        }
    }

    @Test("A whole file reads as before, and the guards are given back: more reads in a row than there are guards")
    func guardsReturn() throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/catalog.json"
        try SampleCatalog().caomJSON().write(to: URL(fileURLWithPath: path))
        let expected = try Catalog.parse(Data(contentsOf: URL(fileURLWithPath: path)), name: path)
        for _ in 0..<100 {
            let products = try #require(try Catalog.parseMapped(path))
            #expect(products == expected)
        }
    }
}
