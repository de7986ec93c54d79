// flockfile, ftrylockfile, funlockfile (and their _IO_ names). glibc's stream lock is owned by
// the caller's TCB and waited for with an inline futex call: a green thread that held it
// across a park (a read or a sleep inside its flockfile section) would leave any other green
// thread of its hub that then locked the stream blocking the hub thread for good. A green
// caller takes a green lock named by the stream instead (runtime/keyed_locks.hpp), so such
// sections exclude each other and park; each stdio call still takes glibc's lock inside.
#include "hook.hpp"
#include "keyed_locks.hpp"

#include <cstdio>

using namespace green;

extern "C" {
void _IO_flockfile(FILE*);
int _IO_ftrylockfile(FILE*);
void _IO_funlockfile(FILE*);
}

GREEN_HOOK void flockfile(FILE* stream)
{
    if (!hooks::green_caller())
        return GREEN_REAL(flockfile)(stream);
    keyed_locks::lock(stream);
}

GREEN_HOOK int ftrylockfile(FILE* stream)
{
    if (!hooks::green_caller())
        return GREEN_REAL(ftrylockfile)(stream);
    return keyed_locks::try_lock(stream) == 0 ? 0 : -1;
}

GREEN_HOOK void funlockfile(FILE* stream)
{
    if (!hooks::green_caller())
        return GREEN_REAL(funlockfile)(stream);
    keyed_locks::unlock(stream);
}

GREEN_HOOK void _IO_flockfile(FILE* stream)
{
    flockfile(stream);
}

GREEN_HOOK int _IO_ftrylockfile(FILE* stream)
{
    return ftrylockfile(stream);
}

GREEN_HOOK void _IO_funlockfile(FILE* stream)
{
    funlockfile(stream);
}
