// Guards read-only file mappings against the file shrinking while they are read. Prefix `cmapped_`.
#ifndef CMAPPEDGUARD_H
#define CMAPPEDGUARD_H

#include <stddef.h>

#pragma clang assume_nonnull begin

/// Starts guarding the mapping `base`..`base + length`: a read past the end of a file that shrank no
/// longer kills the process with SIGBUS; the page reads as zeros instead and the guard remembers it.
/// Returns a slot to pass to cmapped_unguard, or -1 when every slot is taken (then nothing is guarded).
int cmapped_guard(const void *base, size_t length);

/// Stops guarding a slot. Returns 1 when a read in the mapping met a page the file no longer had (the
/// bytes read there were zeros, not the file's), else 0.
int cmapped_unguard(int slot);

#pragma clang assume_nonnull end

#endif
