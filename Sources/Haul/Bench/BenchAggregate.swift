/// Adds fetches into a ``BenchReport``, as they end.
struct BenchAggregate {
    var report: BenchReport
    private var hostIndex: [String: Int] = [:]

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
        switch result.status {
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
            report.errors[fetch.lastFailure ?? FailureKind.hostUnreachable, default: 0] += 1
        case .cancelled:
            report.cancelled += 1
        }
    }
}
