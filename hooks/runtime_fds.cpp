// epoll_create, epoll_create1, eventfd: fds the runtime makes for itself (libuv's loop makes
// its epoll set and eventfd through these) are moved out of the program's way; those the
// program makes are noted as pollable.
#include "fd_table.hpp"
#include "hook.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

using namespace green;

namespace {

int adopt_or_note(int fd, bool nonblocking)
{
    if (fd < 0)
        return fd;
    switch (hooks::who_calls()) {
    case hooks::caller::raw:
        // A vfork child's fds are its own; a handler's are only marked, lock-free (fd.cpp).
        if (hooks::in_signal_handler())
            fd_table::note_closed_in_handler(fd);
        return fd;
    case hooks::caller::runtime: return fd_table::adopt_runtime_fd(fd);
    case hooks::caller::program: break;
    }
    fd_info info;
    info.kind = fd_kind::pollable;
    info.nonblocking = nonblocking;
    info.exclusive = true;
    fd_table::note_open(fd, info);
    return fd;
}

}  // namespace

GREEN_HOOK int epoll_create1(int flags)
{
    return adopt_or_note(GREEN_REAL(epoll_create1)(flags), false);
}

GREEN_HOOK int epoll_create(int size)
{
    return adopt_or_note(GREEN_REAL(epoll_create)(size), false);
}

GREEN_HOOK int eventfd(unsigned int initval, int flags)
{
    return adopt_or_note(GREEN_REAL(eventfd)(initval, flags), flags & EFD_NONBLOCK);
}
