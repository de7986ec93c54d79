// flock, lockf, lockf64, and fcntl's waiting lock commands (called from fd.cpp's fcntl).
//
// A file lock has no fd to wait on: the holder is another open file description (flock, OFD
// locks), possibly of this very process, or another process (POSIX record locks). Each call is
// first tried in its non-waiting form (LOCK_NB, F_TLOCK, F_SETLK, F_OFD_SETLK), which does
// exactly what the call would have done when the lock is free. Only when another holder keeps
// it does the call as the program made it run on the offload pool, so that only the calling
// green thread waits and the holder, perhaps a green thread of the same hub, can go on to
// release it. The lock then belongs to what the kernel ties it to (the open file description,
// or the process), never to the worker's OS thread, so nothing changes for the program.
#include "file_locks.hpp"

#include "hook.hpp"
#include "zerocopy.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

using namespace green;

static_assert(F_SETLKW == 7 && F_OFD_SETLKW == 38, "is_lock_wait's values");

namespace {

// try_now() is the non-waiting form, wait() the program's call; `busy` says the lock is held.
template <class Try, class Wait>
int try_then_offload(Try&& try_now, Wait&& wait, bool (*busy)(int))
{
    int entry_errno = errno;
    int r = try_now();
    if (r == 0) {
        errno = entry_errno;
        return 0;
    }
    if (!busy(errno))
        return r;  // EBADF, EINVAL, EDEADLK...: the answer the call would have given
    errno = entry_errno;
    return int(hooks::offloaded([&] { return long(wait()); }));
}

bool flock_busy(int e) { return e == EWOULDBLOCK; }
// F_SETLK and lockf's F_TLOCK say EACCES or EAGAIN for a lock held elsewhere.
bool record_busy(int e) { return e == EACCES || e == EAGAIN; }

template <class Real>
int green_lockf(Real real, int fd, int cmd, off64_t len)
{
    if (cmd != F_LOCK || !hooks::green_caller())
        return real(fd, cmd, len);
    return try_then_offload([&] { return real(fd, F_TLOCK, len); },
                            [&] { return real(fd, F_LOCK, len); }, record_busy);
}

}  // namespace

int hooks::lock_wait_fcntl(int (*real)(int, int, ...), int fd, int cmd, void* arg)
{
    if (!is_lock_wait(cmd) || !hooks::green_caller())
        return real(fd, cmd, arg);
    int now = cmd == F_SETLKW ? F_SETLK : F_OFD_SETLK;
    return try_then_offload([&] { return real(fd, now, arg); },
                            [&] { return real(fd, cmd, arg); }, record_busy);
}

GREEN_HOOK int flock(int fd, int operation)
{
    if ((operation & (LOCK_NB | LOCK_UN)) || !hooks::green_caller())
        return GREEN_REAL(flock)(fd, operation);
    return try_then_offload([&] { return GREEN_REAL(flock)(fd, operation | LOCK_NB); },
                            [&] { return GREEN_REAL(flock)(fd, operation); }, flock_busy);
}

GREEN_HOOK int lockf(int fd, int cmd, off_t len)
{
    return green_lockf([](int f, int c, off64_t l) { return GREEN_REAL(lockf)(f, c, off_t(l)); },
                       fd, cmd, len);
}

GREEN_HOOK int lockf64(int fd, int cmd, off64_t len)
{
    return green_lockf(GREEN_REAL(lockf64), fd, cmd, len);
}
