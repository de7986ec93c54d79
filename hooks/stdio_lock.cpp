// flockfile, ftrylockfile, funlockfile: the program's own hold on a FILE across several calls.
//
// glibc's FILE lock is recursive per OS thread, so it alone would let every green thread of a
// hub into a FILE one of them holds. On a green stream the hold also takes the lock on the
// FILE's address that the stdio hooks take for each call (stdio.hpp's call_lock), so another
// green thread's flockfile or stdio call on that FILE parks until funlockfile, as another
// thread would wait natively.
#include "hook.hpp"
#include "keyed_lock.hpp"
#include "stdio.hpp"

#include <cerrno>
#include <cstdio>

using namespace green;

namespace {

bool green_hold(FILE* fp)
{
    if (!fp || !hooks::green_caller())
        return false;
    return hooks::stdio::green_stream(fp, true) || hooks::stdio::green_stream(fp, false);
}

}  // namespace

GREEN_HOOK void flockfile(FILE* fp)
{
    if (green_hold(fp)) {
        int saved = errno;
        keyed_lock::lock(fp);
        errno = saved;
    }
    GREEN_REAL(flockfile)(fp);
}

GREEN_HOOK int ftrylockfile(FILE* fp)
{
    bool held = green_hold(fp);
    if (held) {
        int saved = errno;
        bool got = keyed_lock::try_lock(fp);
        errno = saved;
        if (!got)
            return -1;  // glibc's value for a FILE another thread holds
    }
    int r = GREEN_REAL(ftrylockfile)(fp);
    if (r != 0 && held)
        keyed_lock::unlock(fp);
    return r;
}

// The address lock is dropped whether or not this flow took it at flockfile (the stream may
// have become green in between, or stopped being): keyed_lock ignores an unlock by a flow that
// does not hold the key.
GREEN_HOOK void funlockfile(FILE* fp)
{
    GREEN_REAL(funlockfile)(fp);
    if (fp && hooks::green_caller()) {
        int saved = errno;
        keyed_lock::unlock(fp);
        errno = saved;
    }
}
