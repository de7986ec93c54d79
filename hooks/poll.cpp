// poll, __poll, __poll_chk, ppoll, __ppoll_chk.
#include "readiness.hpp"

#include <poll.h>

extern "C" [[noreturn]] void __chk_fail(void);
extern "C" int __poll(pollfd* fds, nfds_t nfds, int timeout);
extern "C" int __poll_chk(pollfd* fds, nfds_t nfds, int timeout, size_t fdslen);
extern "C" int __ppoll_chk(pollfd* fds, nfds_t nfds, const timespec* timeout,
                           const sigset_t* mask, size_t fdslen);

using namespace green;

namespace {

// What wakes a parked poll for one pollfd. Errors and hang-ups are reported whatever was asked.
std::uint32_t watch_events(short events)
{
    std::uint32_t w = EPOLLERR;
    if (events & (POLLIN | POLLRDNORM | POLLRDBAND | POLLRDHUP))
        w |= EPOLLIN;
    if (events & (POLLOUT | POLLWRNORM | POLLWRBAND))
        w |= EPOLLOUT;
    if (events & (POLLPRI | POLLRDBAND))
        w |= EPOLLPRI;
    return w;
}

int green_poll(pollfd* fds, nfds_t nfds, std::uint64_t deadline, const timespec* timeout,
               const sigset_t* mask)
{
    static const timespec zero{};
    return hooks::wait_ready(
        "poll", deadline, mask, std::size_t(nfds),
        [&] { return GREEN_REAL(ppoll)(fds, nfds, &zero, mask); },
        [&] { return GREEN_REAL(poll)(fds, nfds, 0); },
        [&](hooks::watch_list& watches) {
            // Negative fds are ignored, as by poll; a repeated fd is watched twice (harmless).
            for (nfds_t i = 0; i < nfds; ++i)
                if (fds[i].fd >= 0)
                    watches.add(fds[i].fd, watch_events(fds[i].events));
        },
        [&] { return GREEN_REAL(ppoll)(fds, nfds, timeout, mask); });
}

int green_poll_ms(pollfd* fds, nfds_t nfds, int timeout_ms)
{
    if (timeout_ms < 0)  // any negative timeout is infinite
        return green_poll(fds, nfds, no_deadline, nullptr, nullptr);
    std::uint64_t ns = std::uint64_t(timeout_ms) * 1000000u;
    timespec ts = ns_to_timespec(ns);
    return green_poll(fds, nfds, hooks::readiness_deadline(&ns), &ts, nullptr);
}

bool valid(const timespec* t)
{
    return t->tv_sec >= 0 && t->tv_nsec >= 0 && t->tv_nsec < 1000000000L;
}

int green_ppoll(pollfd* fds, nfds_t nfds, const timespec* timeout, const sigset_t* mask)
{
    std::uint64_t ns = timeout ? timespec_to_ns(*timeout) : 0;
    return green_poll(fds, nfds, hooks::readiness_deadline(timeout ? &ns : nullptr), timeout,
                      mask);
}

}  // namespace

GREEN_HOOK int poll(pollfd* fds, nfds_t nfds, int timeout)
{
    // A zero timeout never parks (but counts toward the slice).
    if (!hooks::green_caller() || timeout == 0)
        return GREEN_REAL(poll)(fds, nfds, timeout);
    return green_poll_ms(fds, nfds, timeout);
}

GREEN_HOOK int __poll(pollfd* fds, nfds_t nfds, int timeout)
{
    return poll(fds, nfds, timeout);
}

GREEN_HOOK int __poll_chk(pollfd* fds, nfds_t nfds, int timeout, size_t fdslen)
{
    if (fdslen / sizeof(*fds) < nfds)
        __chk_fail();
    return poll(fds, nfds, timeout);
}

GREEN_HOOK int ppoll(pollfd* fds, nfds_t nfds, const timespec* timeout, const sigset_t* mask)
{
    // An invalid timeout fails at once with EINVAL, from libc.
    if (!hooks::green_caller() || (timeout && (!valid(timeout) || timespec_to_ns(*timeout) == 0)))
        return GREEN_REAL(ppoll)(fds, nfds, timeout, mask);
    return green_ppoll(fds, nfds, timeout, mask);
}

GREEN_HOOK int __ppoll_chk(pollfd* fds, nfds_t nfds, const timespec* timeout,
                           const sigset_t* mask, size_t fdslen)
{
    if (fdslen / sizeof(*fds) < nfds)
        __chk_fail();
    return ppoll(fds, nfds, timeout, mask);
}
