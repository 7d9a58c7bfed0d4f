// An astropy table written with `t.write('p.csv')` (format `ascii.csv`): a header line of column
// names, then one line a row; RFC 4180 quoting; a masked value is an empty field. Comment lines (`#`)
// may come before the header, as astropy writes a table's `meta['comments']`. Told from the overlay's
// export by its header, which names CAOM fields (`dataURI`, `obs_id`, …) instead of `Dataset,Filename,…`.

import Foundation

extension Catalog {
    /// Reads an astropy CSV table from its bytes (a byte-order mark is skipped).
    ///
    /// - Parameter consumed: Told, now and then, of a range of bytes that is read and never looked at again.
    static func parseAstropyCSV(
        _ all: UnsafeBufferPointer<UInt8>, name: String, consumed: (@Sendable (Range<Int>) -> Void)? = nil
    ) throws -> [Product] {
        let skip = all.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        let bytes = UnsafeBufferPointer(rebasing: all[skip...])
        // Not UTF-8: the message (and its line) that reading it as text gives.
        guard Self.isValidUTF8(bytes) else {
            _ = try text(Data(buffer: all), name: name)
            throw HaulError(.invalidCatalog, "\(name): not valid UTF-8 text")
        }
        var reader = AstropyCSVReader(bytes: bytes, name: name)
        // Blank lines and comment lines before the header.
        var headerLine: Int?
        while let line = try reader.next() {
            let first = reader.fields.count == 1 ? reader.text(0) : ""
            guard reader.fields.count == 1, first.trimmingSpaces().isEmpty || first.hasPrefix("#") else {
                headerLine = line
                break
            }
        }
        guard let headerLine else { return [] }
        let header = reader.fields.indices.map { reader.text($0) }
        // A refused header or row is reported once the rest is known to be well-formed CSV (see
        // ``AstropyCSVReader``); until then it is remembered and the rest only checked.
        var refused: (any Error)?
        let columns: TableColumns?
        do { columns = try TableColumns(names: header, name: name, place: "\(name):\(headerLine)") } catch {
            columns = nil
            refused = error
        }
        let firstRowStart = reader.index
        let rest = bytes.count - firstRowStart
        // A big table in two halves, on two threads, split where a record starts. Each half is read by
        // the code that reads the whole, from a record's start with its line: what one reader would
        // read. The first half's error (a syntax error) comes first, then the second's, then the first
        // refused row of either: one reader's message.
        if let columns, rest >= RowsAhead.minimumBytes, ProcessInfo.processInfo.activeProcessorCount > 1,
           let split = AstropyCSVReader.recordStart(in: bytes, from: firstRowStart + rest / 2) {
            var first = AstropyCSVReader(bytes: UnsafeBufferPointer(rebasing: bytes[..<split]), name: name)
            first.index = firstRowStart
            first.line = reader.line
            var second = AstropyCSVReader(bytes: bytes, name: name)
            second.index = split
            second.line = reader.line + AstropyCSVReader.lineBreaks(in: UnsafeBufferPointer(rebasing: bytes[firstRowStart..<split]))
            // The second half's own columns: their caches (``RowMemo``) are a reader's, not shared.
            let half = CSVHalf(second, columns: try TableColumns(names: header, name: name, place: "\(name):\(headerLine)"), skip: skip, consumed: consumed)
            let thread = Thread { half.run() }
            thread.start()
            let read = Result { try Self.astropyRows(&first, columns: columns, skip: skip, releasedFrom: 0, consumed: consumed) }
            half.done.wait()
            var (products, refusedRow) = try read.get()
            let laterRefused = try half.result!.get()
            if let refused = refusedRow ?? laterRefused { throw refused }
            // The second half's products moved in bit for bit: `products + later` copied a million
            // products (four retains each) and released them again with the halves.
            var runs = half.runs
            half.runs = []
            products.reserveCapacity(products.count + runs.reduce(0) { $0 + $1.count })
            runs.reverse()
            while let run = runs.popLast() { products.append(contentsOf: run.moved) }
            return products
        }
        let (products, refusedRow) = try Self.astropyRows(&reader, columns: columns, refused: refused, skip: skip, releasedFrom: 0, consumed: consumed)
        if let refused = refused ?? refusedRow { throw refused }
        return products
    }

    /// The rows of an astropy table from where `reader` is to its bytes' end: the products, or (then
    /// none) the first row the mapping refused, or the header's refusal (`refused`), the rest only
    /// checked. A syntax error is thrown.
    ///
    /// - Parameters:
    ///   - columns: The header's columns (`nil` when it was refused).
    ///   - releasedFrom: Where the bytes `consumed` is told of start (`skip` bytes after the mapping's start).
    ///   - runs: Where the products go instead of the list returned, when given (the second half's:
    ///     ``ProductRun``s of `runCapacity` products, moved into the first half's list, not copied).
    static func astropyRows(
        _ reader: inout AstropyCSVReader, columns: TableColumns?, refused: (any Error)? = nil, skip: Int, releasedFrom: Int,
        consumed: (@Sendable (Range<Int>) -> Void)?, runs: UnsafeMutablePointer<[ProductRun]>? = nil,
        runCapacity: Int = ProductRun.standardCapacity
    ) throws -> (products: [Product], refused: (any Error)?) {
        var refused = refused
        var products: [Product] = []
        var released = reader.index
        var cells = columns?.emptyRow() ?? []
        let linePrefix = "\(reader.name):"
        let firstRowStart = reader.index
        while let line = try reader.next() {
            if let consumed, reader.index - released >= 16 << 20 {
                released = reader.index
                consumed((skip + releasedFrom)..<(skip + released))
            }
            guard refused == nil, let columns else { continue }
            if reader.fields.count == 1, reader.text(0).trimmingSpaces().isEmpty { continue }
            guard reader.fields.count == columns.names.count else {
                refused = HaulError(.invalidCatalog, "\(reader.name):\(line): expected \(columns.names.count) fields as in the header, found \(reader.fields.count)")
                products = []
                runs?.pointee = []
                continue
            }
            if runs == nil, products.count == 1_000 {
                // Room for the rest at the first thousand rows' size, so a million rows are not copied
                // at every doubling.
                let perRow = Double(reader.index - firstRowStart) / 1_000
                products.reserveCapacity(1_000 + Int(Double(reader.bytes.count - reader.index) / max(perRow, 1) * 1.3) + 16)
            }
            for (column, field) in columns.fields.enumerated() {
                guard let field else { continue }
                // Every cell is text: the mapping reads numbers from text as it does JSON strings.
                cells[field.rawValue] = reader.fields[column].count == 0 ? .null
                    : .string(field.repeats ? reader.sharedText(column, slot: field.rawValue) : reader.text(column))
            }
            do {
                let product = try columns.product(cells, line: line, linePrefix: linePrefix)
                if let runs {
                    if runs.pointee.last?.isFull ?? true {
                        guard let run = ProductRun(capacity: runCapacity) else { throw HaulError(.invalidCatalog, "\(reader.name): out of memory") }
                        runs.pointee.append(run)
                    }
                    runs.pointee.last!.append(product)
                } else {
                    products.append(product)
                }
            } catch {
                refused = error
                products = []
                runs?.pointee = []
            }
        }
        return (products, refused)
    }

    /// The second half of an astropy table, read on a second thread (``parseAstropyCSV(_:name:consumed:)``).
    private final class CSVHalf: @unchecked Sendable {
        var reader: AstropyCSVReader
        let columns: TableColumns
        let skip: Int
        let consumed: (@Sendable (Range<Int>) -> Void)?
        /// Set before ``done`` is signalled: the first refused row, if any; the products are in ``runs``.
        var result: Result<(any Error)?, any Error>?
        var runs: [ProductRun] = []
        /// ``RowsAhead/runCapacity``, read on the reader's task (the thread does not see task-local values).
        let runCapacity = RowsAhead.runCapacity
        let done = DispatchSemaphore(value: 0)

        init(_ reader: AstropyCSVReader, columns: TableColumns, skip: Int, consumed: (@Sendable (Range<Int>) -> Void)?) {
            self.reader = reader
            self.columns = columns
            self.skip = skip
            self.consumed = consumed
        }

        func run() {
            let from = reader.index
            result = Result {
                try withUnsafeMutablePointer(to: &runs) { runs in
                    try Catalog.astropyRows(&reader, columns: columns, skip: skip, releasedFrom: from, consumed: consumed, runs: runs, runCapacity: runCapacity).refused
                }
            }
            done.signal()
        }
    }

    /// Whether bytes are well-formed UTF-8: plain ASCII is passed eight bytes at a time.
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i < bytes.count {
            while i + 8 <= bytes.count,
                  UnsafeRawPointer(bytes.baseAddress! + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
            }
            guard i < bytes.count else { break }
            if bytes[i] < 0x80 {
                i += 1
                continue
            }
            // A run of text beyond ASCII, up to the next line break (never inside a scalar).
            var end = i
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            guard JSONReader.isValidUTF8(UnsafeBufferPointer(rebasing: bytes[i..<end])) else { return false }
            i = end
        }
        return true
    }
}
