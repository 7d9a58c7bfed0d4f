import CCurl
import Dispatch

extension Configuration {
    /// When one big product is fetched over several connections at once.
    ///
    /// Archives cap each connection's rate; a product of several GB then takes minutes on one. A product
    /// whose catalog size is at least ``threshold`` is first probed with a one-byte range; when the server
    /// answers 206, the product is split into segments of at least ``minimumSegment`` bytes, at most
    /// ``maximumConnections`` of them (and no more than ``Configuration/perHost``), each fetched, retried
    /// and resumed on its own and written at its offsets. The products split at the same time share
    /// ``sharedConnections`` (``SegmentShares``): two big files take 16 connections each, eight take 4.
    package struct Segmentation: Sendable, Hashable {
        /// Products smaller than this are fetched in one request. A product of unknown size is asked for
        /// whole; when its answer states a length this big, it is fetched in segments instead.
        package var threshold: Int64 = 64 << 20
        package var minimumSegment: Int64 = 16 << 20
        package var maximumConnections = 16
        /// The connections that the products being split at the same time share, each taking an equal
        /// part (at least one, at most ``maximumConnections``; one product alone takes its maximum).
        /// Every connection costs CPU for what it receives, so when many big products run at once, 16
        /// each would cost more than they bring: 8 × 256 MiB from one nginx on two cores took 2.24 s of
        /// CPU with 16 connections a file and 2.00 s with 4 (wget2, one a file: 1.47 s). A server that
        /// caps each connection still gets 16 for each of two big files.
        package var sharedConnections = 32

        package init(threshold: Int64 = 64 << 20, minimumSegment: Int64 = 16 << 20, maximumConnections: Int = 16, sharedConnections: Int = 32) {
            self.threshold = threshold
            self.minimumSegment = minimumSegment
            self.maximumConnections = maximumConnections
            self.sharedConnections = sharedConnections
        }

        /// No segments: every product in one request.
        package static let off = Segmentation(threshold: .max, minimumSegment: .max, maximumConnections: 1)

        /// How many segments a product of `size` bytes gets, given the per-host limit.
        func count(size: Int64, perHost: Int?) -> Int {
            guard size >= threshold, minimumSegment > 0 else { return 1 }
            let bySize = Int(min(Int64(maximumConnections), size / minimumSegment))
            return max(1, min(bySize, perHost ?? .max, maximumConnections))
        }
    }
}

extension Engine {
    /// Fetches a big product as segments over several connections when the server serves ranges
    /// (``Configuration/Segmentation``); otherwise, and for every other product, as ``fetch(url:expectedSize:headers:into:counter:)``.
    ///
    /// Each segment is retried alone, resuming from the byte it reached; the product succeeds when
    /// every segment did, and the sink then holds it whole (with its CRC-32, combined from the
    /// segments', when it needs one).
    ///   - segmentation: How this product is split (``Configuration/cloudSegmentation`` for the bucket);
    ///     `nil` for ``Configuration/segmentation``.
    package func fetchSegmented(
        url: String, expectedSize: Int64?, headers: [String] = [], originHeaders: [String] = [],
        into sink: any TransferSink, counter: ByteCounter? = nil, segmentation: Configuration.Segmentation? = nil
    ) async -> FetchResult {
        let segmentation = segmentation ?? configuration.segmentation
        let plain = { await self.fetch(url: url, expectedSize: expectedSize, headers: headers, originHeaders: originHeaders, into: sink, counter: counter) }
        if expectedSize == nil, let segmentable = sink as? any SegmentableSink, segmentation.threshold < .max {
            return await fetchLearningSize(url: url, headers: headers, originHeaders: originHeaders, into: segmentable, counter: counter, segmentation: segmentation)
        }
        let wanted = expectedSize.map { segmentation.count(size: $0, perHost: configuration.perHost) } ?? 1
        guard let size = expectedSize, let segmentable = sink as? any SegmentableSink, wanted > 1,
              segmentable.acceptsSegments(size: size) else { return await plain() }
        // Counted among the products being split from now on (before the probe, so that products
        // started together all count when the first of them is split), until it has ended.
        let share = segmentShares.enter(segmentation)
        defer { share.leave() }
        let started = ContinuousClock.now
        // Does the server serve ranges? One byte tells, and its validator keeps the segments on one version.
        var probeRequest = AttemptRequest(url: url, rangeStart: 0, rangeEnd: 0, expectedSize: size, headers: headers)
        probeRequest.originHeaders = originHeaders
        let probe = await attempt(probeRequest, into: ProbeSink())
        if probe.cancelled || Task.isCancelled {
            return FetchResult(status: .cancelled, attempts: 1, bytes: 0, lastModified: nil, seconds: started.duration(to: .now).seconds)
        }
        guard probe.status == 206, probe.totalLength == size, probe.curlCode == 0 else { return await plain() }
        let target: any PositionalTarget
        do {
            guard let t = try segmentable.segmentTarget(size: size) else { return await plain() }
            target = t
        } catch {
            return FetchResult(status: .failed(.writing(error)), attempts: 1, bytes: 0, lastModified: nil, seconds: started.duration(to: .now).seconds)
        }
        let count = share.take(wanted)
        if count == 1 { return await plain() }
        // Boundaries on whole blocks, so each segment's blocks are the target's.
        let block = Int64(target.blocks.size)
        let step = max(block, (size / Int64(count) + block - 1) / block * block)
        let bounds = stride(from: Int64(0), to: size, by: Int(step)).map { ($0, min(size, $0 + step)) }
        let sinks = bounds.map { SegmentSink(start: $0.0, end: $0.1, target: target) }
        let results = await withTaskGroup(of: (Int, FetchResult).self) { group in
            for (i, segment) in sinks.enumerated() {
                group.addTask {
                    (i, await self.fetchSegment(segment, url: url, size: size, validator: probe.validator, headers: headers, originHeaders: originHeaders, counter: counter))
                }
            }
            var results = [FetchResult?](repeating: nil, count: sinks.count)
            for await (i, result) in group {
                results[i] = result
                // One segment failed for good: the product has failed; stop the others.
                if case .failed = result.status { group.cancelAll() }
            }
            return results.map { $0! }
        }
        let attempts = 1 + results.reduce(0) { $0 + $1.attempts }
        let lastModified = probe.lastModified ?? results.compactMap(\.lastModified).first
        func ended(_ status: FetchResult.Status, bytes: Int64) -> FetchResult {
            FetchResult(status: status, attempts: attempts, bytes: bytes, lastModified: lastModified, seconds: started.duration(to: .now).seconds,
                        etag: probe.etag, httpStatus: results.last(where: { $0.httpStatus != 0 })?.httpStatus ?? probe.status)
        }
        var crc: UInt32 = 0
        var failure: FileFailure?
        for (i, segment) in sinks.enumerated() {
            do {
                let part = try await segment.finish()
                crc = i == 0 ? part : CRC32.combine(crc, part, lengthOfB: segment.end - segment.start)
            } catch {
                failure = failure ?? .writing(error)
            }
        }
        if let failed = results.first(where: { if case .failed = $0.status { true } else { false } }), case .failed(let reason) = failed.status {
            segmentable.segmentsAbandoned()
            return ended(.failed(reason), bytes: 0)
        }
        if let failure {
            segmentable.segmentsAbandoned()
            return ended(.failed(failure), bytes: 0)
        }
        if results.contains(where: { $0.status == .cancelled }) || Task.isCancelled {
            segmentable.segmentsAbandoned()
            return ended(.cancelled, bytes: 0)
        }
        segmentable.segmentsDone(size: size, crc: crc)
        return ended(.ok, bytes: size)
    }

    /// A product whose size no catalog states (a plain URL list): fetched in one request, unless the
    /// response's length is one that would be split. Then that request is dropped at its first chunk
    /// (before any byte is taken) and the product is fetched as if the catalog had stated the length.
    /// A small file costs nothing more than its one request; a big one, that request's headers.
    private func fetchLearningSize(
        url: String, headers: [String], originHeaders: [String], into sink: any SegmentableSink, counter: ByteCounter?,
        segmentation: Configuration.Segmentation
    ) async -> FetchResult {
        let scout = SizeScout(sink, segmentation: segmentation, perHost: configuration.perHost)
        let first = await fetch(url: url, expectedSize: nil, headers: headers, originHeaders: originHeaders, into: scout, counter: counter)
        guard let size = scout.learned, !Task.isCancelled else { return first }
        var rest = await fetchSegmented(url: url, expectedSize: size, headers: headers, originHeaders: originHeaders, into: sink, counter: counter, segmentation: segmentation)
        rest.attempts += first.attempts
        rest.seconds += first.seconds
        return rest
    }

    /// One segment, retried by the same ``RetryLoop`` as a whole product (host health included),
    /// each attempt asking for the bytes from where the segment has reached to its end.
    private func fetchSegment(
        _ segment: SegmentSink, url: String, size: Int64, validator: String?, headers: [String], originHeaders: [String], counter: ByteCounter?
    ) async -> FetchResult {
        let started = ContinuousClock.now
        var lastModified: Int64?
        var loop = RetryLoop(policy: configuration.retry, hosts: hosts, url: url)
        let status = await loop.run { _ in
            let from = segment.position
            if from >= segment.end { return (nil, .finished(.ok)) }
            var request = AttemptRequest(
                url: url, rangeStart: from, rangeEnd: segment.end - 1, ifRange: from > 0 ? validator : nil,
                expectedSize: size, headers: headers
            )
            request.originHeaders = originHeaders
            let outcome = await self.attempt(request, into: segment, counter: counter)
            if outcome.cancelled { return (outcome, .finished(.cancelled)) }
            lastModified = outcome.lastModified ?? lastModified
            let verdict: AttemptVerdict
            if outcome.curlCode == 0 && outcome.status == 206, case .none = outcome.abort {
                verdict = outcome.end == segment.end ? .success
                    : .retry(reason: FileFailure(.interrupted, "segment \(segment.start)-\(segment.end - 1) ended at byte \(outcome.end)"), retryAfter: nil)
            } else if outcome.curlCode == 0 && outcome.status == 200 {
                verdict = .fail(reason: FileFailure(.other, "the server stopped serving ranges (HTTP 200 to a segment)"))
            } else {
                verdict = AttemptVerdict(outcome, expectedSize: size)
            }
            switch verdict {
            case .success: return (outcome, .finished(.ok))
            case .fail(let reason): return (outcome, .finished(.failed(reason)))
            case .retry(let reason, let retryAfter): return (outcome, .retry(reason: reason, retryAfter: retryAfter))
            }
        }
        return FetchResult(status: status, attempts: loop.attempts, bytes: segment.position - segment.start, lastModified: lastModified,
                           seconds: started.duration(to: .now).seconds)
    }
}

/// Passes a transfer on to a sink, except when the response states a length that would be fetched in
/// segments: then it keeps that length and stops the transfer before the sink has seen it.
private final class SizeScout: TransferSink, @unchecked Sendable {
    private let sink: any SegmentableSink
    private let segmentation: Configuration.Segmentation
    private let perHost: Int?
    // Set on the engine thread in begin(), read once the fetch has returned.
    private let state = Locked<Int64?>(nil)

    init(_ sink: any SegmentableSink, segmentation: Configuration.Segmentation, perHost: Int?) {
        self.sink = sink
        self.segmentation = segmentation
        self.perHost = perHost
    }

    /// The length learned, when the product is to be fetched in segments.
    var learned: Int64? { state.withLock { $0 } }

    struct Learned: Error, CustomStringConvertible {
        var description: String { "the product is big enough to fetch in segments" }
    }

    func begin(offset: Int64, waker: SinkWaker) throws {
        try sink.begin(offset: offset, waker: waker)
    }

    func begin(offset: Int64, totalLength: Int64?, waker: SinkWaker) throws {
        if offset == 0, let total = totalLength, state.withLock({ $0 }) == nil,
           segmentation.count(size: total, perHost: perHost) > 1, sink.acceptsSegments(size: total) {
            state.withLock { $0 = total }
            throw Learned()
        }
        try sink.begin(offset: offset, totalLength: totalLength, waker: waker)
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> SinkWrite { sink.write(bytes) }
}
