/// The spool file of a streamed ZIP entry as segments see it.
final class SpoolTarget: PositionalTarget, @unchecked Sendable {
    let spool: SpoolFile
    let blocks: SegmentBlocks
    private let failed: @Sendable (HaulError) -> Void

    init(spool: SpoolFile, staging: ZipStaging, failed: @escaping @Sendable (HaulError) -> Void) {
        self.spool = spool
        blocks = SegmentBlocks(staging)
        self.failed = failed
    }

    func write(_ bytes: UnsafeRawBufferPointer, productOffset offset: Int64) throws {
        do {
            try FileIO.pwriteAll(spool.fd, bytes, at: offset, what: "a spool file in \(spool.folder)")
        } catch let error as HaulError {
            failed(error)
            throw error
        }
    }
}
