// mq_send, mq_receive, mq_timedsend, mq_timedreceive, mq_close.
//
// A message queue descriptor is an fd that polls readable when a message is queued and
// writable when there is room. Its O_NONBLOCK belongs to its open file description, so it is
// not touched: the call is tried with an absolute timeout already past (the epoch), which the
// kernel answers at once with ETIMEDOUT instead of sleeping, and otherwise exactly as the call
// the program made (EAGAIN on a non-blocking description, EMSGSIZE, EBADF...). On ETIMEDOUT
// the fiber parks on the fd until it is ready or the program's own deadline passes.
#include "blocked.hpp"
#include "cancel.hpp"
#include "fd_table.hpp"
#include "hook.hpp"
#include "wait_queue.hpp"

#include <mqueue.h>
#include <sys/epoll.h>
#include <unistd.h>

using namespace green;

namespace {

constexpr timespec already_past{0, 0};

// What the kernel checks of an absolute timeout before anything else (EINVAL).
bool valid_timeout(const timespec* t)
{
    return !t || (t->tv_sec >= 0 && t->tv_nsec >= 0 && t->tv_nsec < 1000000000L);
}

// try_now(past) makes the call with the timeout `past`; `timeout` is the program's absolute
// CLOCK_REALTIME timeout, or null to wait for ever.
template <class TryNow>
long green_mq(mqd_t mqd, std::uint32_t events, const timespec* timeout, TryNow&& try_now)
{
    if (!valid_timeout(timeout)) {
        errno = EINVAL;
        return -1;
    }
    int entry_errno = errno;
    // mq_send and mq_receive, timed or not, are cancellation points.
    hooks::cancel_point point;
    std::uint64_t deadline = timeout ? monotonic_deadline(CLOCK_REALTIME, *timeout) : no_deadline;
    fd_info info = fd_table::lookup(mqd);
    for (;;) {
        long r = try_now(&already_past);
        if (r >= 0) {
            errno = entry_errno;
            return r;
        }
        if (errno != ETIMEDOUT)
            return r;
        if (timeout && now_ns() >= deadline)
            return -1;  // ETIMEDOUT, as the kernel says of a deadline that has passed
        errno = entry_errno;
        // The queue's fd is a regular inode to fstat, so the fd table does not take it for a
        // pollable one, but the poller accepts it: it is waited on directly.
        switch (fd_table::wait(mqd, info.generation, events, deadline,
                               interrupt_mode::unless_restart)) {
        case fd_wait_result::ready: continue;
        case fd_wait_result::timed_out: errno = ETIMEDOUT; return -1;
        case fd_wait_result::closed: errno = EBADF; return -1;
        case fd_wait_result::interrupted:
            point.check();
            errno = EINTR;
            return -1;
        case fd_wait_result::not_pollable: break;
        }
        blocked::note(events == EPOLLIN ? "mq_receive" : "mq_send");
        return try_now(timeout);
    }
}

}  // namespace

GREEN_HOOK ssize_t mq_timedreceive(mqd_t mqd, char* msg, size_t len, unsigned int* prio,
                                   const struct timespec* timeout)
{
    if (!hooks::green_caller())
        return GREEN_REAL(mq_timedreceive)(mqd, msg, len, prio, timeout);
    return ssize_t(green_mq(mqd, EPOLLIN, timeout, [&](const timespec* t) {
        return long(GREEN_REAL(mq_timedreceive)(mqd, msg, len, prio, t));
    }));
}

GREEN_HOOK ssize_t mq_receive(mqd_t mqd, char* msg, size_t len, unsigned int* prio)
{
    if (!hooks::green_caller())
        return GREEN_REAL(mq_receive)(mqd, msg, len, prio);
    return ssize_t(green_mq(mqd, EPOLLIN, nullptr, [&](const timespec* t) {
        return t ? long(GREEN_REAL(mq_timedreceive)(mqd, msg, len, prio, t))
                 : long(GREEN_REAL(mq_receive)(mqd, msg, len, prio));
    }));
}

GREEN_HOOK int mq_timedsend(mqd_t mqd, const char* msg, size_t len, unsigned int prio,
                            const struct timespec* timeout)
{
    if (!hooks::green_caller())
        return GREEN_REAL(mq_timedsend)(mqd, msg, len, prio, timeout);
    return int(green_mq(mqd, EPOLLOUT, timeout, [&](const timespec* t) {
        return long(GREEN_REAL(mq_timedsend)(mqd, msg, len, prio, t));
    }));
}

GREEN_HOOK int mq_send(mqd_t mqd, const char* msg, size_t len, unsigned int prio)
{
    if (!hooks::green_caller())
        return GREEN_REAL(mq_send)(mqd, msg, len, prio);
    return int(green_mq(mqd, EPOLLOUT, nullptr, [&](const timespec* t) {
        return t ? long(GREEN_REAL(mq_timedsend)(mqd, msg, len, prio, t))
                 : long(GREEN_REAL(mq_send)(mqd, msg, len, prio));
    }));
}

// glibc's mq_close closes the fd with its own system call, past the close hook: without this,
// the fd's registration with a hub would outlive it and confuse the fd that reuses its number.
GREEN_HOOK int mq_close(mqd_t mqd)
{
    if (preload::ready())
        fd_table::note_close(mqd);
    return GREEN_REAL(mq_close)(mqd);
}
