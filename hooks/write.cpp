// write, writev.
#include "blocking_io.hpp"
#include "hook.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

using namespace green;

namespace {

// plain(done, limit) is the call as the program made it (write or writev) on the bytes from
// offset `done`, at most `limit` of them: used whenever the transfer cannot block or cannot
// be waited for.
template <class Plain>
ssize_t green_transfer_out(int fd, const iovec* iov, int iovcnt, Plain&& plain)
{
    size_t total = iovcnt < 0 ? 0 : hooks::iov_total(iov, iovcnt);
    fd_info info = fd_table::lookup(fd);
    if (!info.green_for_writing() || iovcnt < 0)
        return plain(0, total);
    hooks::io_wait w(fd, info, EPOLLOUT, info.send_timeout);
    ssize_t r = hooks::transfer_all(w, total, [&](size_t done, size_t limit, int nonblock) -> ssize_t {
        if (!nonblock)
            return plain(done, limit);
        hooks::iov_window window(iov, iovcnt, done, limit);
        if (!window.ok()) {
            errno = ENOMEM;
            return -1;
        }
        // sendmsg with no flags is writev on a socket (SIGPIPE included) and takes
        // MSG_DONTWAIT per call; pwritev2 at offset -1 is writev elsewhere, and takes RWF_NOWAIT.
        if (info.kind != fd_kind::socket)
            return GREEN_REAL(pwritev2)(fd, window.data(), window.count(), -1, RWF_NOWAIT);
        msghdr msg{};
        msg.msg_iov = window.data();
        msg.msg_iovlen = size_t(window.count());
        return GREEN_REAL(sendmsg)(fd, &msg, nonblock);
    });
    return hooks::stale_socket(fd, info, r) ? green_transfer_out(fd, iov, iovcnt, plain) : r;
}

}  // namespace

GREEN_HOOK ssize_t write(int fd, const void* buf, size_t count)
{
    if (!hooks::green_caller())
        return GREEN_REAL(write)(fd, buf, count);
    auto* bytes = static_cast<const char*>(buf);
    iovec v{const_cast<char*>(bytes), count};
    return green_transfer_out(fd, &v, 1, [&](size_t done, size_t limit) {
        return GREEN_REAL(write)(fd, bytes + done, limit);
    });
}

GREEN_HOOK ssize_t writev(int fd, const struct iovec* iov, int iovcnt)
{
    if (!hooks::green_caller())
        return GREEN_REAL(writev)(fd, iov, iovcnt);
    return green_transfer_out(fd, iov, iovcnt, [&](size_t done, size_t limit) -> ssize_t {
        if (done == 0 && limit == hooks::iov_total(iov, iovcnt))
            return GREEN_REAL(writev)(fd, iov, iovcnt);
        hooks::iov_window window(iov, iovcnt, done, limit);
        if (!window.ok()) {
            errno = ENOMEM;
            return -1;
        }
        return GREEN_REAL(writev)(fd, window.data(), window.count());
    });
}
