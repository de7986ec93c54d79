// How a blocking transfer on a pollable fd becomes green: try it without blocking, park the
// fiber until the fd may be ready, try again, and report what the blocking call would have.
//
// The open file description is never changed (its O_NONBLOCK is shared with forked children
// and the parent shell: rule 4 of DESIGN.md). Sockets are tried with MSG_DONTWAIT; pipes and
// eventfds with preadv2/pwritev2 and RWF_NOWAIT (offset -1: the current position, as read and
// write), which the kernel refuses with EOPNOTSUPP on files that cannot honour it. Those
// (FIFOs, ttys, signalfd...) are polled first, then read or written with a size that cannot
// block.
#pragma once

#include "fd_table.hpp"
#include "internal.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

namespace green::hooks {

enum class wait_outcome { retry, fail, block_natively };

// read and write on what the fd table took for a socket failed with ENOTSOCK: the number was
// closed and reused inside libc, past the hooks. Forgets what was known (the caller looks the fd
// up again and retries); false if that is not what happened.
inline bool stale_socket(int fd, const fd_info& info, ssize_t result)
{
    if (result >= 0 || errno != ENOTSOCK || info.kind != fd_kind::socket)
        return false;
    fd_table::note_open(fd, fd_info{});
    return true;
}

// For the recv and send families: whether the program expects this call to block (a socket
// in blocking mode, without MSG_DONTWAIT); fills `info` when it looks.
inline bool blocking_socket(int fd, int flags, fd_info& info)
{
    if (flags & MSG_DONTWAIT)
        return false;
    info = fd_table::lookup(fd);
    return info.kind == fd_kind::socket && !info.nonblocking;
}

class io_wait {
public:
    // `events`: EPOLLIN or EPOLLOUT. `timeout_ns`: SO_RCVTIMEO/SO_SNDTIMEO, 0 for none; at the
    // timeout the call fails with `timeout_errno` (EAGAIN, or EINPROGRESS for connect). `call`
    // names the call for GREEN_STATS's count of calls that blocked their hub.
    io_wait(int fd, const fd_info& info, std::uint32_t events, std::uint64_t timeout_ns,
            int timeout_errno = EAGAIN, const char* call = nullptr)
        : fd_(fd), info_(info), events_(events), timeout_(timeout_ns),
          timeout_errno_(timeout_errno), call_(call)
    {
    }

    // Parks until the fd may be ready. On `fail`, errno says why: the timeout's errno, EBADF
    // (closed by another green thread), EINTR (a signal handler ran).
    wait_outcome wait();

    // Whether the transfer can proceed without blocking (pollable, non-socket fds).
    bool ready_now() const;

    // How much of `remaining` bytes one write can take without blocking, once ready_now().
    std::size_t writable_size(std::size_t remaining) const;

    const fd_info& info() const { return info_; }

    // Whether a transfer can be tried without blocking (MSG_DONTWAIT or RWF_NOWAIT).
    bool can_try() const { return info_.kind == fd_kind::socket || !info_.no_nowait; }

    // After an attempt failed: true if it failed only because the file refuses RWF_NOWAIT,
    // in which case the fd is polled from now on. Keeps errno for the caller otherwise.
    bool nowait_refused();

private:
    blocking_call_scope in_call_;  // a handler from here on interrupts the park (hub.hpp)
    int fd_;
    fd_info info_;
    std::uint32_t events_;
    std::uint64_t timeout_;
    std::uint64_t deadline_ = 0;
    int timeout_errno_;
    const char* call_;
};

// One transfer that completes as soon as anything moves (read, recv, accept...).
// attempt(nonblock) performs the call: with nonblock == MSG_DONTWAIT it must not block
// (MSG_DONTWAIT on a socket, RWF_NOWAIT otherwise); with 0 it is the plain call.
template <class Attempt>
ssize_t transfer_once(io_wait& w, Attempt&& attempt)
{
    int entry_errno = errno;  // a call that succeeds leaves errno alone, whatever was tried
    auto kept = [&](ssize_t r) {
        if (r >= 0)
            errno = entry_errno;
        return r;
    };
    for (;;) {
        if (w.can_try()) {
            ssize_t r = kept(attempt(MSG_DONTWAIT));
            if (r < 0 && w.nowait_refused())
                continue;
            if (r >= 0 || errno != EAGAIN)
                return r;
        } else if (w.ready_now()) {
            return kept(attempt(0));
        }
        switch (w.wait()) {
        case wait_outcome::retry: continue;
        case wait_outcome::fail: return -1;
        case wait_outcome::block_natively: return kept(attempt(0));
        }
    }
}

// A transfer of `total` bytes that a blocking call completes in full (write and send on
// streams, recv with MSG_WAITALL): step(done, limit, nonblock) moves at most `limit` bytes from
// offset `done`. Returns the bytes moved, or -1 only if none moved (as the kernel does when a
// signal or a timeout ends a partial transfer).
template <class Step>
ssize_t transfer_all(io_wait& w, std::size_t total, Step&& step)
{
    int entry_errno = errno;  // a call that succeeds leaves errno alone, whatever was tried
    std::size_t done = 0;
    auto partial = [&]() -> ssize_t {
        if (!done)
            return -1;
        errno = entry_errno;
        return ssize_t(done);
    };
    auto finish = [&](ssize_t r) -> ssize_t {
        if (r < 0)
            return partial();
        errno = entry_errno;
        return ssize_t(done + std::size_t(r));
    };
    if (total == 0)
        return step(0, 0, 0);  // a zero-length transfer never blocks
    while (done < total) {
        ssize_t r = -1;
        bool attempted = false;
        if (w.can_try()) {
            r = step(done, total - done, MSG_DONTWAIT);
            if (r < 0 && w.nowait_refused())
                continue;
            attempted = true;
        } else if (w.ready_now()) {
            r = step(done, w.writable_size(total - done), 0);
            attempted = true;
        }
        if (attempted) {
            if (r > 0) {
                done += std::size_t(r);
                continue;
            }
            if (r == 0)
                return finish(0);  // end of stream (MSG_WAITALL) or a zero-length datagram
            if (errno != EAGAIN)
                return partial();
        }
        switch (w.wait()) {
        case wait_outcome::retry: continue;
        case wait_outcome::fail: return partial();
        case wait_outcome::block_natively: return finish(step(done, total - done, 0));
        }
    }
    return finish(0);
}

// A window of an iovec array starting `offset` bytes in and holding at most `limit` bytes,
// for resuming a vectored transfer after a partial one.
class iov_window {
public:
    iov_window(const iovec* iov, int count, std::size_t offset, std::size_t limit);
    ~iov_window();
    iov_window(const iov_window&) = delete;
    iov_window& operator=(const iov_window&) = delete;

    iovec* data() { return iov_; }
    int count() const { return count_; }
    bool ok() const { return iov_ != nullptr || count_ == 0; }

private:
    static constexpr int inline_count = 16;
    iovec inline_[inline_count];
    iovec* iov_ = nullptr;
    int count_ = 0;
};

std::size_t iov_total(const iovec* iov, int count);

}  // namespace green::hooks
