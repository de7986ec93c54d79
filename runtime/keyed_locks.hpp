// Recursive green locks named by an address, made on first use: the stdio stream locks of
// green threads (flockfile). glibc's own stream lock is owned by a TCB and waited for with an
// inline futex call no hook sees: a green thread that held it across a park would block the
// hub thread of every other green thread that then took it. The green threads' flockfile
// sections exclude each other through these instead, and park while they wait.
#pragma once

#include "internal.hpp"

#include <cstdint>

namespace green::keyed_locks {

// As flockfile, ftrylockfile (0 or EBUSY) and funlockfile for the calling flow; unlock of a
// lock the flow does not hold is ignored, as glibc ignores it.
void lock(const void* key);
int try_lock(const void* key);
void unlock(const void* key);

// Locks that exist now (made and not yet given back): for tests.
std::size_t live();

}  // namespace green::keyed_locks
