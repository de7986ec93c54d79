// recv, __recv_chk, recvfrom, __recvfrom_chk, recvmsg, recvmmsg.
#include "blocking_io.hpp"
#include "hook.hpp"

#include <climits>
#include <sys/epoll.h>
#include <sys/socket.h>

extern "C" [[noreturn]] void __chk_fail(void);
extern "C" ssize_t __recv_chk(int fd, void* buf, size_t len, size_t buflen, int flags);
extern "C" ssize_t __recvfrom_chk(int fd, void* buf, size_t len, size_t buflen, int flags,
                                  sockaddr* addr, socklen_t* addrlen);

using namespace green;

namespace {

ssize_t green_recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* addr,
                       socklen_t* addrlen)
{
    fd_info info;
    if (!hooks::blocking_socket(fd, flags, info))
        return GREEN_REAL(recvfrom)(fd, buf, len, flags, addr, addrlen);
    hooks::io_wait w(fd, info, EPOLLIN, info.recv_timeout);
    // A receive of nothing waits for data all the same (the kernel's target is 0 bytes, but it
    // sleeps once): one attempt and a park do that; MSG_WAITALL has nothing more to wait for.
    if ((flags & MSG_WAITALL) && info.stream() && !(flags & MSG_PEEK) && len > 0) {
        auto* bytes = static_cast<char*>(buf);
        return hooks::transfer_all(w, len, [&](size_t done, size_t limit, int nonblock) {
            return GREEN_REAL(recvfrom)(fd, bytes + done, limit, flags | nonblock, addr, addrlen);
        });
    }
    return hooks::transfer_once(w, [&](int nonblock) {
        return GREEN_REAL(recvfrom)(fd, buf, len, flags | nonblock, addr, addrlen);
    });
}

}  // namespace

GREEN_HOOK ssize_t recv(int fd, void* buf, size_t len, int flags)
{
    if (!hooks::green_caller())
        return GREEN_REAL(recv)(fd, buf, len, flags);
    return green_recvfrom(fd, buf, len, flags, nullptr, nullptr);
}

GREEN_HOOK ssize_t __recv_chk(int fd, void* buf, size_t len, size_t buflen, int flags)
{
    if (len > buflen)
        __chk_fail();
    return recv(fd, buf, len, flags);
}

GREEN_HOOK ssize_t recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* addr,
                            socklen_t* addrlen)
{
    if (!hooks::green_caller())
        return GREEN_REAL(recvfrom)(fd, buf, len, flags, addr, addrlen);
    return green_recvfrom(fd, buf, len, flags, addr, addrlen);
}

GREEN_HOOK ssize_t __recvfrom_chk(int fd, void* buf, size_t len, size_t buflen, int flags,
                                  sockaddr* addr, socklen_t* addrlen)
{
    if (len > buflen)
        __chk_fail();
    return recvfrom(fd, buf, len, flags, addr, addrlen);
}

namespace {

// fds received with SCM_RIGHTS share their open file descriptions with whatever fds they were
// sent from, which may be this process's own: no fd is the only one of its description then.
void note_rights(const msghdr* msg, ssize_t received)
{
    if (received < 0 || !msg || !msg->msg_control || msg->msg_controllen == 0)
        return;
    for (const cmsghdr* c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(const_cast<msghdr*>(msg),
                                                                   const_cast<cmsghdr*>(c))) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            fd_table::note_descriptions_shared();
            return;
        }
    }
}

ssize_t green_recvmsg(int fd, msghdr* msg, int flags)
{
    fd_info info;
    if (!hooks::green_caller() || !hooks::blocking_socket(fd, flags, info))
        return GREEN_REAL(recvmsg)(fd, msg, flags);
    // A receive of nothing still waits for data (or a datagram, which it drops), as one attempt
    // does; MSG_WAITALL has nothing more to wait for. Sizes only a valid header has; the kernel
    // reports the rest itself.
    std::size_t total = msg && msg->msg_iovlen <= IOV_MAX
                            ? hooks::iov_total(msg->msg_iov, int(msg->msg_iovlen))
                            : 1;
    hooks::io_wait w(fd, info, EPOLLIN, info.recv_timeout);
    if ((flags & MSG_WAITALL) && info.stream() && !(flags & MSG_PEEK) && total > 0) {
        iovec* const iov = msg->msg_iov;
        const int count = int(msg->msg_iovlen);
        ssize_t r = hooks::transfer_all(
            w, total, [&](size_t done, size_t limit, int nonblock) -> ssize_t {
                hooks::iov_window window(iov, count, done, limit);
                if (!window.ok()) {
                    errno = ENOMEM;
                    return -1;
                }
                msg->msg_iov = window.data();
                msg->msg_iovlen = size_t(window.count());
                ssize_t n = GREEN_REAL(recvmsg)(fd, msg, flags | nonblock);
                msg->msg_iov = iov;
                msg->msg_iovlen = size_t(count);
                return n;
            });
        return r;
    }
    return hooks::transfer_once(w, [&](int nonblock) {
        return GREEN_REAL(recvmsg)(fd, msg, flags | nonblock);
    });
}

int green_recvmmsg(int fd, mmsghdr* vec, unsigned int vlen, int flags, timespec* timeout)
{
    fd_info info;
    if (!hooks::green_caller() || !hooks::blocking_socket(fd, flags, info) || vlen == 0)
        return GREEN_REAL(recvmmsg)(fd, vec, vlen, flags, timeout);
    // The kernel blocks for each datagram until vlen arrived, unless MSG_WAITFORONE, and looks
    // at `timeout` only after each datagram it received (recvmmsg(2), BUGS).
    std::uint64_t deadline =
        timeout ? deadline_after(now_ns(), timespec_to_ns(*timeout)) : no_deadline;
    hooks::io_wait w(fd, info, EPOLLIN, info.recv_timeout);
    unsigned got = 0;
    for (;;) {
        int r = GREEN_REAL(recvmmsg)(fd, vec + got, vlen - got, flags | MSG_DONTWAIT, nullptr);
        if (r > 0) {
            got += unsigned(r);
            if (got == vlen || (flags & MSG_WAITFORONE) || now_ns() >= deadline)
                return int(got);
            continue;
        }
        if (r < 0 && errno != EAGAIN)
            return got ? int(got) : -1;
        switch (w.wait()) {
        case hooks::wait_outcome::retry: continue;
        case hooks::wait_outcome::fail: return got ? int(got) : -1;
        case hooks::wait_outcome::block_natively: {
            int n = GREEN_REAL(recvmmsg)(fd, vec + got, vlen - got, flags, timeout);
            return n < 0 ? (got ? int(got) : -1) : int(got + unsigned(n));
        }
        }
    }
}

}  // namespace

GREEN_HOOK ssize_t recvmsg(int fd, msghdr* msg, int flags)
{
    ssize_t r = green_recvmsg(fd, msg, flags);
    note_rights(msg, r);
    return r;
}

GREEN_HOOK int recvmmsg(int fd, mmsghdr* vec, unsigned int vlen, int flags, timespec* timeout)
{
    int r = green_recvmmsg(fd, vec, vlen, flags, timeout);
    for (int i = 0; i < r; ++i)
        note_rights(&vec[i].msg_hdr, 0);
    return r;
}
