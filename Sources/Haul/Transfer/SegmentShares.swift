/// The connections that products fetched in segments at the same time share, per
/// ``Configuration/Segmentation`` (the archive's and the bucket's are counted apart).
///
/// A product counts from when it may be split (before its probe) until it has ended; once its probe
/// answered, it takes an equal part of ``Configuration/Segmentation/sharedConnections`` among the
/// products counted then, never more than what the others have left, at least one and at most
/// ``Configuration/Segmentation/maximumConnections``. Products started together (a plan's first
/// batch) have all been counted by the time the first probe answers, so they share evenly; one that
/// starts while others hold their parts takes what is left, and the last ones, alone, take more.
final class SegmentShares: Sendable {
    private struct Pool {
        var products = 0
        var held = 0
    }
    private let pools = Locked<[Configuration.Segmentation: Pool]>([:])

    /// One product's place among those being split; used by that product's task alone.
    final class Share: @unchecked Sendable {
        fileprivate let shares: SegmentShares
        fileprivate let segmentation: Configuration.Segmentation
        private var held = 0

        fileprivate init(shares: SegmentShares, segmentation: Configuration.Segmentation) {
            self.shares = shares
            self.segmentation = segmentation
        }

        /// The connections this product may use, of the `wanted` its size asks for (at least one).
        /// Call once.
        func take(_ wanted: Int) -> Int {
            let (segmentation, held) = (segmentation, held)
            precondition(held == 0, "a share is taken once")
            let n = shares.pools.withLock { pools -> Int in
                var pool = pools[segmentation, default: Pool()]
                // One product alone takes its maximum, however small the shared number.
                let shared = max(segmentation.sharedConnections, segmentation.maximumConnections)
                let fair = shared / max(1, pool.products)
                let left = shared - pool.held
                let n = max(1, min(wanted, fair, left))
                pool.held += n
                pools[segmentation] = pool
                return n
            }
            self.held = n
            return n
        }

        /// The product has ended: its connections go back. Call once.
        func leave() {
            let (segmentation, held) = (segmentation, held)
            shares.pools.withLock { pools in
                guard var pool = pools[segmentation] else { return }
                pool.products -= 1
                pool.held -= held
                pools[segmentation] = pool.products == 0 ? nil : pool
            }
        }
    }

    /// Counts a product among those being split, until its ``Share/leave()``.
    func enter(_ segmentation: Configuration.Segmentation) -> Share {
        pools.withLock { $0[segmentation, default: Pool()].products += 1 }
        return Share(shares: self, segmentation: segmentation)
    }
}
