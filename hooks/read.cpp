// read, __read_chk, readv.
#include "blocking_io.hpp"
#include "hook.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

extern "C" [[noreturn]] void __chk_fail(void);
extern "C" ssize_t __read_chk(int fd, void* buf, size_t nbytes, size_t buflen);

using namespace green;

namespace {

ssize_t green_read(int fd, void* buf, size_t count)
{
    fd_info info = fd_table::lookup(fd);
    if (!info.green_for_reading())
        return GREEN_REAL(read)(fd, buf, count);
    hooks::io_wait w(fd, info, EPOLLIN, info.recv_timeout);
    return hooks::transfer_once(w, [&](int nonblock) -> ssize_t {
        if (!nonblock)
            return GREEN_REAL(read)(fd, buf, count);
        // recv(2) with no flags is read(2) on a socket, and takes MSG_DONTWAIT per call;
        // preadv2 at offset -1 is read(2) elsewhere, and takes RWF_NOWAIT.
        if (info.kind == fd_kind::socket)
            return GREEN_REAL(recv)(fd, buf, count, nonblock);
        iovec v{buf, count};
        return GREEN_REAL(preadv2)(fd, &v, 1, -1, RWF_NOWAIT);
    });
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
    fd_info info = fd_table::lookup(fd);
    if (!info.green_for_reading())
        return GREEN_REAL(readv)(fd, iov, iovcnt);
    hooks::io_wait w(fd, info, EPOLLIN, info.recv_timeout);
    return hooks::transfer_once(w, [&](int nonblock) -> ssize_t {
        if (!nonblock)
            return GREEN_REAL(readv)(fd, iov, iovcnt);
        if (info.kind != fd_kind::socket)
            return GREEN_REAL(preadv2)(fd, iov, iovcnt, -1, RWF_NOWAIT);
        msghdr msg{};
        msg.msg_iov = const_cast<iovec*>(iov);
        msg.msg_iovlen = size_t(iovcnt);
        return GREEN_REAL(recvmsg)(fd, &msg, nonblock);
    });
}
