@testable import Haul
import Foundation

// The JSON readers (CAOM and missions search) and the format sniffing, from bytes: a product list or
// an `invalidCatalog` error, never a crash, and exactly what the tree reader of before gave
// (Shared/ReferenceCatalogJSON.swift): the same products or the same message; what reads is then
// planned, previewed and exported.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let data = inputData(bytes, size)
    _ = Catalog.detect(data)
    let streamed = Result { try Catalog.parseJSON(data, name: "fuzz.json") }
    let reference = Result { try Catalog.referenceParseJSON(data, name: "fuzz.json") }
    switch (streamed, reference) {
    case (.success(let products), .success(let expected)):
        guard products == expected else {
            violated("the streaming reader reads the products the tree reader read", "\(products.count) vs \(expected.count) products")
        }
        exerciseProducts(products)
    case (.failure(let error), .failure(let expected)):
        expectHaulError(error, .invalidCatalog)
        guard (error as? HaulError)?.message == (expected as? HaulError)?.message else {
            violated("the streaming reader fails as the tree reader failed", "\(error) vs \(expected)")
        }
    case (.success, .failure(let expected)):
        violated("the streaming reader fails where the tree reader failed", "\(expected)")
    case (.failure(let error), .success):
        violated("the streaming reader reads what the tree reader read", "\(error)")
    }
    return 0
}
