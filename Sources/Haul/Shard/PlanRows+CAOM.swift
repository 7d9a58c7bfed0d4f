import Foundation

// CAOM rows of a JSON list go into a plan's rows without a `Product` each: at ten million rows, making
// the product (a dozen strings), judging it and dropping it again was half of `haul plan`'s time.
//
// A row's fields but its URI, file name and size are, in a product list, the same as many other rows'
// (one observation's products share them): what they make of a product (``CAOMFields``) is worked out
// once for each set of their bytes, a "context". What the file name adds to that (the suffix when the
// subgroup gives none, JWST by name, the guide-star mark) is read from the name's bytes; the selection's
// verdict on a product of one context and one such outcome is the same for every row that has them,
// as long as the selection does not look at the row's own URI, name or size (``PlanRows/readsEachName``):
// it is judged once, on the first such row's product, by the code that judges every product
// (``PlanRows/judge(_:)``). The rest (the name's safety, its bytes, the size) is each row's own.
//
// Everything not plainly one of these cases goes back to the caller, which maps the row as any other
// (``Catalog/caomProduct(_:)``, ``PlanRows/append(_:)``): a value the mapping would refuse (and the error
// it gives), a context the table has no room for. Both ways give the same rows, which tests hold equal.

extension PlanRows {
    /// Whether a JSON list's CAOM rows are read straight into the rows (else each through its product,
    /// as any other row): tests read lists both ways, to hold them equal.
    @TaskLocal static var readsCAOMDirectly = true

    /// One reader's state for ``appendCAOM(_:parser:details:)``.
    struct CAOMReading {
        /// The contexts met, and where each one's key is in ``contextIndex``.
        var contexts: [Context] = []
        var contextIndex: [ContextKey: Int] = [:]
        /// The last row's context (most rows' too), and its key.
        var last = -1
        var lastKey: [UInt8] = []
        /// The verdicts judged, by context and what the file name added.
        var judged: [Judged] = []
        var judgedIndex: [JudgedKey: Int] = [:]
        var lastJudged = -1
        /// The row's members made values, for a new context.
        var values = [JSONValue?](repeating: nil, count: RowField.allCases.count)
        /// Rows seen and contexts made, to stop when rows share too little for the table to pay.
        var rows = 0
        var made = 0
        var off = false
        /// The members a context is made of: every member the CAOM mapping reads but the URI, the file name
        /// and the size.
        var fields: [RowField] = []
    }

    /// A context: a set of the fields' bytes, and the product fields they give.
    final class Context {
        let fields: CAOMFields
        let details: Product.Details?
        /// The HST category (``CAOMFields/category(_:)``) of its products that are not JWST's.
        let category: String?
        /// Its verdicts (in ``CAOMReading/judged``): most contexts have one or two. Unchecked for
        /// exclusive access, as the reader's other state (``PlanRows/caom``).
        @exclusivity(unchecked) var judged: [Int] = []

        init(fields: CAOMFields, details: Product.Details?, category: String?) {
            self.fields = fields
            self.details = details
            self.category = category
        }
    }

    /// A context's key (``makeKey(_:bytes:)``), hashed once, eight bytes at a time.
    struct ContextKey: Hashable {
        let bytes: [UInt8]
        let hash: Int

        init(_ bytes: [UInt8]) {
            self.bytes = bytes
            var h: UInt64 = 0x9E37_79B9_7F4A_7C15
            bytes.withUnsafeBufferPointer { b in
                var i = 0
                while i + 8 <= b.count {
                    h = (h ^ UnsafeRawPointer(b.baseAddress! + i).loadUnaligned(as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
                    h ^= h >> 32
                    i += 8
                }
                while i < b.count {
                    h = (h ^ UInt64(b[i])) &* 0x100_0000_01B3
                    i += 1
                }
            }
            hash = Int(truncatingIfNeeded: h ^ h >> 29)
        }

        static func == (a: ContextKey, b: ContextKey) -> Bool { a.hash == b.hash && a.bytes == b.bytes }

        func hash(into hasher: inout Hasher) { hasher.combine(hash) }
    }

    struct JudgedKey: Hashable {
        var context: Int
        var derived: CAOMFields.Derived
    }

    /// The verdict on the products of one context and one outcome of their file names.
    struct Judged {
        var key: JudgedKey
        var flags: Flags
        var shared: Shared
        /// The index of ``shared`` in the chunk last written to (by identity), when known.
        var chunk: ObjectIdentifier?
        var sharedIndex = 0
    }

    /// More contexts than this and the table starts again; rows that share less than this often stop
    /// being read here.
    static let contextLimit = 4096

    /// Adds the CAOM row whose members `slots` note (``JSONReader/Parser/readRow(depth:into:)``), as
    /// `append(Catalog.caomProduct(row))` adds it. `false`, having added nothing, for a row to be mapped
    /// as any other: one the mapping would refuse, or met when sharing has stopped paying.
    ///
    /// - Parameters:
    ///   - parser: The reader's parser (its bytes, and its shared strings for values made).
    ///   - details: The reader's details table when ``Product/Details`` are kept.
    func appendCAOM(_ slots: [RowSlot], parser: inout JSONReader.Parser, details: DetailsTable?) -> Bool {
        if caom.off { return false }
        if caom.fields.isEmpty {
            caom.fields = [
                .obsId, .obsID, .parentObsid, .obsCollection, .productSubGroupDescription, .calibLevel, .productType,
                .productGroupDescription, .dataRights, .project, .instrumentName, .filters,
            ] + (details != nil ? [.description, .proposalID, .dataproductType] : [])
        }
        let bytes = parser.bytes
        // The context: the last row's when its key is this row's.
        if caom.last < 0 || !Self.matches(caom.lastKey, slots, bytes, caom.fields) {
            let key = makeKey(slots, bytes: bytes)
            if let found = caom.contextIndex[key] {
                caom.last = found
            } else {
                guard let context = makeContext(slots, parser: &parser, details: details) else { return false }
                if caom.contexts.count >= Self.contextLimit {
                    caom.contexts.removeAll(keepingCapacity: true)
                    caom.contextIndex.removeAll(keepingCapacity: true)
                    caom.judged.removeAll(keepingCapacity: true)
                    caom.judgedIndex.removeAll(keepingCapacity: true)
                    caom.lastJudged = -1
                }
                caom.made += 1
                if caom.rows >= 4 * Self.contextLimit, caom.made * 4 > caom.rows {
                    // A context for most rows: making them costs more than it saves.
                    caom.off = true
                    return false
                }
                caom.last = caom.contexts.count
                caom.contextIndex[key] = caom.last
                caom.contexts.append(context)
            }
            caom.lastKey = key.bytes
        }
        caom.rows += 1
        let c = caom.last

        // The URI: `requiredString`'s, trimmed and not empty.
        let uriSlot = slots[RowField.dataURI.rawValue]
        guard uriSlot.kind == .string else { return false }
        var uriText: String?
        if !Self.isPlainText(uriSlot, bytes) {
            guard case .string(let s)? = parser.value(of: uriSlot, field: RowField.dataURI.rawValue, shared: false) else { return false }
            let trimmed = s.trimmingSpaces()
            guard !trimmed.isEmpty else { return false }
            uriText = trimmed
        }
        // The file name: `productFilename` trimmed, else the URI's last part; never empty.
        let nameSlot = slots[RowField.productFilename.rawValue]
        var nameText: String?
        var nameFromURI = false
        switch nameSlot.kind {
        case .absent, .null:
            nameFromURI = true
        case .string:
            if !Self.isPlainText(nameSlot, bytes) {
                guard case .string(let s)? = parser.value(of: nameSlot, field: RowField.productFilename.rawValue, shared: false) else { return false }
                let trimmed = s.trimmingSpaces()
                if trimmed.isEmpty { nameFromURI = true } else { nameText = trimmed }
            }
        default:
            return false
        }
        // The size: `size(_:)`'s.
        let sizeSlot = slots[RowField.size.rawValue]
        let size: Int64?
        switch sizeSlot.kind {
        case .absent, .null: size = nil
        case .number where (sizeSlot.integer ?? -1) >= 0: size = sizeSlot.integer
        default:
            guard let read = JSONRow.size(of: parser.value(of: sizeSlot, field: RowField.size.rawValue, shared: false)) else { return false }
            size = read
        }

        return Self.withText(uriSlot, uriText, bytes) { uri in
            let lastPart: String?
            if nameFromURI {
                // `Catalog.lastPathComponent`: after the last "/" Character, which in plain ASCII is the last "/" byte.
                if uri.contains(where: { $0 >= 0x80 || $0 == 0x0D }) {
                    let part = Catalog.lastPathComponent(String(decoding: uri, as: UTF8.self))
                    guard !part.isEmpty else { return false }
                    lastPart = part
                } else {
                    guard uri.last != UInt8(ascii: "/") else { return false }
                    lastPart = nil
                }
            } else {
                lastPart = nil
            }
            func appendNamed(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
                append(context: c, uri: uri, name: name, size: size)
                return true
            }
            if var text = nameText ?? lastPart {
                return text.withUTF8(appendNamed)
            } else if nameFromURI {
                return appendNamed(Self.lastPart(uri))
            } else {
                return appendNamed(UnsafeBufferPointer(rebasing: bytes[(nameSlot.start + 1)..<(nameSlot.end - 1)]))
            }
        }
    }

    /// The row, its context known and its URI, file name and size read.
    private func append(context c: Int, uri: UnsafeBufferPointer<UInt8>, name: UnsafeBufferPointer<UInt8>, size: Int64?) {
        let context = caom.contexts[c]
        // What the file name adds, from its bytes when they are plain ASCII (where bytes are Characters).
        let derived: CAOMFields.Derived
        let ascii = !name.contains { $0 >= 0x80 || $0 == 0x0D }
        if ascii {
            derived = context.fields.derived(
                namesJWST: Product.namesJWST(ascii: name), guideStarMark: Product.hasGuideStarMark(name),
                nameSuffix: { Product.suffix(ofASCIIName: name)! }
            )
        } else {
            derived = context.fields.derived(filename: String(decoding: name, as: UTF8.self))
        }
        func product() -> Product {
            var p = context.fields.product(
                uri: String(decoding: uri, as: UTF8.self), filename: String(decoding: name, as: UTF8.self), size: size, derived,
                category: .some(derived.jwst ? nil : context.category)
            )
            p.details = context.details
            return p
        }
        directRows += 1
        if readsEachName {
            // The selection reads this row's own name, URI or size: judged alone.
            append(product())
            return
        }
        let key = JudgedKey(context: c, derived: derived)
        var j = caom.lastJudged
        if j < 0 || caom.judged[j].key != key {
            // The context's few verdicts are looked through; a long list is looked up.
            let list = context.judged
            if list.count <= 8, let found = list.first(where: { caom.judged[$0].key.derived == derived }) {
                j = found
            } else if list.count > 8, let found = caom.judgedIndex[key] {
                j = found
            } else {
                let p = product()
                vocabulary.add(p)
                j = caom.judged.count
                caom.judged.append(Judged(key: key, flags: judge(p), shared: Shared(p)))
                caom.judgedIndex[key] = j
                context.judged.append(j)
                caom.lastJudged = j
                finish(j, uri: uri, name: name, size: size, product: p)
                return
            }
            caom.lastJudged = j
        }
        vocabulary.addSame()
        finish(j, uri: uri, name: name, size: size, product: nil)
    }

    /// Writes a row judged as `judged[j]`: what the file name's bytes and the size add, then the row.
    private func finish(_ j: Int, uri: UnsafeBufferPointer<UInt8>, name: UnsafeBufferPointer<UInt8>, size: Int64?, product: Product?) {
        var flags = caom.judged[j].flags
        if flags.contains(.guideStar), guideStarRule {
            let context = caom.contexts[caom.judged[j].key.context]
            var p = product ?? context.fields.product(
                uri: String(decoding: uri, as: UTF8.self), filename: String(decoding: name, as: UTF8.self), size: size,
                caom.judged[j].key.derived
            )
            p.details = context.details
            noteGuideStar(p)
        }
        if !SafePath.isPlainSafe(bytes: name), SafePath.problem(in: String(decoding: name, as: UTF8.self), what: "file name") != nil {
            flags.insert(.unsafeName)
        }
        store(flags, uri: uri, name: name, size: size) { chunk in
            let id = ObjectIdentifier(chunk)
            if caom.judged[j].chunk == id { return caom.judged[j].sharedIndex }
            let index = Self.index(of: caom.judged[j].shared, in: chunk)
            caom.judged[j].chunk = id
            caom.judged[j].sharedIndex = index
            return index
        }
    }

    /// The row's context key: each context member's kind and bytes in the document. The same bytes are the
    /// same values (a member's value is its bytes' alone), so rows with one key have one context.
    private func makeKey(_ slots: [RowSlot], bytes: UnsafeBufferPointer<UInt8>) -> ContextKey {
        var key: [UInt8] = []
        key.reserveCapacity(caom.lastKey.count + 16)
        for field in caom.fields {
            let slot = slots[field.rawValue]
            key.append(slot.kind.rawValue)
            guard slot.kind != .absent else { continue }
            let count = slot.end - slot.start
            key.append(UInt8(truncatingIfNeeded: count))
            key.append(UInt8(truncatingIfNeeded: count >> 8))
            key.append(UInt8(truncatingIfNeeded: count >> 16))
            key.append(UInt8(truncatingIfNeeded: count >> 24))
            key.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[slot.start..<slot.end]))
        }
        return ContextKey(key)
    }

    /// The context of the row's members, read as ``Catalog/caomProduct(_:)`` reads them (`project` too,
    /// which it reads only for HST rows); `nil` when one is a value the mapping refuses.
    private func makeContext(_ slots: [RowSlot], parser: inout JSONReader.Parser, details: DetailsTable?) -> Context? {
        for field in caom.fields {
            caom.values[field.rawValue] = parser.value(of: slots[field.rawValue], field: field.rawValue, shared: field.repeats)
        }
        var row = JSONRow(fields: caom.values, origin: "", path: "", index: 0, name: "")
        row.details = details
        do {
            let fields = CAOMFields(
                dataset: try CAOMFields.dataset(row), mission: try row.string(.obsCollection),
                subgroup: try row.string(.productSubGroupDescription), stated: try CAOMFields.stated(row),
                productType: try row.string(.productType),
                recommended: try row.string(.productGroupDescription).map(Product.namesRecommendedSet) ?? false,
                access: try row.access(.dataRights), project: try row.string(.project),
                instrument: try row.string(.instrumentName)?.trimmingSpaces(), filters: try row.string(.filters)?.trimmingSpaces()
            )
            let category = fields.category(CAOMFields.Derived(suffix: nil, level: nil, jwst: false, guideStar: false))
            return Context(fields: fields, details: details != nil ? Catalog.details(row) : nil, category: category)
        } catch {
            return nil
        }
    }

    /// Whether the row's key is `key` (``makeKey(_:bytes:)``), compared where the row's members are.
    private static func matches(_ key: [UInt8], _ slots: [RowSlot], _ bytes: UnsafeBufferPointer<UInt8>, _ fields: [RowField]) -> Bool {
        key.withUnsafeBufferPointer { k in
            slots.withUnsafeBufferPointer { slots in
                var at = 0
                for field in fields {
                    let slot = slots[field.rawValue]
                    guard at < k.count, k[at] == slot.kind.rawValue else { return false }
                    at += 1
                    guard slot.kind != .absent else { continue }
                    let count = slot.end - slot.start
                    guard at + 4 + count <= k.count,
                          Int(k[at]) | Int(k[at + 1]) << 8 | Int(k[at + 2]) << 16 | Int(k[at + 3]) << 24 == count,
                          memcmp(k.baseAddress! + at + 4, bytes.baseAddress! + slot.start, count) == 0 else { return false }
                    at += 4 + count
                }
                return at == k.count
            }
        }
    }

    /// Whether a string member's text is its bytes between the quotes: no escapes, not empty, nothing
    /// that trimming would take off.
    @inline(__always)
    private static func isPlainText(_ slot: RowSlot, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard slot.plain, slot.end - slot.start > 2 else { return false }
        let first = bytes[slot.start + 1]
        let last = bytes[slot.end - 2]
        return first != 0x20 && first != 0x09 && first != 0x0A && first != 0x0D
            && last != 0x20 && last != 0x09 && last != 0x0A && last != 0x0D
    }

    /// Calls `body` with a string member's text: `text` when given, else its bytes in the document.
    @inline(__always)
    private static func withText<R>(
        _ slot: RowSlot, _ text: String?, _ bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> R
    ) -> R {
        if var text { return text.withUTF8(body) }
        return body(UnsafeBufferPointer(rebasing: bytes[(slot.start + 1)..<(slot.end - 1)]))
    }
}
