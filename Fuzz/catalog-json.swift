@testable import Haul
import Foundation

// The JSON readers (CAOM and missions search) and the format sniffing, from bytes: a product list or
// an `invalidCatalog` error, never a crash; what reads is then planned, previewed and exported.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let data = inputData(bytes, size)
    _ = Catalog.detect(data)
    do {
        exerciseProducts(try Catalog.parseJSON(data, name: "fuzz.json"))
    } catch {
        expectHaulError(error, .invalidCatalog)
    }
    return 0
}
