// epoll_wait, epoll_pwait, epoll_pwait2.
//
// The program's epoll set is waited on as one fd of the hub's poller (nested epoll: an epoll fd
// is readable while its ready list is not empty). The program's own registrations in its set
// are untouched; an fd it watches may also be registered in the hub's poller, a different set.
#include "readiness.hpp"

#include <sys/epoll.h>

using namespace green;

namespace {

template <class Block>
int green_epoll_wait(int epfd, epoll_event* events, int maxevents, std::uint64_t deadline,
                     const sigset_t* mask, Block&& block)
{
    return hooks::wait_ready(
        "epoll_wait", deadline, mask, 1,
        [&] { return GREEN_REAL(epoll_pwait)(epfd, events, maxevents, 0, mask); },
        [&] { return GREEN_REAL(epoll_wait)(epfd, events, maxevents, 0); },
        [&](hooks::watch_list& watches) { watches.add(epfd, EPOLLIN); }, block);
}

std::uint64_t ms_deadline(int timeout_ms)
{
    if (timeout_ms < 0)
        return no_deadline;
    std::uint64_t ns = std::uint64_t(timeout_ms) * 1000000u;
    return hooks::readiness_deadline(&ns);
}

}  // namespace

GREEN_HOOK int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout)
{
    // A zero timeout never parks (but counts toward the slice); the runtime's own loop
    // (libuv) always passes through.
    if (!hooks::green_caller() || timeout == 0)
        return GREEN_REAL(epoll_wait)(epfd, events, maxevents, timeout);
    return green_epoll_wait(epfd, events, maxevents, ms_deadline(timeout), nullptr, [&] {
        return GREEN_REAL(epoll_wait)(epfd, events, maxevents, timeout);
    });
}

GREEN_HOOK int epoll_pwait(int epfd, epoll_event* events, int maxevents, int timeout,
                           const sigset_t* mask)
{
    if (!hooks::green_caller() || timeout == 0)
        return GREEN_REAL(epoll_pwait)(epfd, events, maxevents, timeout, mask);
    return green_epoll_wait(epfd, events, maxevents, ms_deadline(timeout), mask, [&] {
        return GREEN_REAL(epoll_pwait)(epfd, events, maxevents, timeout, mask);
    });
}

GREEN_HOOK int epoll_pwait2(int epfd, epoll_event* events, int maxevents, const timespec* timeout,
                            const sigset_t* mask)
{
    // An invalid timeout fails at once with EINVAL, from libc; a zero one never parks.
    if (!hooks::green_caller() ||
        (timeout && (timeout->tv_sec < 0 || timeout->tv_nsec < 0 ||
                     timeout->tv_nsec >= 1000000000L || timespec_to_ns(*timeout) == 0)))
        return GREEN_REAL(epoll_pwait2)(epfd, events, maxevents, timeout, mask);
    std::uint64_t delay = timeout ? timespec_to_ns(*timeout) : 0;
    return green_epoll_wait(epfd, events, maxevents,
                            hooks::readiness_deadline(timeout ? &delay : nullptr), mask, [&] {
                                return GREEN_REAL(epoll_pwait2)(epfd, events, maxevents, timeout,
                                                                mask);
                            });
}
