/// Adds fetches into a ``BenchReport``, as they end.
struct BenchAggregate {
    var report: BenchReport
    private var hostIndex: [String: Int] = [:]
    /// The CRC-32 of each URL's first complete body (with `--crc`): a later body that differs is an error.
    private var crcs: [String: UInt32] = [:]

    init(report: BenchReport) {
        self.report = report
    }

    mutating func add(_ fetch: BenchFetch) {
        let key = HostHealth.key(fetch.target.url) ?? fetch.target.url
        let h: Int
        if let known = hostIndex[key] {
            h = known
        } else {
            h = report.hosts.count
            hostIndex[key] = h
            report.hosts.append(HostReport(host: key))
        }
        let result = fetch.result
        report.requests += 1
        report.hosts[h].requests += 1
        report.connectionsOpened += fetch.connectionsOpened
        report.connectionsReused += fetch.connectionsReused
        report.hosts[h].connectionsOpened += fetch.connectionsOpened
        report.hosts[h].connectionsReused += fetch.connectionsReused
        report.hosts[h].bytes += fetch.received
        for kind in fetch.retried { report.retries[kind, default: 0] += 1 }
        report.hosts[h].retries += fetch.retried.count
        if report.uncorrected != nil, fetch.intended.duration(to: fetch.started) > .milliseconds(1) { report.lateStarts += 1 }
        if result.httpStatus != 0 { report.statuses[result.httpStatus, default: 0] += 1 }
        var status = result.status
        if status == .ok, let crc = fetch.crc {
            // The same URL must give the same bytes every time: a mirror or cache that serves two
            // versions of one file (a length-preserving change no length check sees) is an error.
            if let first = crcs[fetch.target.url], first != crc {
                status = .failed(FileFailure(.changedOnArchive, FailureKind.contentDiffers))
            } else if crcs[fetch.target.url] == nil {
                crcs[fetch.target.url] = crc
            }
        }
        switch status {
        case .ok, .notModified:
            report.ok += 1
            report.hosts[h].ok += 1
            let total = fetch.intended.duration(to: fetch.ended).seconds
            report.total.record(seconds: total)
            report.hosts[h].total.record(seconds: total)
            if let first = fetch.firstByte {
                let ttfb = fetch.intended.duration(to: first).seconds
                report.ttfb.record(seconds: ttfb)
                report.hosts[h].ttfb.record(seconds: ttfb)
            }
            if report.uncorrected != nil {
                report.uncorrected!.total.record(seconds: fetch.started.duration(to: fetch.ended).seconds)
                if let first = fetch.firstByte { report.uncorrected!.ttfb.record(seconds: fetch.started.duration(to: first).seconds) }
            }
        case .failed:
            report.failed += 1
            report.hosts[h].failed += 1
            let kind = result.status == .ok ? FailureKind.contentDiffers : fetch.lastFailure ?? FailureKind.hostUnreachable
            report.errors[kind, default: 0] += 1
        case .cancelled:
            report.cancelled += 1
        }
    }
}
