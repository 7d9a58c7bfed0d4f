/// Where MAST's public bucket has one product, as a path lookup says (astroquery's `get_cloud_uris`).
package enum CloudLocation: Sendable, Hashable {
    /// The object's URL (``CloudBucket/url(key:)``, or the `s3://` URL's mapping).
    case url(String)
    /// Not in the bucket, or not asked about: why.
    case absent(String)

    /// The URL, when there is one.
    package var url: String? {
        if case .url(let url) = self { return url }
        return nil
    }
}
