@testable import Haul
import Foundation

// The plain list of mast: URIs and URLs, from bytes: products or an `invalidCatalog` error. A list
// saved with CRLF line ends (Windows editors) must read as the same list with LF.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let data = inputData(bytes, size)
    let products: [Product]
    do {
        products = try Catalog.parseURLList(Catalog.text(data, name: "fuzz.txt"), name: "fuzz.txt")
    } catch {
        expectHaulError(error, .invalidCatalog)
        return 0
    }
    exerciseProducts(products)
    if !data.contains(0x0D) {
        var crlf = Data()
        for byte in data { if byte == 0x0A { crlf.append(0x0D) }; crlf.append(byte) }
        do {
            let again = try Catalog.parseURLList(Catalog.text(crlf, name: "fuzz.txt"), name: "fuzz.txt")
            guard again.map(\.uri) == products.map(\.uri) else {
                violated("a list with CRLF line ends reads as with LF", "\(again.map(\.uri)) ≠ \(products.map(\.uri))")
            }
        } catch {
            violated("a list with CRLF line ends reads as with LF", "\(error)")
        }
    }
    return 0
}
