import Foundation

extension Catalog {
    /// Reads catalogs as ``load(paths:keepingDetails:standardInput:)`` does, keeping of each product only
    /// what `haul plan` needs (``PlanRows``): the same rows, checks and messages, a fifth of the memory.
    ///
    /// A JSON product list (the big ones) goes to the rows a row at a time, on both threads that read it
    /// (CAOM rows without making their products, ``PlanRows/appendCAOM(_:parser:details:)``); any other
    /// format is read whole, one file at a time, and then kept as rows.
    ///
    /// - Parameters:
    ///   - paths: Catalog files (standard input is not read here: a plan's fingerprint reads them again).
    ///   - selection: The selection the rows are judged by as they are read.
    /// - Throws: ``HaulError`` (`invalidCatalog`) as `load` throws it.
    static func loadPlanRows(paths: [String], selection: Selection) throws -> PlanRows {
        guard !paths.isEmpty else {
            let rows = try loadPlanRowsWhole(paths: paths, selection: selection)
            rows.seal()
            return rows
        }
        return try $keepsDetails.withValue(selection.needsDetails) {
            let all = PlanRows(selection: selection)
            for path in paths {
                if path != "-", !isFolder(path), let rows = try mapped(path, { bytes, consumed in
                    try planRows(bytes, name: path, selection: selection, consumed: consumed)
                }) {
                    all.append(contentsOf: rows)
                } else {
                    // Not a mapped file: read as `load` reads it, with its messages.
                    all.append(contentsOf: try loadPlanRowsWhole(paths: [path], selection: selection))
                }
            }
            all.seal()
            return all
        }
    }

    private static func loadPlanRowsWhole(paths: [String], selection: Selection) throws -> PlanRows {
        let rows = PlanRows(selection: selection)
        for p in try load(paths: paths, keepingDetails: selection.needsDetails).products { rows.append(p) }
        return rows
    }

    /// One catalog's bytes as rows, the format told from the content (``parse(_:name:consumed:)``).
    static func planRows(
        _ bytes: UnsafeBufferPointer<UInt8>, name: String, selection: Selection, consumed: (@Sendable (Range<Int>) -> Void)?
    ) throws -> PlanRows {
        let data = bytes.isEmpty ? Data() : Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes.baseAddress!), count: bytes.count, deallocator: .none)
        switch detect(data) {
        case .caom?, .missionsSearch?:
            return try planRowsJSON(bytes, name: name, selection: selection, consumed: consumed)
        default:
            let rows = PlanRows(selection: selection)
            for p in try parse(bytes, name: name, consumed: consumed) { rows.append(p) }
            return rows
        }
    }
}
