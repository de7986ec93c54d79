// write, writev.
#include "blocking_io.hpp"
#include "hook.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

using namespace green;

GREEN_HOOK ssize_t write(int fd, const void* buf, size_t count)
{
    if (!hooks::green_caller())
        return GREEN_REAL(write)(fd, buf, count);
    fd_info info = fd_table::lookup(fd);
    if (!info.green_for_writing())
        return GREEN_REAL(write)(fd, buf, count);
    hooks::io_wait w(fd, info, EPOLLOUT, info.send_timeout);
    auto* bytes = static_cast<const char*>(buf);
    return hooks::transfer_all(w, count, [&](size_t done, size_t limit, int nonblock) -> ssize_t {
        if (!nonblock)
            return GREEN_REAL(write)(fd, bytes + done, limit);
        // send(2) with no flags is write(2) on a socket (SIGPIPE included); pwritev2 at
        // offset -1 is write(2) elsewhere, and takes RWF_NOWAIT.
        if (info.kind == fd_kind::socket)
            return GREEN_REAL(send)(fd, bytes + done, limit, nonblock);
        iovec v{const_cast<char*>(bytes) + done, limit};
        return GREEN_REAL(pwritev2)(fd, &v, 1, -1, RWF_NOWAIT);
    });
}

GREEN_HOOK ssize_t writev(int fd, const struct iovec* iov, int iovcnt)
{
    if (!hooks::green_caller())
        return GREEN_REAL(writev)(fd, iov, iovcnt);
    fd_info info = fd_table::lookup(fd);
    if (!info.green_for_writing() || iovcnt < 0)
        return GREEN_REAL(writev)(fd, iov, iovcnt);
    hooks::io_wait w(fd, info, EPOLLOUT, info.send_timeout);
    size_t total = hooks::iov_total(iov, iovcnt);
    return hooks::transfer_all(w, total, [&](size_t done, size_t limit, int nonblock) -> ssize_t {
        hooks::iov_window window(iov, iovcnt, done, limit);
        if (!window.ok()) {
            errno = ENOMEM;
            return -1;
        }
        if (!nonblock)
            return GREEN_REAL(writev)(fd, window.data(), window.count());
        if (info.kind != fd_kind::socket)
            return GREEN_REAL(pwritev2)(fd, window.data(), window.count(), -1, RWF_NOWAIT);
        msghdr msg{};
        msg.msg_iov = window.data();
        msg.msg_iovlen = size_t(window.count());
        return GREEN_REAL(sendmsg)(fd, &msg, nonblock);
    });
}
