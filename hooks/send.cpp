// send, sendto, sendmsg, sendmmsg.
#include "blocking_io.hpp"
#include "hook.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

using namespace green;

GREEN_HOOK ssize_t sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* addr,
                          socklen_t addrlen)
{
    fd_info info;
    if (!hooks::green_caller() || !hooks::blocking_socket(fd, flags, info))
        return GREEN_REAL(sendto)(fd, buf, len, flags, addr, addrlen);
    hooks::io_wait w(fd, info, EPOLLOUT, info.send_timeout);
    auto* bytes = static_cast<const char*>(buf);
    return hooks::transfer_all(w, len, [&](size_t done, size_t limit, int nonblock) {
        return GREEN_REAL(sendto)(fd, bytes + done, limit, flags | nonblock, addr, addrlen);
    });
}

GREEN_HOOK ssize_t send(int fd, const void* buf, size_t len, int flags)
{
    if (!hooks::green_caller())
        return GREEN_REAL(send)(fd, buf, len, flags);
    return sendto(fd, buf, len, flags, nullptr, 0);
}

GREEN_HOOK ssize_t sendmsg(int fd, const msghdr* msg, int flags)
{
    fd_info info;
    if (!hooks::green_caller() || !hooks::blocking_socket(fd, flags, info) || !msg)
        return GREEN_REAL(sendmsg)(fd, msg, flags);
    hooks::io_wait w(fd, info, EPOLLOUT, info.send_timeout);
    const int count = int(msg->msg_iovlen);
    return hooks::transfer_all(
        w, hooks::iov_total(msg->msg_iov, count),
        [&](size_t done, size_t limit, int nonblock) -> ssize_t {
            if (done == 0 && limit == hooks::iov_total(msg->msg_iov, count))
                return GREEN_REAL(sendmsg)(fd, msg, flags | nonblock);
            // The rest of a partly sent stream message: its ancillary data went with the
            // first part, as the kernel sends it.
            hooks::iov_window window(msg->msg_iov, count, done, limit);
            if (!window.ok()) {
                errno = ENOMEM;
                return -1;
            }
            msghdr rest = *msg;
            rest.msg_iov = window.data();
            rest.msg_iovlen = size_t(window.count());
            rest.msg_control = nullptr;
            rest.msg_controllen = 0;
            return GREEN_REAL(sendmsg)(fd, &rest, flags | nonblock);
        });
}

GREEN_HOOK int sendmmsg(int fd, mmsghdr* vec, unsigned int vlen, int flags)
{
    fd_info info;
    if (!hooks::green_caller() || !hooks::blocking_socket(fd, flags, info) || vlen == 0)
        return GREEN_REAL(sendmmsg)(fd, vec, vlen, flags);
    hooks::io_wait w(fd, info, EPOLLOUT, info.send_timeout);
    unsigned sent = 0;
    for (;;) {
        int r = GREEN_REAL(sendmmsg)(fd, vec + sent, vlen - sent, flags | MSG_DONTWAIT);
        if (r > 0) {
            sent += unsigned(r);
            if (sent == vlen)
                return int(sent);
            continue;
        }
        if (r < 0 && errno != EAGAIN)
            return sent ? int(sent) : -1;
        switch (w.wait()) {
        case hooks::wait_outcome::retry: continue;
        case hooks::wait_outcome::fail: return sent ? int(sent) : -1;
        case hooks::wait_outcome::block_natively: {
            int n = GREEN_REAL(sendmmsg)(fd, vec + sent, vlen - sent, flags);
            return n < 0 ? (sent ? int(sent) : -1) : int(sent + unsigned(n));
        }
        }
    }
}
