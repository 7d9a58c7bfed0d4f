import Foundation

// CAOM rows of a JSON list go into a plan's rows without a `Product` each: at ten million rows, making
// the product (a dozen strings), judging it and dropping it again was half of `haul plan`'s time.
//
// Each member the mapping reads but the URI, the file name and the size is one of few values, or the
// same as the row before's: a dataset's rows follow each other, and a list has a handful of levels,
// subgroups, product types and access rights. So what the mapping makes of a group of members (the
// dataset of `obs_id`, `obsID` and `parent_obsid`; the suffix and guide-star mark of a subgroup; …) is
// kept by the bytes the members have in the document (``Group``), and read again only for bytes not
// seen lately. What the file name adds (its suffix when the subgroup gives none, JWST by name, the
// guide-star mark) is read from the name's bytes, through the functions the mapping uses
// (``CAOMFields/derived(subgroupSuffix:subgroupGuideStar:missionIsJWST:stated:namesJWST:guideStarMark:nameSuffix:)``).
//
// The selection's verdict on a product, and what it adds to the values `checkValues` needs, depend
// only on the fields the selection reads (``Selection/Rules/reads``): a product is judged, by the code
// that judges every product (``Selection/Rules``, ``Selection/Vocabulary``), for the first row of
// each combination of those, and the verdict is kept for the rows that have it too. A selection that
// reads each row's own URI, file name or size (a regex, `--extension`, `--pipeline-inputs`, `--where`
// on those) gets a product made for every row, from the groups' values, and judged as any.
//
// Anything else goes back to the caller, which maps the row as any other (``Catalog/caomProduct(_:)``,
// ``PlanRows/append(_:)``): a value the mapping would refuse (and the error it gives). Both ways give
// the same rows, which tests hold equal on lists of many shapes.

extension PlanRows {
    /// Whether a JSON list's CAOM rows are read straight into the rows (else each through its product,
    /// as any other row): tests read lists both ways, to hold them equal.
    @TaskLocal static var readsCAOMDirectly = true

    /// What a group of members gives, by their bytes: the last row's, then a small cache of those seen
    /// lately (by a hash of the bytes, one entry a slot). A value's number (``Entry/id``) is never given
    /// to another value, so keys made of numbers (the verdicts', the shared fields') stay right as the
    /// cache forgets values and makes them again.
    struct Group<Value> {
        struct Entry {
            var id: Int
            var value: Value
        }

        let fields: [RowField]
        /// The slot of the last row's value, or -1: the cache's entry, not a copy of it (copying the
        /// key and the value at every change of value was a retain and a release of each).
        private var last = -1
        /// The cache: `slots` entries (a power of two).
        private var keys: [[UInt8]]
        private var entries: [Entry?]
        private var nextID = 1

        init(_ fields: [RowField], slots: Int = 64) {
            self.fields = fields
            keys = [[UInt8]](repeating: [], count: slots)
            entries = [Entry?](repeating: nil, count: slots)
        }

        /// The value of the row's members (``RowSlot``s noted in `bytes`); `make`'s when their bytes are
        /// not known, `nil` when `make` gives none (the mapping refuses them).
        @inline(__always)
        mutating func value(_ slots: UnsafeBufferPointer<RowSlot>, _ bytes: UnsafeBufferPointer<UInt8>, make: () -> Value?) -> Entry? {
            if last >= 0, PlanRows.matches(keys[last], slots, bytes, fields) { return entries[last] }
            return lookUp(slots, bytes, make: make)
        }

        /// A value is looked for in two slots, its hash's and the next: two values of the few a group has
        /// (the subgroups of a list) that share a slot would otherwise each put the other out, and be
        /// made again, row after row.
        private mutating func lookUp(_ slots: UnsafeBufferPointer<RowSlot>, _ bytes: UnsafeBufferPointer<UInt8>, make: () -> Value?) -> Entry? {
            let home = PlanRows.hash(slots, bytes, fields) & (entries.count - 1)
            let other = (home + 1) & (entries.count - 1)
            if entries[home] != nil, PlanRows.matches(keys[home], slots, bytes, fields) {
                last = home
                return entries[home]
            }
            if entries[other] != nil, PlanRows.matches(keys[other], slots, bytes, fields) {
                last = other
                return entries[other]
            }
            guard let value = make() else { return nil }
            let entry = Entry(id: nextID, value: value)
            // An empty slot of the two, else each in turn.
            let slot = entries[home] == nil ? home : entries[other] == nil ? other : nextID & 1 == 0 ? home : other
            nextID += 1
            keys[slot] = PlanRows.key(slots, bytes, fields)
            entries[slot] = entry
            last = slot
            return entry
        }
    }

    /// The dataset, whether it is unsafe as a folder name, and a quick hash of it (``Shared/hash(_:)``).
    struct Dataset {
        var name: String
        var unsafe: Bool
        var hash: UInt64
    }

    /// The subgroup and what the mapping makes of it.
    struct Subgroup {
        var text: String?
        var suffix: String?
        var guideStar: Bool
    }

    /// The fields a selection reads (``Selection/Rules/reads``) of a product, those it does not read left
    /// out: the products that have the same get the same verdict.
    struct VerdictKey: Equatable {
        var guideStar = false
        var recommended = false
        var exclusive = false
        var level: String?
        var category: String?
        var suffix: String?
        /// Numbers of values (``Group/Entry/id``).
        var productType = 0
        var dataset = 0
        var mission = 0
        var instrument = 0
        var filters = 0
        var details = 0

        /// Its slot in a cache of `count` (a power of two).
        func slot(_ count: Int) -> Int {
            var h = UInt64(guideStar ? 1 : 0) | UInt64(recommended ? 2 : 0) | UInt64(exclusive ? 4 : 0)
            @inline(__always) func mix(_ v: UInt64) { h = (h ^ v) &* 0xFF51_AFD7_ED55_8CCD }
            mix(PlanRows.hint(level))
            mix(PlanRows.hint(category))
            mix(PlanRows.hint(suffix))
            mix(UInt64(truncatingIfNeeded: productType << 40 ^ dataset << 20 ^ mission))
            mix(UInt64(truncatingIfNeeded: instrument << 40 ^ filters << 20 ^ details))
            return Int(truncatingIfNeeded: h >> 32) & (count - 1)
        }
    }

    /// What the selection made of the products of a ``VerdictKey``: ``Flags/taken`` and ``Flags/kept``.
    struct Verdict {
        var key: VerdictKey
        var flags: Flags
    }

    /// The fields the shard files write of a row (its ``Shared``), as the product has them, and a hash of
    /// them made of hashes the groups made once for each value.
    struct SharedKey: Equatable {
        var dataset: String
        var level: String?
        var suffix: String?
        var instrument: String?
        var filters: String?
        var hash: UInt64

        static func == (a: SharedKey, b: SharedKey) -> Bool {
            a.hash == b.hash && a.dataset == b.dataset && a.level == b.level && a.suffix == b.suffix
                && a.instrument == b.instrument && a.filters == b.filters
        }

        /// Its slot in a cache of `count` (a power of two).
        func slot(_ count: Int) -> Int { Int(truncatingIfNeeded: hash >> 32) & (count - 1) }
    }

    /// A string value of a group, with a quick hash of it (``Shared/hash(_:)``).
    struct Text {
        var text: String?
        var hash: UInt64

        init(_ text: String?) {
            self.text = text
            hash = text.map(Shared.hash) ?? 0x51
        }
    }

    /// One reader's state for ``appendCAOM(_:parser:details:)``.
    struct CAOMReading {
        // Datasets: thousands in a list, and a list that repeats rows (30% of the benchmark's, in no
        // order) comes back to them.
        var dataset = Group<Dataset>([.obsId, .obsID, .parentObsid], slots: 4096)
        var mission = Group<String?>([.obsCollection])
        var subgroup = Group<Subgroup>([.productSubGroupDescription])
        var stated = Group<String?>([.calibLevel])
        var productType = Group<String?>([.productType])
        var recommended = Group<Bool>([.productGroupDescription])
        var access = Group<Product.Access>([.dataRights])
        var project = Group<String?>([.project])
        var instrument = Group<Text>([.instrumentName])
        var filters = Group<Text>([.filters])
        var details = Group<Product.Details?>([.description, .project, .proposalID, .dataproductType])
        // Small caches, one entry a slot by a hash of the key: forgetting costs only the making again.
        /// HST categories, by the numbers of the calib level, product type and project they are made of.
        var categories = [(key: SIMD3<Int>, category: String?)?](repeating: nil, count: 64)
        /// Verdicts, the last one first.
        var verdicts = [Verdict?](repeating: nil, count: 256)
        var lastVerdict: Verdict?
        /// The shared fields' indices in the chunk last written to, the last one first.
        var sharedIn: ObjectIdentifier?
        var shared = [(key: SharedKey, index: Int)?](repeating: nil, count: 8192)
        var lastShared: (key: SharedKey, index: Int)?
    }

    /// Adds the CAOM row whose members `slots` note (``JSONReader/Parser/readRow(depth:into:)``), as
    /// `append(Catalog.caomProduct(row))` adds it. `false`, having added nothing, for a row to be mapped
    /// as any other: one the mapping would refuse.
    ///
    /// - Parameters:
    ///   - parser: The reader's parser (its bytes, and its shared strings for values made).
    ///   - details: The reader's details table when ``Product/Details`` are kept.
    func appendCAOM(_ slots: [RowSlot], parser: inout JSONReader.Parser, details: DetailsTable?) -> Bool {
        slots.withUnsafeBufferPointer { slots in appendCAOM(slots, parser: &parser, details: details) }
    }

    private func appendCAOM(_ slots: UnsafeBufferPointer<RowSlot>, parser: inout JSONReader.Parser, details: DetailsTable?) -> Bool {
        let bytes = parser.bytes
        // The groups' values, each made by the mapping's own accessor from the members' values (in
        // `caomValues`, not in `caom`, a group of which is being written meanwhile).
        func read<T>(_ fields: [RowField], _ body: (JSONRow) throws -> T) -> T? {
            parser.caomValue(fields, slots: slots, values: &caomValues, details: details, body)
        }
        guard let dataset = caom.dataset.value(slots, bytes, make: {
                  read([.obsId, .obsID, .parentObsid]) { row in
                      let name = try CAOMFields.dataset(row)
                      return Dataset(name: name, unsafe: SafePath.problem(in: name, what: "dataset") != nil, hash: Shared.hash(name))
                  }
              }),
              let mission = caom.mission.value(slots, bytes, make: { read([.obsCollection]) { try $0.string(.obsCollection) } }),
              let subgroup = caom.subgroup.value(slots, bytes, make: {
                  read([.productSubGroupDescription]) { row in
                      let text = try row.string(.productSubGroupDescription)
                      return Subgroup(text: text, suffix: Product.normaliseSuffix(text), guideStar: CAOMFields.subgroupGuideStar(text))
                  }
              }),
              let stated = caom.stated.value(slots, bytes, make: { read([.calibLevel]) { try CAOMFields.stated($0) } }),
              let productType = caom.productType.value(slots, bytes, make: { read([.productType]) { try $0.string(.productType) } }),
              let recommended = caom.recommended.value(slots, bytes, make: {
                  read([.productGroupDescription]) { try $0.string(.productGroupDescription).map(Product.namesRecommendedSet) ?? false }
              }),
              let access = caom.access.value(slots, bytes, make: { read([.dataRights]) { try $0.access(.dataRights) } }),
              // The mapping reads `project` of HST rows only: a JWST row's that it would refuse is left to it.
              let project = caom.project.value(slots, bytes, make: { read([.project]) { try $0.string(.project) } }),
              let instrument = caom.instrument.value(slots, bytes, make: {
                  read([.instrumentName]) { Text(try $0.string(.instrumentName)?.trimmingSpaces()) }
              }),
              let filters = caom.filters.value(slots, bytes, make: { read([.filters]) { Text(try $0.string(.filters)?.trimmingSpaces()) } })
        else { return false }
        var detailsEntry: Group<Product.Details?>.Entry?
        if details != nil {
            detailsEntry = caom.details.value(slots, bytes, make: { read([.description, .project, .proposalID, .dataproductType]) { Catalog.details($0) } })
        }

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
            if nameFromURI {
                // `Catalog.lastPathComponent`: after the last "/" Character, which in plain ASCII is the last "/" byte.
                if uri.contains(where: { $0 >= 0x80 || $0 == 0x0D }) {
                    let part = Catalog.lastPathComponent(String(decoding: uri, as: UTF8.self))
                    guard !part.isEmpty else { return false }
                    nameText = part
                } else {
                    guard uri.last != UInt8(ascii: "/") else { return false }
                }
            }
            let row = Parts(
                dataset: dataset, mission: mission, subgroup: subgroup, stated: stated, productType: productType,
                recommended: recommended.value, access: access.value, project: project, instrument: instrument, filters: filters,
                details: detailsEntry, uri: uri, size: size
            )
            if var text = nameText { return text.withUTF8 { append(row, name: $0) } }
            if nameFromURI { return append(row, name: Self.lastPart(uri)) }
            return append(row, name: UnsafeBufferPointer(rebasing: bytes[(nameSlot.start + 1)..<(nameSlot.end - 1)]))
        }
    }

    /// A row's values: the groups', its URI and size.
    private struct Parts {
        var dataset: Group<Dataset>.Entry
        var mission: Group<String?>.Entry
        var subgroup: Group<Subgroup>.Entry
        var stated: Group<String?>.Entry
        var productType: Group<String?>.Entry
        var recommended: Bool
        var access: Product.Access
        var project: Group<String?>.Entry
        var instrument: Group<Text>.Entry
        var filters: Group<Text>.Entry
        var details: Group<Product.Details?>.Entry?
        var uri: UnsafeBufferPointer<UInt8>
        var size: Int64?
    }

    /// The row, its values read and its file name known.
    private func append(_ row: Parts, name: UnsafeBufferPointer<UInt8>) -> Bool {
        // What the file name adds, from its bytes when they are plain ASCII (where bytes are Characters).
        let stated = row.stated.value
        let missionIsJWST = CAOMFields.missionIsJWST(row.mission.value)
        let derived: CAOMFields.Derived
        if !name.contains(where: { $0 >= 0x80 || $0 == 0x0D }) {
            derived = CAOMFields.derived(
                subgroupSuffix: row.subgroup.value.suffix, subgroupGuideStar: row.subgroup.value.guideStar, missionIsJWST: missionIsJWST,
                stated: stated, namesJWST: Product.namesJWST(ascii: name), guideStarMark: Product.hasGuideStarMark(name),
                nameSuffix: { Product.suffix(ofASCIIName: name)! }
            )
        } else {
            let filename = String(decoding: name, as: UTF8.self)
            var text = filename
            derived = CAOMFields.derived(
                subgroupSuffix: row.subgroup.value.suffix, subgroupGuideStar: row.subgroup.value.guideStar, missionIsJWST: missionIsJWST,
                stated: stated, namesJWST: Product.namesJWST(filename), guideStarMark: text.withUTF8(Product.hasGuideStarMark),
                nameSuffix: { Product.suffix(ofFilename: filename) }
            )
        }
        // The HST category (none for JWST), by the numbers of what it is made of.
        var category: String?
        if !derived.jwst {
            let key = SIMD3(row.stated.id, row.productType.id, row.project.id)
            let mixed = UInt64(truncatingIfNeeded: key.x &* 31 &+ key.y &* 1009 &+ key.z) &* 0x9E37_79B9_7F4A_7C15
            let slot = Int(truncatingIfNeeded: mixed >> 58)
            if let known = caom.categories[slot], known.key == key {
                category = known.category
            } else {
                category = CAOMFields.category(stated: stated, productType: row.productType.value, project: row.project.value)
                caom.categories[slot] = (key, category)
            }
        }
        func product() -> Product {
            CAOMFields.product(
                uri: String(decoding: row.uri, as: UTF8.self), filename: String(decoding: name, as: UTF8.self), size: row.size,
                derived, category: category, dataset: row.dataset.value.name, mission: row.mission.value,
                productType: row.productType.value, recommended: row.recommended, access: row.access,
                instrument: row.instrument.value.text, filters: row.filters.value.text, details: row.details?.value ?? nil
            )
        }
        directRows += 1
        if readsEachName {
            // The selection reads this row's own name, URI or size: judged alone.
            append(product())
            return true
        }
        var flags: Flags = []
        if row.access == .exclusive { flags.insert(.exclusive) }
        if derived.guideStar { flags.insert(.guideStar) }
        if row.dataset.value.unsafe { flags.insert(.unsafeDataset) }
        // The verdict: the selection's on the first product with the fields it reads.
        let reads = rules.reads
        var key = VerdictKey(guideStar: derived.guideStar)
        if reads.contains(.recommended) { key.recommended = row.recommended }
        if reads.contains(.access) { key.exclusive = row.access == .exclusive }
        if reads.contains(.level) { key.level = derived.level }
        if reads.contains(.category) { key.category = category }
        if reads.contains(.suffix) { key.suffix = derived.suffix }
        if reads.contains(.productType) { key.productType = row.productType.id }
        if reads.contains(.dataset) { key.dataset = row.dataset.id }
        if reads.contains(.mission) { key.mission = row.mission.id }
        if reads.contains(.instrument) { key.instrument = row.instrument.id }
        if reads.contains(.filters) { key.filters = row.filters.id }
        if reads.contains(.details) { key.details = row.details?.id ?? 0 }
        var made: Product?
        if let last = caom.lastVerdict, last.key == key {
            flags.formUnion(last.flags)
            vocabulary.addSame()
        } else {
            let slot = key.slot(caom.verdicts.count)
            if let known = caom.verdicts[slot], known.key == key {
                caom.lastVerdict = known
                flags.formUnion(known.flags)
                vocabulary.addSame()
            } else {
                let p = product()
                made = p
                vocabulary.add(p)
                var verdict: Flags = []
                if rules.takes(p) { verdict.insert(.taken) }
                if rules.keeps(p) { verdict.insert(.kept) }
                caom.verdicts[slot] = Verdict(key: key, flags: verdict)
                caom.lastVerdict = caom.verdicts[slot]
                flags.formUnion(verdict)
            }
        }
        if derived.guideStar, guideStarRule { noteGuideStar(made ?? product()) }
        if !SafePath.isPlainSafe(bytes: name), SafePath.problem(in: String(decoding: name, as: UTF8.self), what: "file name") != nil {
            flags.insert(.unsafeName)
        }
        var sharedHash = row.dataset.value.hash &* 0x9E37_79B9_7F4A_7C15
        sharedHash = (sharedHash ^ PlanRows.hint(derived.level)) &* 0xFF51_AFD7_ED55_8CCD
        sharedHash = (sharedHash ^ PlanRows.hint(derived.suffix)) &* 0xFF51_AFD7_ED55_8CCD
        sharedHash = (sharedHash ^ row.instrument.value.hash) &* 0xFF51_AFD7_ED55_8CCD
        sharedHash = (sharedHash ^ row.filters.value.hash) &* 0xFF51_AFD7_ED55_8CCD
        let sharedKey = SharedKey(
            dataset: row.dataset.value.name, level: derived.level, suffix: derived.suffix, instrument: row.instrument.value.text,
            filters: row.filters.value.text, hash: sharedHash ^ sharedHash >> 29
        )
        store(flags, uri: row.uri, name: name, size: row.size) { chunk in
            let id = ObjectIdentifier(chunk)
            if caom.sharedIn != id {
                caom.sharedIn = id
                for i in caom.shared.indices { caom.shared[i] = nil }
                caom.lastShared = nil
            }
            if let last = caom.lastShared, last.key == sharedKey { return last.index }
            let slot = sharedKey.slot(caom.shared.count)
            let index: Int
            if let known = caom.shared[slot], known.key == sharedKey {
                index = known.index
            } else {
                // Not seen lately in this chunk: added as it is. Looking it up in the chunk's table
                // mostly found nothing in a list of small observations, whose every row has its own
                // (dataset, suffix); a list whose rows share a few thousand finds them in the cache.
                index = chunk.shared.count
                chunk.shared.append(Shared(
                    product: row.dataset.value.name, level: derived.level, suffix: derived.suffix,
                    instrument: row.instrument.value.text, filters: row.filters.value.text
                ))
                caom.shared[slot] = (sharedKey, index)
            }
            caom.lastShared = (sharedKey, index)
            return index
        }
        return true
    }

    /// Whether the row's key is `key` (``key(_:_:_:)``), compared where the row's members are.
    @inline(__always)
    static func matches(_ key: [UInt8], _ slots: UnsafeBufferPointer<RowSlot>, _ bytes: UnsafeBufferPointer<UInt8>, _ fields: [RowField]) -> Bool {
        key.withUnsafeBufferPointer { k in
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

    /// A hash of the members `fields` of a row: of each one's kind and bytes.
    @inline(__always)
    static func hash(_ slots: UnsafeBufferPointer<RowSlot>, _ bytes: UnsafeBufferPointer<UInt8>, _ fields: [RowField]) -> Int {
        var h = ByteHash.seed
        for field in fields {
            let slot = slots[field.rawValue]
            h = (h ^ UInt64(slot.kind.rawValue)) &* 0xFF51_AFD7_ED55_8CCD
            guard slot.kind != .absent else { continue }
            h = ByteHash.mix(h, bytes.baseAddress.map { UnsafeRawPointer($0 + slot.start) }, slot.end - slot.start)
        }
        return Int(truncatingIfNeeded: h ^ h >> 29)
    }

    /// A short summary of a string, for hashes that are only hints (``SharedKey``, ``VerdictKey``): its
    /// length and its first and last bytes.
    @inline(__always)
    static func hint(_ text: String?) -> UInt64 {
        guard let text else { return 0x51 }
        let bytes = text.utf8
        return UInt64(bytes.count) | UInt64(bytes.first ?? 0) << 16 | UInt64(bytes.last ?? 0) << 24
    }

    /// The key of the members `fields` of a row: each one's kind, and its length and bytes.
    static func key(_ slots: UnsafeBufferPointer<RowSlot>, _ bytes: UnsafeBufferPointer<UInt8>, _ fields: [RowField]) -> [UInt8] {
        var key: [UInt8] = []
        for field in fields {
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
        return key
    }

    /// Whether a string member's text is its bytes between the quotes: no escapes, not empty, nothing
    /// that trimming would take off.
    @inline(__always)
    static func isPlainText(_ slot: RowSlot, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard slot.plain, slot.end - slot.start > 2 else { return false }
        let first = bytes[slot.start + 1]
        let last = bytes[slot.end - 2]
        return first != 0x20 && first != 0x09 && first != 0x0A && first != 0x0D
            && last != 0x20 && last != 0x09 && last != 0x0A && last != 0x0D
    }

    /// Calls `body` with a string member's text: `text` when given, else its bytes in the document.
    @inline(__always)
    static func withText<R>(
        _ slot: RowSlot, _ text: String?, _ bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> R
    ) -> R {
        if var text { return text.withUTF8(body) }
        return body(UnsafeBufferPointer(rebasing: bytes[(slot.start + 1)..<(slot.end - 1)]))
    }
}
