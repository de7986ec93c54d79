// accept, accept4.
#include "blocking_io.hpp"
#include "fd_table.hpp"
#include "hook.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>

using namespace green;

namespace {

bool listening(int fd)
{
    int accepting = 0;
    socklen_t len = sizeof accepting;
    int saved = errno;
    bool ok = getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0;
    errno = saved;
    return !ok || accepting;
}

// accept has no per-call non-blocking flag, so the listening socket is polled before each
// try. (Another process sharing the listener may take the connection between the two: then the
// accept blocks its hub until the next one arrives; see the README.)
int green_accept4(int fd, sockaddr* addr, socklen_t* addrlen, int flags)
{
    fd_info info = fd_table::lookup(fd);
    if (info.kind != fd_kind::socket || info.nonblocking)
        return GREEN_REAL(accept4)(fd, addr, addrlen, flags);
    hooks::io_wait w(fd, info, EPOLLIN, info.recv_timeout);
    for (bool checked_listening = false;; checked_listening = true) {
        if (w.ready_now())
            break;
        if (!checked_listening && !listening(fd))
            break;  // libc fails at once (EINVAL); only a listener is worth waiting on
        switch (w.wait()) {
        case hooks::wait_outcome::retry: continue;
        case hooks::wait_outcome::fail: return -1;
        case hooks::wait_outcome::block_natively: break;
        }
        break;
    }
    return GREEN_REAL(accept4)(fd, addr, addrlen, flags);
}

void note_accepted(int listener, int fd, int flags)
{
    if (fd < 0)
        return;
    // An accepted socket is a clone of the listener: same type, same SO_RCVTIMEO/SO_SNDTIMEO;
    // O_NONBLOCK comes only from accept4's flags.
    fd_info listening = fd_table::lookup(listener);
    fd_info accepted;
    accepted.kind = fd_kind::socket;
    accepted.nonblocking = flags & SOCK_NONBLOCK;
    accepted.exclusive = true;
    accepted.recv_timeout = listening.recv_timeout;
    accepted.send_timeout = listening.send_timeout;
    accepted.socket_type = listening.socket_type;
    fd_table::note_open(fd, accepted);
}

}  // namespace

GREEN_HOOK int accept4(int fd, sockaddr* addr, socklen_t* addrlen, int flags)
{
    if (!hooks::green_caller())
        return GREEN_REAL(accept4)(fd, addr, addrlen, flags);
    int r = green_accept4(fd, addr, addrlen, flags);
    note_accepted(fd, r, flags);
    return r;
}

GREEN_HOOK int accept(int fd, sockaddr* addr, socklen_t* addrlen)
{
    if (!hooks::green_caller())
        return GREEN_REAL(accept)(fd, addr, addrlen);
    int r = green_accept4(fd, addr, addrlen, 0);
    note_accepted(fd, r, 0);
    return r;
}
