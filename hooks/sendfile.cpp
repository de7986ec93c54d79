// sendfile, sendfile64.
//
// sendfile has no flags: neither side can be tried without blocking. Its output is a socket (a
// file server's case) or a pipe, its input a file or a socket. A socket that is written waits
// on the hub for writability, then the call runs on the offload pool (zerocopy.hpp); a pipe
// that is written, or a socket that is read, waits on the hub for readiness and the call then
// moves what fits or what has arrived, as it would natively, without waiting.
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
    bool in_socket = hooks::blocking_socket(in) && in.readable();
    // A zero count, a non-blocking side (whose O_NONBLOCK the kernel applies to the whole call),
    // a pipe as input (EINVAL) or nothing pollable: the call cannot wait on anything green.
    if (count == 0 || out.nonblocking || in.nonblocking || in.fifo ||
        !(out_socket || out_pipe || in_socket))
        return plain();
    bool natively = false;
    if (in_socket && hooks::await_side(in_fd, in, EPOLLIN, "sendfile", &natively) < 0)
        return -1;
    if ((out_socket || out_pipe) && !natively &&
        hooks::await_side(out_fd, out, EPOLLOUT, "sendfile", &natively) < 0)
        return -1;
    if (out_socket && !natively)
        return ssize_t(hooks::offloaded([&] { return long(plain()); }));
    return plain();
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
