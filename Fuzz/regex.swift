@testable import Haul
import Foundation

// The JavaScript-regex check and its translation to ICU: a pattern that runs, or an `invalidArgument`
// error whose caret points inside the pattern, never a crash. Matched against short names only, so a
// pattern that backtracks exponentially (as it would in JavaScript too) cannot stall the run.

let names = ["jw02736001001_02101_00001_nrca1_cal.fits", "oep601010_x1d.fits", "a\nb", "", "ÅÉ_gs-fg_ß.fits", "x{2}[]"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: bytes, count: size), as: UTF8.self)
    do {
        let pattern = try Selection.FileNamePattern(text)
        for name in names { _ = pattern.matches(name) }
    } catch {
        expectHaulError(error, .invalidArgument)
        let message = (error as! HaulError).message
        if let range = message.range(of: ", at character ") {
            let digits = message[range.upperBound...].prefix { $0.isNumber }
            guard let n = Int(digits), n >= 1, n <= text.count else {
                violated("the caret points at a character of the pattern", "\(message) (pattern of \(text.count))")
            }
        }
    }
    return 0
}
