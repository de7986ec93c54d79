// splice, tee, vmsplice.
//
// Their pipe ends are tried with SPLICE_F_NONBLOCK, and on EAGAIN the fiber parks on the pipe
// end that is not ready. splice's other end may be a socket: one that is read waits for
// readability first, one that is written waits for writability and the call then runs on the
// offload pool (zerocopy.hpp). A call the program made with SPLICE_F_NONBLOCK, or on an end in
// non-blocking mode (which the kernel applies to the whole call), passes straight through.
#include "zerocopy.hpp"

#include "hook.hpp"

#include <fcntl.h>

using namespace green;

GREEN_HOOK ssize_t splice(int fd_in, off64_t* off_in, int fd_out, off64_t* off_out, size_t len,
                          unsigned int flags)
{
    auto call = [&](unsigned int extra) {
        return GREEN_REAL(splice)(fd_in, off_in, fd_out, off_out, len, flags | extra);
    };
    if (!hooks::green_caller() || (flags & SPLICE_F_NONBLOCK) || len == 0)
        return call(0);
    fd_info in = fd_table::lookup(fd_in);
    fd_info out = fd_table::lookup(fd_out);
    bool in_pipe = hooks::blocking_pipe(in) && in.readable();
    bool out_pipe = hooks::blocking_pipe(out) && out.writable();
    // One end must be a pipe (EINVAL otherwise), and neither may be non-blocking.
    if (!(in_pipe || out_pipe) || in.nonblocking || out.nonblocking)
        return call(0);
    bool natively = false;
    if (hooks::blocking_socket(out) && out.writable()) {
        if (hooks::await_side(fd_in, in, EPOLLIN, "splice", &natively) < 0)
            return -1;
        if (!natively && hooks::await_side(fd_out, out, EPOLLOUT, "splice", &natively) < 0)
            return -1;
        if (natively)
            return call(0);
        return ssize_t(hooks::offloaded([&] { return long(call(0)); }));
    }
    if (hooks::blocking_socket(in) && in.readable()) {
        // The socket is read by the call once it has data; the pipe end takes the flag.
        int entry_errno = errno;
        for (;;) {
            if (hooks::await_side(fd_in, in, EPOLLIN, "splice", &natively) < 0)
                return -1;
            if (natively)
                return call(0);
            ssize_t r = hooks::transfer_pipes(-1, in, fd_out, out, "splice", call);
            if (r >= 0)
                errno = entry_errno;
            if (r >= 0 || errno != EAGAIN)
                return r;
        }
    }
    return ssize_t(hooks::transfer_pipes(in_pipe ? fd_in : -1, in, out_pipe ? fd_out : -1, out,
                                         "splice", call));
}

GREEN_HOOK ssize_t tee(int fd_in, int fd_out, size_t len, unsigned int flags)
{
    auto call = [&](unsigned int extra) {
        return GREEN_REAL(tee)(fd_in, fd_out, len, flags | extra);
    };
    if (!hooks::green_caller() || (flags & SPLICE_F_NONBLOCK) || len == 0)
        return call(0);
    fd_info in = fd_table::lookup(fd_in);
    fd_info out = fd_table::lookup(fd_out);
    if (!hooks::blocking_pipe(in) || !hooks::blocking_pipe(out) || !in.readable() ||
        !out.writable())
        return call(0);
    return ssize_t(hooks::transfer_pipes(fd_in, in, fd_out, out, "tee", call));
}

GREEN_HOOK ssize_t vmsplice(int fd, const struct iovec* iov, size_t nr_segs, unsigned int flags)
{
    auto call = [&](unsigned int extra) {
        return GREEN_REAL(vmsplice)(fd, iov, nr_segs, flags | extra);
    };
    if (!hooks::green_caller() || (flags & SPLICE_F_NONBLOCK))
        return call(0);
    fd_info info = fd_table::lookup(fd);
    if (!hooks::blocking_pipe(info))
        return call(0);
    // The kernel fills a pipe through an fd open for writing (O_RDWR included) and drains it
    // through one open only for reading.
    if (info.writable())
        return ssize_t(hooks::transfer_pipes(-1, info, fd, info, "vmsplice", call));
    return ssize_t(hooks::transfer_pipes(fd, info, -1, info, "vmsplice", call));
}
