// flockfile, ftrylockfile, funlockfile: the program's own hold on a FILE across several calls.
//
// glibc's FILE lock belongs to the caller's TCB, which is the green thread's own, and it is
// waited for with an inline futex call: a green thread that held it across a park (a read or
// a sleep inside its flockfile section) would leave every other green thread of its hub that
// then touched the FILE blocking the hub thread for good. A green caller's hold is therefore
// the lock on the FILE's address alone, the one the stdio hooks take for each call on green
// streams (stdio.hpp's call_lock): another green thread's flockfile on that FILE, and its
// hooked calls on a socket, pipe, FIFO or tty stream, park until funlockfile; each stdio call
// still takes glibc's lock for its own length (README, semantics).
#include "hook.hpp"
#include "keyed_lock.hpp"

#include <cerrno>
#include <cstdio>

using namespace green;

GREEN_HOOK void flockfile(FILE* fp)
{
    if (!fp || !hooks::green_caller())
        return GREEN_REAL(flockfile)(fp);
    int saved = errno;
    keyed_lock::lock(fp);
    errno = saved;
}

GREEN_HOOK int ftrylockfile(FILE* fp)
{
    if (!fp || !hooks::green_caller())
        return GREEN_REAL(ftrylockfile)(fp);
    int saved = errno;
    bool got = keyed_lock::try_lock(fp);
    errno = saved;
    return got ? 0 : -1;  // glibc's values
}

// A hold taken while the caller was not green (before start-up, say) is glibc's own.
GREEN_HOOK void funlockfile(FILE* fp)
{
    if (!fp || !hooks::green_caller() || !keyed_lock::owned(fp))
        return GREEN_REAL(funlockfile)(fp);
    int saved = errno;
    keyed_lock::unlock(fp);
    errno = saved;
}
