@testable import Haul
import Foundation

// What every fuzz target shares: the bytes as `Data`, and what a catalog reader's products must survive
// downstream. A target is compiled with this file and linked with the Haul library built for fuzzing
// (`scripts/fuzz`); libFuzzer calls its `LLVMFuzzerTestOneInput` with each input.

/// The input as `Data`, copied (libFuzzer's buffer is valid only during the call).
func inputData(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> Data {
    Data(bytes: bytes, count: size)
}

/// Stops the run with a message libFuzzer reports as a crash, saving the input.
func violated(_ property: String, _ detail: @autoclosure () -> String = "") -> Never {
    fatalError("fuzz property violated: \(property)\(detail().isEmpty ? "" : ": \(detail())")")
}

/// Whether an error is the reader's documented one: a `HaulError` with the code the API promises.
func expectHaulError(_ error: any Error, _ code: HaulError.Code) {
    guard let error = error as? HaulError, error.code == code else {
        violated("expected a HaulError (\(code))", "\(error)")
    }
}

let resolver = try! URLResolver(archive: "https://mast.example.org")

/// What a catalog's products go through after reading: every selector, both layouts, the preview's
/// first and last pages, and the CSV export, which must read back as a catalog with the same URIs.
func exerciseProducts(_ products: [Product]) {
    let selections = [
        Selection(),
        Selection(quick: .recommended, levels: ["1b", "2", "calibrated"], suffixes: ["cal", "_X1D"], guideStars: true, pipelineInputs: true),
    ]
    for (s, selection) in selections.enumerated() {
        let plan = Plan(products: products, selection: selection, layout: s == 0 ? .nested : .flat, root: "fuzz", resolver: resolver)
        do {
            let first = try plan.page(1, size: 7)
            if first.count > 1 { _ = try plan.page(first.count, size: 7) }
        } catch {
            violated("the preview's first and last pages exist", "\(error)")
        }
        let export = plan.exportCSV()
        let back: [Product]
        do {
            back = try Catalog.parse(Data(export.utf8), name: "export")
        } catch {
            violated("an export reads back", "\(error)\n\(export)")
        }
        guard back.map(\.uri) == plan.entries.map(\.product.uri) else {
            violated("an export reads back with the same URIs", "\(back.map(\.uri)) ≠ \(plan.entries.map(\.product.uri))")
        }
    }
}
