extension Engine {
    /// Where MAST's public bucket keeps some of a plan's products: one path lookup per 40 `mast:` URIs
    /// at the plan's archive (eight at a time), as a download makes them; `s3://` URLs are their own.
    /// Exclusive-access products are never looked up: they come from the archive alone.
    ///
    /// - Parameters:
    ///   - plan: The plan; its ``Plan/resolver`` names the archive and the bucket's address.
    ///   - entries: Indices of the entries to locate (each URI is asked about once).
    /// - Returns: Each entry's location.
    package func cloudLocations(_ plan: Plan, entries: [Int]) async -> [Int: CloudLocation] {
        var result: [Int: CloudLocation] = [:]
        var asked: [Int] = []
        for index in entries {
            let product = plan.entries[index].product
            if URLResolver.isS3(product.uri) {
                result[index] = .url(plan.resolver.url(for: product.uri))
            } else if product.access == .exclusive {
                result[index] = .absent("exclusive access: from the archive only")
            } else if product.uri.utf8.count > 5, product.uri.prefix(5).lowercased() == "mast:" {
                asked.append(index)
            } else {
                result[index] = .absent("not a mast: product")
            }
        }
        guard !asked.isEmpty else { return result }
        let url = plan.resolver.archive + "/api/v0.1/path_lookup/"
        let headers = RequestHeaders(url: url, configuration: configuration)
        let lookup = PathLookup(engine: self, uris: asked.map { plan.entries[$0].product.uri }, archive: plan.resolver.archive,
                                headers: headers.everywhere + headers.originBound)
        async let running: Void = lookup.run()
        for index in asked {
            switch await lookup.answer(for: plan.entries[index].product.uri) {
            case .found(let key): result[index] = .url(plan.resolver.bucket.url(key: key))
            case .missing(let why): result[index] = .absent("not in the cloud (\(why))")
            case .failed(let why): result[index] = .absent(why)
            }
        }
        lookup.finish()
        await running
        return result
    }
}
