/// Where one file's bytes came from: the manifest's `Source` column.
package enum FileSource: String, Sendable, Hashable {
    /// The public bucket (``CloudBucket``): looked up, or an `s3://` URL.
    case cloud
    /// The archive (or the plain URL the catalog named).
    case archive
}
