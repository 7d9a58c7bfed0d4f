import CZlib

extension DownloadTarget {
    /// How a bundle compresses its entries.
    public struct Compression: Sendable, Hashable {
        public enum Mode: String, Sendable, CaseIterable {
            /// Deflate what compresses; store already-compressed types and files whose first block
            /// does not shrink.
            case auto
            case store
            case deflate
        }

        public var mode: Mode
        /// zlib's level, 1 (fastest) to 9 (smallest).
        public var level: Int

        public init(_ mode: Mode = .auto, level: Int = 6) {
            self.mode = mode
            self.level = min(9, max(1, level))
        }

        /// Extensions of formats that are compressed already; `auto` stores them without trying.
        static let compressedExtensions: Set<String> = [
            "gz", "tgz", "fz", "z", "bz2", "xz", "zst", "lz", "lz4", "zip", "7z", "rar", "jar",
            "jpg", "jpeg", "png", "gif", "webp", "jp2", "heic", "mp3", "mp4", "mov", "mkv", "avi", "ogg", "h5z",
        ]

        /// Whether `auto` stores a file by its name alone.
        static func isCompressedType(_ filename: String) -> Bool {
            guard let dot = filename.lastIndex(of: ".") else { return false }
            return compressedExtensions.contains(filename[filename.index(after: dot)...].lowercased())
        }

        /// `auto` keeps deflate only when the first block shrinks below this fraction of its size.
        static let worthwhileRatio = 0.97
    }
}
