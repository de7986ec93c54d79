// connect.
#include "blocked.hpp"
#include "blocking_io.hpp"
#include "hook.hpp"
#include "log.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>

using namespace green;

GREEN_HOOK int connect(int fd, const sockaddr* addr, socklen_t len)
{
    if (!hooks::green_caller())
        return GREEN_REAL(connect)(fd, addr, len);
    fd_info info = fd_table::lookup(fd);
    if (info.kind != fd_kind::socket || info.nonblocking)
        return GREEN_REAL(connect)(fd, addr, len);

    // connect has no per-call flag: the socket is made non-blocking for the call only. It is
    // almost always fresh and private to this process, and is put back before returning.
    int entry_errno = errno;
    int flags = GREEN_REAL(fcntl)(fd, F_GETFL);
    if (flags < 0)
        return GREEN_REAL(connect)(fd, addr, len);
    GREEN_REAL(fcntl)(fd, F_SETFL, flags | O_NONBLOCK);
    int r = GREEN_REAL(connect)(fd, addr, len);
    int connect_errno = errno;
    GREEN_REAL(fcntl)(fd, F_SETFL, flags);
    errno = connect_errno;
    if (r == 0) {
        errno = entry_errno;
        return 0;
    }
    if (errno == EAGAIN) {
        // A full AF_UNIX backlog: the blocking connect waits for room in the listener's queue,
        // which no fd of ours reports. Block as the program asked.
        GREEN_LOG(warn, "connect on fd %d waits natively for a full listen queue", fd);
        blocked::note("connect");
        return GREEN_REAL(connect)(fd, addr, len);
    }
    if (errno != EINPROGRESS && errno != EALREADY)
        return -1;

    // In progress: completion is writability, and SO_ERROR says how it ended. At the
    // SO_SNDTIMEO timeout the kernel reports EINPROGRESS.
    hooks::io_wait w(fd, info, EPOLLOUT, info.send_timeout, EINPROGRESS, "connect");
    for (;;) {
        if (w.ready_now())
            break;
        switch (w.wait()) {
        case hooks::wait_outcome::retry: continue;
        case hooks::wait_outcome::fail: return -1;
        case hooks::wait_outcome::block_natively: return GREEN_REAL(connect)(fd, addr, len);
        }
    }
    // Connected or failed. A blocking connect ends by moving the socket to its connected state
    // (or reporting the error); calling it now does exactly that without blocking, so that a
    // later connect on it says EISCONN as it would natively.
    errno = entry_errno;
    return GREEN_REAL(connect)(fd, addr, len);
}
