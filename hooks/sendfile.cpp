// sendfile, sendfile64.
//
// sendfile has no flags: neither side can be tried without blocking. Its output is a socket (a
// file server's case) or a pipe, its input a file, or a socket when the output is a pipe. The
// sides that can wait wait on the hub for readiness first. Into a pipe the call then moves what
// fits, as it would natively, without waiting; into a socket it may still wait (a blocking
// socket takes all of `count`), so it runs on the offload pool (zerocopy.hpp).
#include "zerocopy.hpp"

#include "hook.hpp"

#include <sys/sendfile.h>

using namespace green;

namespace {

template <class Plain>
ssize_t green_sendfile(int out_fd, int in_fd, std::size_t count, Plain&& plain)
{
    fd_info out = fd_table::lookup(out_fd);
    fd_info in = fd_table::lookup(in_fd);
    bool out_socket = hooks::blocking_socket(out) && out.writable();
    bool out_pipe = hooks::blocking_pipe(out) && out.writable();
    // A socket is read only into a pipe: into anything else sendfile fails with EINVAL at
    // once (measured on Linux 6.18), as it does with a pipe as input.
    bool in_socket = hooks::blocking_socket(in) && in.readable() && out_pipe;
    // A zero count, a non-blocking side (whose O_NONBLOCK the kernel applies to the whole call),
    // an input that fails at once or nothing pollable: the call cannot wait on anything green.
    if (count == 0 || out.nonblocking || in.nonblocking || in.fifo ||
        (in.kind == fd_kind::socket && !out_pipe) || !(out_socket || out_pipe))
        return plain();
    bool natively = false;
    if (in_socket && hooks::await_side(in_fd, in, EPOLLIN, "sendfile", &natively) < 0)
        return -1;
    if ((out_socket || out_pipe) && !natively &&
        hooks::await_side(out_fd, out, EPOLLOUT, "sendfile", &natively) < 0)
        return -1;
    // Into a pipe, the kernel reads once, as much as the pipe has room for, and returns. A
    // socket takes all of `count` before it returns, so that call runs on the pool.
    if (out_pipe || natively)
        return plain();
    return ssize_t(hooks::offloaded([&] { return long(plain()); }));
}

}  // namespace

GREEN_HOOK ssize_t sendfile(int out_fd, int in_fd, off_t* offset, size_t count)
{
    auto plain = [&] { return GREEN_REAL(sendfile)(out_fd, in_fd, offset, count); };
    if (!hooks::green_caller())
        return plain();
    return green_sendfile(out_fd, in_fd, count, plain);
}

GREEN_HOOK ssize_t sendfile64(int out_fd, int in_fd, off64_t* offset, size_t count)
{
    auto plain = [&] { return GREEN_REAL(sendfile64)(out_fd, in_fd, offset, count); };
    if (!hooks::green_caller())
        return plain();
    return green_sendfile(out_fd, in_fd, count, plain);
}
