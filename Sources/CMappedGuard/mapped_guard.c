// A SIGBUS handler for read-only file mappings (see cmappedguard.h).
//
// Reading a mapped page past the end of a file that was truncated after it was mapped raises SIGBUS,
// whose default action ends the process. Swift cannot recover from a signal (no longjmp over its frames),
// so the handler mends the fault instead: it maps an anonymous zero page over the faulting page (mmap is
// a system call, safe in a handler) and returns, the read is retried and sees zeros, and the slot records
// it. The reader checks the slot when it is done and reports the file as changed; whatever it made of the
// zeros is discarded. A fault outside every guarded range goes to the handler that was installed before
// (the Swift runtime's backtracer, or the default action).
#define _GNU_SOURCE
#include "cmappedguard.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { slotCount = 64 };

static _Atomic uintptr_t starts[slotCount];
static _Atomic uintptr_t ends[slotCount];
static _Atomic int faulted[slotCount];
static _Atomic int taken[slotCount];
static struct sigaction previous;
static uintptr_t pageSize = 4096;
static pthread_once_t installed = PTHREAD_ONCE_INIT;

static void handle(int signal, siginfo_t *info, void *context) {
    uintptr_t address = (uintptr_t)info->si_addr;
    for (int i = 0; i < slotCount; i++) {
        uintptr_t start = atomic_load(&starts[i]), end = atomic_load(&ends[i]);
        if (start != 0 && address >= start && address < end) {
            void *page = (void *)(address & ~(pageSize - 1));
            if (mmap(page, pageSize, PROT_READ, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED) {
                atomic_store(&faulted[i], 1);
                return;
            }
        }
    }
    // Not a guarded mapping: what would have happened without this handler.
    if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction != NULL) {
        previous.sa_sigaction(signal, info, context);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(signal);
    } else {
        // Back to the default action; returning retries the read, which faults again and ends the process.
        struct sigaction fallback;
        memset(&fallback, 0, sizeof fallback);
        fallback.sa_handler = SIG_DFL;
        sigaction(SIGBUS, &fallback, NULL);
    }
}

static void install(void) {
    long size = sysconf(_SC_PAGESIZE);
    if (size > 0) pageSize = (uintptr_t)size;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = handle;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGBUS, &action, &previous);
}

int cmapped_guard(const void *base, size_t length) {
    pthread_once(&installed, install);
    for (int i = 0; i < slotCount; i++) {
        int free = 0;
        if (atomic_compare_exchange_strong(&taken[i], &free, 1)) {
            atomic_store(&faulted[i], 0);
            atomic_store(&ends[i], (uintptr_t)base + length);
            atomic_store(&starts[i], (uintptr_t)base);
            return i;
        }
    }
    return -1;
}

int cmapped_unguard(int slot) {
    if (slot < 0 || slot >= slotCount) return 0;
    atomic_store(&starts[slot], 0);
    atomic_store(&ends[slot], 0);
    int result = atomic_exchange(&faulted[slot], 0);
    atomic_store(&taken[slot], 0);
    return result;
}
