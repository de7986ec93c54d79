// setsockopt: the runtime keeps SO_RCVTIMEO/SO_SNDTIMEO to time its waits as the kernel would.
// getsockopt needs no hook: the kernel holds the values the program set.
#include "fd_table.hpp"
#include "hook.hpp"

#include <sys/socket.h>
#include <sys/time.h>

using namespace green;

GREEN_HOOK int setsockopt(int fd, int level, int name, const void* value, socklen_t len)
{
    hooks::caller who = hooks::who_calls();
    int r = GREEN_REAL(setsockopt)(fd, level, name, value, len);
    bool timeout = r == 0 && level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO);
    if (timeout && who == hooks::caller::raw) {
        // A handler may take no lock: the slot is marked and classified afresh, timeouts
        // included, on next use. A vfork child leaves its parent's table alone.
        if (hooks::in_signal_handler())
            fd_table::note_closed_in_handler(fd);
        return r;
    }
    if (timeout && value && len >= socklen_t(sizeof(timeval))) {
        // Read back what the kernel kept (it rounds to its tick).
        timeval tv{};
        socklen_t tv_len = sizeof tv;
        if (GREEN_REAL(getsockopt)(fd, level, name, &tv, &tv_len) == 0)
            fd_table::note_timeout(fd, name == SO_RCVTIMEO,
                                   std::uint64_t(tv.tv_sec) * 1000000000u +
                                       std::uint64_t(tv.tv_usec) * 1000u);
    }
    return r;
}
