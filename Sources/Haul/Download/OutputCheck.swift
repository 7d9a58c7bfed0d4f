import CHaulSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension DownloadTarget {
    /// Checks that a download of `plan` can write where this target says, without writing anything.
    ///
    /// ``Engine/download(_:to:credentials:headers:overwrite:refresh:events:)`` runs the same check before its first
    /// request; call this to learn of a bad path before anything else (signing in, for one) happens.
    ///
    /// - A ZIP file needs an existing, writable folder, and a path that is free, or holds an archive this
    ///   plan can resume: `PATH.haul-part` (an earlier run cut short), or a ZIP whose entries are all this
    ///   plan's files and manifests (an earlier run of the same plan, to be completed). Any other file
    ///   there is a user's and is never overwritten, unless `overwrite` says to replace it. A folder, a
    ///   link, a device or a FIFO at the path is always refused.
    /// - A directory root must be a folder, or missing under a folder that exists and is writable (it is
    ///   created then).
    /// - A stream needs no check.
    ///
    /// - Parameters:
    ///   - plan: What the download writes (a finished ZIP is resumable only with this plan's entry names).
    ///   - overwrite: Replace a file at a ZIP path that is not an archive this plan can resume.
    /// - Throws: ``HaulError`` (``HaulError/Code/outputPath``) saying what is wrong with which path and how to mend it.
    public func check(for plan: Plan, overwrite: Bool = false) throws {
        switch kind {
        case .directory(let root): try OutputCheck.directory(root)
        case .zip(let path, _): _ = try OutputCheck.zip(path, plan: plan, overwrite: overwrite)
        case .zipStream, .storedBundle: break
        }
    }
}

/// The checks a run makes on its output path before the first request.
enum OutputCheck {
    /// What a ZIP path holds before a run, and so how the run starts.
    enum ZipStart: Equatable {
        /// Nothing there: a new archive.
        case fresh
        /// `PATH.haul-part` from an earlier run: kept entries are checked and the rest fetched.
        case resumePart
        /// A finished archive of this plan at `PATH`: it becomes the part file and is completed.
        case resumeFinished
        /// A file this plan cannot resume, which the caller said to replace: a new archive, renamed over it at the end.
        case replace
    }

    static func zip(_ path: String, plan: Plan, overwrite: Bool) throws -> ZipStart {
        let part = path + ".haul-part"
        func refuse(_ why: String) -> HaulError { HaulError(.outputPath, "cannot write the ZIP to \(path): \(why)") }

        let folder = parentFolder(of: path)
        var st = stat()
        if stat(folder, &st) != 0 {
            let e = errno
            if e == ENOENT || e == ENOTDIR { throw refuse("the folder \(folder) does not exist; create it first, or name a file in a folder that exists") }
            throw refuse("cannot use the folder \(folder): \(String(cString: strerror(e)))")
        }
        guard isFolder(st) else { throw refuse("\(folder) is not a folder") }
        if let problem = writableProblem(folder) {
            throw refuse("the folder \(folder) is not writable (\(problem)); name a file in a folder you can write to")
        }

        let partKind = kind(of: part)
        switch partKind {
        case .missing, .file: break
        case .folder: throw refuse("\(part) is a folder; remove it or name another file")
        case .other(let what): throw refuse("\(part) is \(what); remove it or name another file")
        }

        switch kind(of: path) {
        case .missing:
            return partKind == .file ? .resumePart : .fresh
        case .folder:
            throw refuse("it is a folder; name a file, such as \(path.hasSuffix("/") ? path : path + "/")\(plan.root).zip")
        case .other(let what):
            throw refuse("it is \(what); name a regular file (to write to a pipe or a device, stream the ZIP to standard output and redirect it)")
        case .file:
            if let foreign = foreignContent(path, plan: plan) {
                guard overwrite else {
                    throw HaulError(.outputPath, "\(path) already exists and \(foreign), so this download would overwrite it; name another file, or replace it with --force")
                }
                return partKind == .file ? .resumePart : .replace
            }
            return partKind == .file ? .resumePart : .resumeFinished
        }
    }

    /// A folder tree's root: a folder, or missing under a writable folder.
    static func directory(_ root: String) throws {
        var st = stat()
        if stat(root, &st) == 0 {
            guard isFolder(st) else { throw HaulError(.outputPath, "cannot write into \(root): it is a file, not a folder; name a folder") }
            if let problem = writableProblem(root) {
                throw HaulError(.outputPath, "cannot write into \(root): the folder is not writable (\(problem)); name a folder you can write to")
            }
            return
        }
        var e = errno
        guard e == ENOENT || e == ENOTDIR else {
            throw HaulError(.outputPath, "cannot use \(root): \(String(cString: strerror(e)))")
        }
        // Missing: the nearest folder above it that exists must be one, and writable.
        var ancestor = parentFolder(of: root)
        while stat(ancestor, &st) != 0 {
            e = errno
            guard (e == ENOENT || e == ENOTDIR), ancestor != "/", ancestor != "." else {
                throw HaulError(.outputPath, "cannot create \(root): cannot use \(ancestor): \(String(cString: strerror(e)))")
            }
            ancestor = parentFolder(of: ancestor)
        }
        guard isFolder(st) else {
            throw HaulError(.outputPath, "cannot create \(root): \(ancestor) is a file, not a folder; name a folder")
        }
        if let problem = writableProblem(ancestor) {
            throw HaulError(.outputPath, "cannot create \(root): the folder \(ancestor) is not writable (\(problem)); name a folder you can write to")
        }
    }

    // MARK: Paths

    enum Kind: Equatable {
        case missing, file, folder
        /// A link, a device, a FIFO, a socket: said as "a symbolic link".
        case other(String)
    }

    /// What is at `path`, not following a final symbolic link.
    static func kind(of path: String) -> Kind {
        var st = stat()
        guard lstat(path, &st) == 0 else { return .missing }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .folder
        case S_IFLNK:
            var target = stat()
            return stat(path, &target) == 0 && isFolder(target) ? .folder : .other("a symbolic link")
        case S_IFCHR, S_IFBLK: return .other("a device")
        case S_IFIFO: return .other("a FIFO")
        case S_IFSOCK: return .other("a socket")
        default: return .other("not a regular file")
        }
    }

    static func isFolder(_ st: stat) -> Bool { st.st_mode & S_IFMT == S_IFDIR }

    /// The folder holding `path`: `a/b.zip` → `a`, `b.zip` → `.`, `/b.zip` → `/`.
    static func parentFolder(of path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return "." }
        if slash == p.startIndex { return "/" }
        var folder = p[..<slash]
        while folder.count > 1 && folder.hasSuffix("/") { folder = folder.dropLast() }
        return String(folder)
    }

    /// Why a new file cannot be made in `folder`, or `nil` when it can. Tries the real thing (an unnamed
    /// file that vanishes at once, so nothing is left behind) where the system has `O_TMPFILE`, which
    /// also catches a read-only file system and root on it; else asks `access(2)`.
    static func writableProblem(_ folder: String) -> String? {
        let tmpfile = csystem_o_tmpfile()
        if tmpfile != 0 {
            let fd = open(folder, tmpfile | O_WRONLY | O_CLOEXEC, 0o600)
            if fd >= 0 { close(fd); return nil }
            let e = errno
            if e == EACCES || e == EPERM || e == EROFS { return String(cString: strerror(e)) }
            // No O_TMPFILE on this file system (EOPNOTSUPP, EISDIR, EINVAL), or no inode left: ask access(2).
        }
        if access(folder, W_OK | X_OK) == 0 { return nil }
        return String(cString: strerror(errno))
    }

    // MARK: A finished archive

    /// Why the file at `path` is not a finished archive of `plan`, or `nil` when it is: a ZIP whose local
    /// entries, from the first byte to the central directory, are all written the way Haul writes them
    /// and named as this plan's files or its manifests. Only such an archive is safe to complete (the
    /// resume scan truncates at the first entry it does not keep).
    static func foreignContent(_ path: String, plan: Plan) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return "cannot be read (\(String(cString: strerror(errno))))" }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return "cannot be read" }
        let length = UInt64(st.st_size)
        var names = Set(plan.downloads.map { plan.root + "/" + plan.entries[$0].path })
        names.insert(plan.root + "/manifest.html")
        names.insert(plan.root + "/manifest.csv")
        var offset: UInt64 = 0
        var entries = 0
        while offset + 4 <= length {
            guard let signature = readU32(fd, at: offset) else { return "cannot be read" }
            if signature == ZipFormat.centralSignature || signature == ZipFormat.endSignature { break }
            guard signature == ZipFormat.localSignature, let (entry, dataOffset) = ZipResume.readHeader(fd: fd, at: offset) else {
                return entries == 0 ? "is not a ZIP archive" : "is a ZIP archive Haul did not write"
            }
            guard names.contains(entry.name) else {
                return "is a ZIP archive of other files (it holds \(entry.name), which this download does not write)"
            }
            entries += 1
            offset = dataOffset + entry.compressedSize
        }
        return entries == 0 ? "is not a ZIP archive" : nil
    }

    private static func readU32(_ fd: Int32, at offset: UInt64) -> UInt32? {
        var value: UInt32 = 0
        let (n, _) = withUnsafeMutableBytes(of: &value) { FileIO.readAll(fd, into: $0, at: Int64(offset)) }
        return n == 4 ? UInt32(littleEndian: value) : nil
    }
}
