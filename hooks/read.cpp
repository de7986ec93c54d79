// read, __read_chk, readv.
#include "blocking_io.hpp"
#include "hook.hpp"

#include <climits>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

extern "C" [[noreturn]] void __chk_fail(void);
extern "C" ssize_t __read_chk(int fd, void* buf, size_t nbytes, size_t buflen);

using namespace green;

namespace {

// `plain` is the call exactly as the program made it (read or readv), used whenever the
// transfer cannot block or cannot be waited for.
template <class Plain>
ssize_t green_transfer_in(int fd, const iovec* iov, int iovcnt, Plain&& plain)
{
    // A read of nothing returns 0 at once from every file that takes reads (the kernel does
    // not ask a socket or a pipe for data: nothing is consumed, not even a datagram); files
    // that refuse it (eventfd) refuse it at once too.
    if (iovcnt < 0 || iovcnt > IOV_MAX || hooks::iov_total(iov, iovcnt) == 0)
        return plain();
    fd_info info = fd_table::lookup(fd);
    if (!info.green_for_reading())
        return plain();
    hooks::io_wait w(fd, info, EPOLLIN, info.recv_timeout);
    ssize_t r = hooks::transfer_once(w, [&](int nonblock) -> ssize_t {
        if (!nonblock)
            return plain();
        // recvmsg with no flags is readv on a socket, and takes MSG_DONTWAIT per call;
        // preadv2 at offset -1 is readv elsewhere, and takes RWF_NOWAIT.
        if (info.kind != fd_kind::socket)
            return GREEN_REAL(preadv2)(fd, iov, iovcnt, -1, RWF_NOWAIT);
        msghdr msg{};
        msg.msg_iov = const_cast<iovec*>(iov);
        msg.msg_iovlen = size_t(iovcnt);
        return GREEN_REAL(recvmsg)(fd, &msg, nonblock);
    });
    return hooks::stale_socket(fd, info, r) ? green_transfer_in(fd, iov, iovcnt, plain) : r;
}

ssize_t green_read(int fd, void* buf, size_t count)
{
    iovec v{buf, count};
    return green_transfer_in(fd, &v, 1, [&] { return GREEN_REAL(read)(fd, buf, count); });
}

ssize_t green_readv(int fd, const iovec* iov, int iovcnt)
{
    return green_transfer_in(fd, iov, iovcnt, [&] { return GREEN_REAL(readv)(fd, iov, iovcnt); });
}

}  // namespace

GREEN_HOOK ssize_t read(int fd, void* buf, size_t count)
{
    if (!hooks::green_caller())
        return GREEN_REAL(read)(fd, buf, count);
    return green_read(fd, buf, count);
}

GREEN_HOOK ssize_t __read_chk(int fd, void* buf, size_t count, size_t buflen)
{
    if (count > buflen)
        __chk_fail();
    if (!hooks::green_caller())
        return GREEN_REAL(read)(fd, buf, count);
    return green_read(fd, buf, count);
}

GREEN_HOOK ssize_t readv(int fd, const struct iovec* iov, int iovcnt)
{
    if (!hooks::green_caller())
        return GREEN_REAL(readv)(fd, iov, iovcnt);
    return green_readv(fd, iov, iovcnt);
}
