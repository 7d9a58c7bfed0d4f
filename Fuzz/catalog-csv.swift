@testable import Haul
import Foundation

// The overlay CSV reader (and Haul's export), from bytes: products or an `invalidCatalog` error.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let data = inputData(bytes, size)
    do {
        exerciseProducts(try Catalog.parseCSV(Catalog.text(data, name: "fuzz.csv"), name: "fuzz.csv"))
    } catch {
        expectHaulError(error, .invalidCatalog)
    }
    return 0
}
