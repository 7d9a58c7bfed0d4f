import Foundation

// A plain list: one `mast:` URI, `http(s)://` URL or `s3://BUCKET/KEY` (a public bucket's object) a line
// (LF or CRLF); blank lines and `#` comments ignored; a second URI or URL on a line is an error naming the line.

extension Catalog {
    static func parseURLList(_ text: String, name: String) throws -> [Product] {
        var products: [Product] = []
        var lineNumber = 0
        // Split at the scalar LF: "\r\n" is one Character, so splitting the String at "\n" would leave a
        // CRLF list as one line (a comment first made the whole list one comment, read as no products).
        for rawLine in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = Substring(rawLine).trimmingSpaces()
            if line.isEmpty || line.hasPrefix("#") { continue }
            if let second = Self.secondLocation(in: Substring(rawLine)) {
                throw HaulError(.invalidCatalog, "\(name):\(lineNumber): more than one URI or URL on the line (a second starts at column \(second)): expected one a line")
            }
            if let bad = line.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                throw HaulError(.invalidCatalog, "\(name):\(lineNumber): a control character (U+\(String(format: "%04X", bad.value))) in the line: expected one mast: URI or URL")
            }
            let lower = line.lowercased()
            if lower.hasPrefix("mast:") {
                let path = String(line.dropFirst(5))
                let parts = path.split(separator: "/", omittingEmptySubsequences: false)
                guard let last = parts.last, !last.isEmpty, parts.count >= 2 else {
                    throw HaulError(.invalidCatalog, "\(name):\(lineNumber): expected a URI of the form mast:MISSION/…/FILE, found \"\(line.prefix(80))\"")
                }
                products.append(Product(
                    uri: line, filename: String(last), dataset: parts.dropLast().joined(separator: "/"),
                    mission: String(parts[0]), named: String(last),
                    origin: "\(name):\(lineNumber)"
                ))
            } else if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
                guard let components = URLComponents(string: line), let host = components.host, !host.isEmpty else {
                    throw HaulError(.invalidCatalog, "\(name):\(lineNumber): not a valid URL: \"\(line.prefix(80))\"")
                }
                // A MAST download URL names its product in the query: use that product's name and folder.
                let inner = components.queryItems?.first { $0.name == "uri" || $0.name == "product_name" }?.value
                let source = inner.map { $0.hasPrefix("mast:") ? String($0.dropFirst(5)) : $0 } ?? components.path
                let parts = source.split(separator: "/", omittingEmptySubsequences: true)
                // Trimmed as the CSV reader trims it, so that an export of this list reads back.
                guard let last = parts.last?.trimmingSpaces(), !last.isEmpty else {
                    throw HaulError(.invalidCatalog, "\(name):\(lineNumber): cannot tell a file name from this URL: expected a path ending in a file name")
                }
                // A MAST download URL's folder is its product's; any other URL keeps its path under its host
                // (`h/a/f.fits` and `h/b/f.fits` stay apart in the nested layout, as the server has them).
                let dataset = inner != nil
                    ? (parts.count > 1 ? parts.dropLast().joined(separator: "/") : host)
                    : ([Substring(host)] + parts.dropLast()).joined(separator: "/")
                products.append(Product(
                    uri: line, filename: last, dataset: dataset, mission: nil, named: last,
                    origin: "\(name):\(lineNumber)"
                ))
            } else if lower.hasPrefix("s3://") {
                // Read anonymously over HTTPS (URLResolver); the file keeps its key's folders under its bucket.
                guard let (bucket, key) = CloudBucket.parse(s3: line), !key.hasSuffix("/"),
                      let last = key.split(separator: "/").last.map(String.init) else {
                    throw HaulError(.invalidCatalog, "\(name):\(lineNumber): expected s3://BUCKET/KEY ending in a file name, found \"\(line.prefix(80))\"")
                }
                let folders = key.split(separator: "/").dropLast()
                products.append(Product(
                    uri: line, filename: last, dataset: ([Substring(bucket)] + folders).joined(separator: "/"), mission: nil, named: last,
                    origin: "\(name):\(lineNumber)"
                ))
            } else {
                throw HaulError(.invalidCatalog, "\(name):\(lineNumber): expected a mast: URI, an http(s):// URL or an s3://BUCKET/KEY, found \"\(line.prefix(80))\"")
            }
        }
        return products
    }

    /// Where a second URI or URL starts on a line (a 1-based column, in characters), when a word after
    /// the first, split at spaces, tabs or commas, begins with `mast:`, `http://` or `https://`.
    static func secondLocation(in line: Substring) -> Int? {
        // Most lines have no separator at all: a byte scan, before the walk over Characters.
        guard line.utf8.contains(where: { $0 == 0x20 || $0 == 0x09 || $0 == 0x2C || $0 == 0x3B }) else { return nil }
        let separators: Set<Character> = [" ", "\t", ",", ";"]
        var column = 0
        var wordStart: Int?
        var word = ""
        var words = 0
        func ends() -> Int? {
            defer { word = ""; wordStart = nil }
            guard let start = wordStart else { return nil }
            words += 1
            let lower = word.lowercased()
            if words > 1, lower.hasPrefix("mast:") || lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("s3://") { return start }
            return nil
        }
        for character in line where character != "\r" {
            column += 1
            if separators.contains(character) {
                if let found = ends() { return found }
            } else {
                if wordStart == nil { wordStart = column }
                word.append(character)
            }
        }
        return ends()
    }
}

extension Product {
    /// A product a plain list names: its suffix, and a JWST file's level, are the ones its file name carries.
    init(uri: String, filename: String, dataset: String, mission: String?, named name: String, origin: String) {
        let suffix = Product.suffix(ofFilename: name)
        let jwst = Product.isJWST(mission: mission, filename: name)
        self.init(
            uri: uri, filename: filename, dataset: dataset, mission: mission,
            level: jwst ? Product.jwstLevel(stated: nil, suffix: suffix, filename: name) : nil, suffix: suffix,
            guideStar: Product.isGuideStar(filename: name, subgroup: nil), origin: origin
        )
    }
}
