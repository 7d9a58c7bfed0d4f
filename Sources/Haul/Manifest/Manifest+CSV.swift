extension Manifest {
    /// The manifest as RFC 4180 CSV with a header row, lines ending in CRLF.
    package func csv() -> String {
        var out = ""
        csv { out += $0 }
        return out
    }

    /// The same text, a line at a time: for a length or a digest without holding it all.
    package func csv(_ line: (String) -> Void) {
        line(Manifest.columns.map(Self.csvField).joined(separator: ",") + "\r\n")
        for row in rows {
            line(fields(row).map(Self.csvField).joined(separator: ",") + "\r\n")
        }
    }

    /// One field, quoted when it holds a comma, quote or line break (quotes doubled). A field that a
    /// spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) is prefixed with `'`, and so is one
    /// that already looks guarded (`'=`…), so that reading back (``CSVReader/unguard(_:)``) gives the value.
    package static func csvField(_ value: String) -> String {
        var v = value
        if let first = v.utf8.first, first == UInt8(ascii: "=") || first == UInt8(ascii: "+") || first == UInt8(ascii: "@")
            || (first == UInt8(ascii: "-") && Double(v) == nil) || CSVReader.looksGuarded(v) {
            v = "'" + v
        }
        // Byte scan: these are all ASCII, and grapheme iteration costs ten times more on a 100k-row export.
        guard v.utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }) else { return v }
        return "\"" + v.replacingAll("\"", with: "\"\"") + "\""
    }

    /// A row of an earlier run's manifest, as a re-run needs it.
    struct Earlier: Sendable {
        var uri: String
        var file: String
        var status: String
        var size: Int64?
        var crc32: UInt32?
        var lastModified: Int64?
        var etag: String?
        var source: FileSource?
    }

    /// Reads rows back from ``csv()``: what a re-run needs of each. The columns are found by name, so a
    /// manifest from before the CRC-32, Last-Modified and ETag columns reads too (without them).
    static func parseCSV(_ text: String) -> [Earlier] {
        guard let records = try? CSVReader.records(text, name: "manifest.csv"), let header = records.first?.fields else { return [] }
        guard let uri = header.firstIndex(of: "URI"), let file = header.firstIndex(of: "File"),
              let status = header.firstIndex(of: "Status"), let size = header.firstIndex(of: "Size") else { return [] }
        let crc = header.firstIndex(of: "CRC-32"), modified = header.firstIndex(of: "Last-Modified"), etag = header.firstIndex(of: "ETag")
        let source = header.firstIndex(of: "Source")
        return records.dropFirst().compactMap { record in
            let f = record.fields
            guard f.count == header.count else { return nil }
            let tag = etag.map { CSVReader.unguard(f[$0]) } ?? ""
            return Earlier(
                uri: CSVReader.unguard(f[uri]), file: CSVReader.unguard(f[file]), status: f[status], size: Int64(f[size]),
                crc32: crc.flatMap { f[$0].count == 8 ? UInt32(f[$0], radix: 16) : nil },
                lastModified: modified.flatMap { f[$0].isEmpty ? nil : HTTPDate.parse(f[$0]) },
                etag: tag.isEmpty ? nil : tag, source: source.flatMap { FileSource(rawValue: f[$0]) }
            )
        }
    }
}

extension String {
    /// Replaces every scalar `target`. Scalars, not Characters: a quote followed by a combining mark is one
    /// Character (`"\"\u{301}"`), and comparing Characters would leave that quote unescaped.
    func replacingAll(_ target: Unicode.Scalar, with replacement: String) -> String {
        var out = ""
        out.reserveCapacity(utf8.count)
        for scalar in unicodeScalars {
            if scalar == target { out += replacement } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }
}
