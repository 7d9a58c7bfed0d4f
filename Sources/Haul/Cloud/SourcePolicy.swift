/// Where a download fetches MAST's public products from: the archive, or the copy MAST keeps in a
/// public bucket on AWS (``CloudBucket``).
package enum SourcePolicy: String, Sendable, CaseIterable {
    /// Every product from the archive (what Haul did before it knew the bucket).
    case archive
    /// Public products from the bucket only, as astroquery's `cloud_only=True`: a product the bucket
    /// does not have (or will not serve) fails with the reason instead of coming from the archive;
    /// exclusive-access products still come from the archive, which alone holds them.
    case cloud
    /// Public products from the bucket, and from the archive each one the bucket cannot give (not in
    /// it, refused, retries spent), with the reason in the manifest; exclusive-access products from the archive.
    case auto

    /// The policy when none is asked for: `auto` against MAST itself, whose public products the
    /// bucket copies (the transfers leave MAST, as astroquery now does by default); `archive` against any other archive (a
    /// mirror, a test server), whose files the bucket is not a copy of.
    ///
    /// - Parameter archive: The archive's base URL (``URLResolver/archive``).
    package static func defaultPolicy(archive: String) -> SourcePolicy {
        let lower = archive.lowercased()
        return lower == URLResolver.defaultArchive || lower == "http://mast.stsci.edu" ? .auto : .archive
    }
}
