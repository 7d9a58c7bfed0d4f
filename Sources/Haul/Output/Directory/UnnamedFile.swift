import CHaulSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A file made without a name (Linux's `O_TMPFILE`) and given its final name only when complete.
///
/// Why not a temporary name renamed into place: creating a file in a folder holds the folder's lock
/// while the file system finds an inode, and on ext4 after a large `rm -rf` that search reads inode
/// tables for recently deleted inodes. With many files made at once, every other create and rename in
/// the folder spins on that lock: 10,000 files of 2 KiB into one folder spent a fifth of haul's
/// samples in `rwsem_spin_on_owner` (`perf record -g`), on a two-core machine where the receiving
/// thread needs the CPU. An unnamed file takes no folder lock to make; its name is added once, by
/// `linkat`, which holds the lock only to add the entry. And by construction no partial file ever has
/// a name, not even a temporary one, so a crash leaves nothing behind.
///
/// Where the system cannot (another kernel, a file system without it, no `/proc`), ``open(in:)``
/// returns nil and the caller uses a temporary name.
enum UnnamedFile {
    /// Opens an unnamed file for writing in `folder` (`""` for the current folder), or nil when the
    /// system cannot make one there; the caller then falls back to a named temporary file, whose
    /// failure names the path.
    static func open(in folder: String) -> Int32? {
        let flag = csystem_o_tmpfile()
        guard flag != 0, usable.load(ordering: .relaxed) else { return nil }
        let fd = System.open(folder.isEmpty ? "." : folder, flag | O_WRONLY | O_CLOEXEC, 0o644)
        if fd >= 0 { return fd }
        // Not supported by this kernel or file system: do not ask again in this process.
        if errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL { usable.store(false, ordering: .relaxed) }
        return nil
    }

    /// Gives the open unnamed file `fd` the name `path`, replacing a file already there in one step
    /// (through `temporary`, since a link never replaces). Returns 0 or the `errno` of the failure.
    static func name(_ fd: Int32, path: String, temporary: String) -> Int32 {
        #if canImport(Glibc)
        // `linkat(fd, "", …, AT_EMPTY_PATH)` needs CAP_DAC_READ_SEARCH; the `/proc` path is the
        // documented way for anyone (open(2), O_TMPFILE).
        let source = "/proc/self/fd/\(fd)"
        if linkat(AT_FDCWD, source, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 { return 0 }
        guard errno == EEXIST else { return errno }
        // A file is already there: a product that changed, fetched again, or a file `--force` replaces.
        unlink(temporary)
        guard linkat(AT_FDCWD, source, AT_FDCWD, temporary, AT_SYMLINK_FOLLOW) == 0 else { return errno }
        guard rename(temporary, path) == 0 else {
            let e = errno
            unlink(temporary)
            return e
        }
        return 0
        #else
        return ENOTSUP
        #endif
    }

    /// Whether unnamed files may be tried: `/proc` mounted (to link them), and no refusal seen yet.
    private static let usable = Atomic<Bool>(access("/proc/self/fd", X_OK) == 0)
}
