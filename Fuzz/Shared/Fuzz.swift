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
/// first and last pages, the curl script, and the CSV export, which must read back with the same URIs.
func exerciseProducts(_ products: [Product]) {
    for product in products {
        for value in Plan.exportFields(product) where !value.isEmpty {
            let written = Manifest.csvField(value)
            guard let records = try? CSVReader.records(written, name: "field"), records.count == 1, records[0].fields.count == 1,
                  CSVReader.unguard(records[0].fields[0]) == value else {
                violated("a CSV field reads back as itself", "\(value.debugDescription) → \(written.debugDescription)")
            }
        }
    }
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
        exerciseScript(plan)
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

/// Reads back a bash word as `CurlScript.quoted` writes it, byte by byte as bash does: `'…'` runs joined
/// by `\'`, or one `$'…'` with `\\`, `\'` and `\xHH` escapes. `nil` when bash would read something else.
func bashWord(_ word: String) -> [UInt8]? {
    let b = Array(word.utf8)
    var out: [UInt8] = []
    var i = 0
    if b.starts(with: [UInt8(ascii: "$"), UInt8(ascii: "'")]) {
        i = 2
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: "'"):
                return i == b.count - 1 ? out : nil
            case UInt8(ascii: "\\"):
                guard i + 1 < b.count else { return nil }
                switch b[i + 1] {
                case UInt8(ascii: "\\"), UInt8(ascii: "'"): out.append(b[i + 1]); i += 2
                case UInt8(ascii: "x"):
                    var value = 0, digits = 0
                    i += 2
                    while digits < 2, i < b.count, let d = Int(String(UnicodeScalar(b[i])), radix: 16) { value = value * 16 + d; digits += 1; i += 1 }
                    guard digits > 0 else { return nil }
                    out.append(UInt8(value))
                default: return nil  // an escape quoted() never writes: bash would read it differently
                }
            default:
                out.append(b[i]); i += 1
            }
        }
        return nil
    }
    while i < b.count {
        if b[i] == UInt8(ascii: "'") {
            guard let close = b[(i + 1)...].firstIndex(of: UInt8(ascii: "'")) else { return nil }
            out += b[(i + 1)..<close]
            i = close + 1
        } else if b[i] == UInt8(ascii: "\\"), i + 1 < b.count {
            out.append(b[i + 1]); i += 2
        } else {
            return nil  // an unquoted byte: the shell would interpret it
        }
    }
    return out
}

/// The curl script for a plan: every path and URL in it must read back in bash as itself.
func exerciseScript(_ plan: Plan) {
    _ = CurlScript(plan: plan, archive: resolver).text()
    for entry in plan.downloads.map({ plan.entries[$0] }) {
        for text in [entry.path, entry.url, plan.root] where bashWord(CurlScript.quoted(text)) != Array(text.utf8) {
            violated("a curl script's word reads back in bash as itself", "\(text.debugDescription) → \(CurlScript.quoted(text))")
        }
    }
}
