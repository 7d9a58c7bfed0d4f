// Linux calls that Glibc's Swift module hides behind _GNU_SOURCE. Prefix `csystem_`.
#ifndef CHAULSYSTEM_H
#define CHAULSYSTEM_H

#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>
#include <errno.h>
#ifdef __linux__
#include <sys/syscall.h>
#include <spawn.h>
#include <pthread.h>
#include <sys/epoll.h>    // the transfer engine's event loop; Glibc's Swift module leaves these two out
#include <sys/eventfd.h>
#endif

#pragma clang assume_nonnull begin

/// copy_file_range(2): copies between two files inside the kernel. Returns -1 with errno ENOSYS where
/// the system has no such call.
static inline ssize_t csystem_copy_file_range(int in, int64_t *off_in, int out, int64_t *off_out, size_t count) {
#if defined(__linux__) && defined(SYS_copy_file_range)
    return (ssize_t)syscall(SYS_copy_file_range, in, off_in, out, off_out, count, 0U);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/// sync_file_range(2) with SYNC_FILE_RANGE_WRITE over a whole file: starts the writeback of its dirty
/// pages that are not under writeback already, without waiting for them. Returns -1 with errno ENOSYS
/// where the system has no such call.
static inline int csystem_start_writeback(int fd) {
#if defined(__linux__) && defined(SYS_sync_file_range)
    return (int)syscall(SYS_sync_file_range, fd, (int64_t)0, (int64_t)0, 2U /* SYNC_FILE_RANGE_WRITE */);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/// Asks the processor to bring the cache line at `address` in, for a read soon: tables of millions of
/// entries are looked up at random, and a lookup asked for some steps ahead no longer waits for memory.
static inline void csystem_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

/// O_TMPFILE (an unnamed file in a folder, gone when closed), or 0 where the system has none.
static inline int csystem_o_tmpfile(void) {
#if defined(__linux__)
    return 020000000 | 0200000;  // __O_TMPFILE | O_DIRECTORY, the same on every Linux architecture Swift runs on
#else
    return 0;
#endif
}

#if defined(__linux__)
// glibc 2.29 and 2.34 declare these only under _GNU_SOURCE; the tests spawn processes with them.
extern int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path);
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);

/// The child of posix_spawn starts in this folder.
static inline int csystem_spawn_chdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

/// The child of posix_spawn has every descriptor from `from` up closed.
static inline int csystem_spawn_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

// Under _GNU_SOURCE only, like the two above.
extern int pthread_setname_np(pthread_t thread, const char *name);

/// Names the calling thread (at most 15 bytes), as `top -H` and /proc/PID/task/TID/comm show it.
static inline int csystem_name_this_thread(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}
#endif

#pragma clang assume_nonnull end

#endif
