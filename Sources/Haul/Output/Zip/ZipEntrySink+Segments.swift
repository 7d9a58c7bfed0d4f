import CHaulSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A big stored entry takes its product in segments: in a ZIP file written straight into its region,
/// in a streamed ZIP into its spool file (at the same offsets), which is appended whole as any spooled
/// entry is. A streamed bundle (`--zip -`, a served one) then gets a capped archive's big files over
/// several connections too.
extension ZipEntrySink: SegmentableSink {
    /// Only a stored entry bigger than its in-memory share (it would be placed or spooled anyway).
    func acceptsSegments(size: Int64) -> Bool {
        initialModeIsStore && size > staging.memoryThreshold
    }

    func segmentTarget(size: Int64) throws -> (any PositionalTarget)? {
        guard initialModeIsStore, size > staging.memoryThreshold else { return nil }
        guard let placement else { return try spoolTarget(size: size) }
        let region = withShared { s -> ZipRegion? in
            guard s.region == nil, s.spool == nil, s.memory.isEmpty else { return nil }
            let region = placement.writer.reserve(name: placement.name, size: UInt64(size), modified: placement.modified)
            s.region = region
            s.segmented = true
            return region
        }
        guard let region else { return nil }
        try regionWrites.withLock { r in
            try region.placeholder.withUnsafeBytes { try region.output.write($0, at: region.entry.offset) }
            r.headerWritten = true
        }
        return RegionTarget(region: region, staging: staging)
    }

    func segmentsDone(size: Int64, crc: UInt32?) {
        withShared { s in
            s.crc = crc ?? 0
            s.uncompressed = size
        }
    }

    func segmentsAbandoned() {}

    /// A streamed entry's segments: its spool file, made now, written at the product's offsets.
    private func spoolTarget(size: Int64) throws -> (any PositionalTarget)? {
        let spool = try withShared { s -> SpoolFile? in
            guard s.spool == nil, s.memory.isEmpty, s.submitted == 0, !s.segmented else { return nil }
            let spool = try SpoolFile(folder: staging.spoolFolder)
            s.spool = spool
            s.spoolLength = size
            s.segmented = true
            return spool
        }
        guard let spool else { return nil }
        return SpoolTarget(spool: spool, staging: staging) { [weak self] error in
            // A full disk stops the run, as a spilled entry's does.
            self?.withShared { if $0.error == nil { $0.error = error } }
        }
    }
}
