// What sendfile, splice, tee and vmsplice share: waiting until the side that would block is
// ready, and running a call on the offload pool when no attempt can be made without blocking.
//
// A pipe side is tried with SPLICE_F_NONBLOCK, which makes only the pipe end of a transfer
// non-blocking. A socket side cannot be: the kernel takes the socket's non-blocking mode from
// its open file description alone (O_NONBLOCK, which rule 4 of DESIGN.md forbids touching), with
// no per-call flag. So a socket that is read waits for readability on the hub and is then read
// by the call itself, which returns what has arrived; a socket that is written waits for
// writability on the hub, and the call then runs on the offload pool, because a blocking socket
// takes all of `count` before it returns, however much room it had.
#pragma once

#include "blocking_io.hpp"
#include "offload.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/epoll.h>

namespace green::hooks {

// Whether the fd is a pipe or FIFO the call may wait on, or a socket, in blocking mode.
inline bool blocking_pipe(const fd_info& info)
{
    return info.kind == fd_kind::pollable && info.fifo && !info.nonblocking;
}
inline bool blocking_socket(const fd_info& info)
{
    return info.kind == fd_kind::socket && !info.nonblocking;
}

// Parks until `events` may be possible on fd, unless they are already. Returns 0 when ready
// (or when it cannot park and the call must block natively: then `*natively` is set), or -1
// with errno: EBADF (closed meanwhile), EINTR (a handler without SA_RESTART ran), EAGAIN (the
// socket's SO_RCVTIMEO/SO_SNDTIMEO passed).
inline int await_side(int fd, const fd_info& info, std::uint32_t events, const char* call,
                      bool* natively)
{
    std::uint64_t timeout = 0;
    if (info.kind == fd_kind::socket)
        timeout = events == EPOLLIN ? info.recv_timeout : info.send_timeout;
    io_wait w(fd, info, events, timeout, EAGAIN, call);
    int entry_errno = errno;
    for (;;) {
        if (w.ready_now()) {
            errno = entry_errno;
            return 0;
        }
        switch (w.wait()) {
        case wait_outcome::retry: continue;
        case wait_outcome::fail: return -1;
        case wait_outcome::block_natively:
            *natively = true;
            errno = entry_errno;
            return 0;
        }
    }
}

// Runs call() on a worker of the offload pool while the fiber parks; returns its result with
// the worker's errno. The program's fds are shared by every thread, so the worker's call is the
// program's call. The wait is not interrupted by signals (README, semantics).
template <class Call>
long offloaded(Call&& call)
{
    struct job {
        Call* call;
        long result;
        int error;
    } j{&call, -1, 0};
    offload::run(
        [](void* arg) {
            auto* j = static_cast<job*>(arg);
            int saved = errno;
            errno = 0;
            j->result = (*j->call)();
            j->error = errno;
            errno = saved;
        },
        &j);
    if (j.result < 0)
        errno = j.error;
    return j.result;
}

// A transfer whose pipe sides take SPLICE_F_NONBLOCK: attempt(SPLICE_F_NONBLOCK) must not
// block on a pipe, attempt(0) is the call as the program made it. `in` and `out` are the
// sides to wait on (-1: none) when the attempt says EAGAIN: readability of `in`, writability of
// `out`, whichever is not ready.
template <class Attempt>
long transfer_pipes(int in, const fd_info& in_info, int out, const fd_info& out_info,
                    const char* call, Attempt&& attempt)
{
    int entry_errno = errno;
    int unexplained = 0;
    for (;;) {
        long r = attempt(SPLICE_F_NONBLOCK);
        if (r >= 0) {
            errno = entry_errno;
            return r;
        }
        if (errno != EAGAIN)
            return r;
        errno = entry_errno;
        bool natively = false;
        io_wait in_wait(in, in_info, EPOLLIN, 0);
        io_wait out_wait(out, out_info, EPOLLOUT, 0);
        int w = 0;
        if (in >= 0 && !in_wait.ready_now())
            w = await_side(in, in_info, EPOLLIN, call, &natively);
        else if (out >= 0 && !out_wait.ready_now())
            w = await_side(out, out_info, EPOLLOUT, call, &natively);
        else if (++unexplained < 2)
            continue;  // both ready again already: another thread moved data; try once more
        else
            natively = true;  // EAGAIN with every side ready: leave it to the kernel
        if (w < 0)
            return -1;
        if (natively)
            return attempt(0);
        unexplained = 0;
    }
}

}  // namespace green::hooks
