@testable import Haul
import Foundation

// The astropy table readers (CSV, ECSV, VOTable TABLEDATA and BINARY2, FITS BINTABLE), from bytes: the
// format told from the content as `Catalog.parse` tells it, then products or an `invalidCatalog` error.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let data = inputData(bytes, size)
    do {
        let products: [Product]
        switch Catalog.detect(data) {
        case .astropyCSV?: products = try data.withUnsafeBytes { try Catalog.parseAstropyCSV($0.bindMemory(to: UInt8.self), name: "fuzz") }
        case .ecsv?: products = try Catalog.parseECSV(Catalog.text(data, name: "fuzz"), name: "fuzz")
        case .votable?: products = try data.withUnsafeBytes { try Catalog.parseVOTable($0.bindMemory(to: UInt8.self), name: "fuzz") }
        case .fits?: products = try data.withUnsafeBytes { try Catalog.parseFITS($0.bindMemory(to: UInt8.self), name: "fuzz") }
        default: return 0 // Another format: its own target fuzzes it.
        }
        exerciseProducts(products)
    } catch {
        expectHaulError(error, .invalidCatalog)
    }
    return 0
}
