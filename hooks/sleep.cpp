// sleep, usleep, nanosleep, clock_nanosleep: timers on the hub, with nanosecond deadlines.
#include "cancel.hpp"
#include "hook.hpp"

#include <cerrno>
#include <ctime>
#include <unistd.h>

using namespace green;

namespace {

bool valid(const timespec* t)
{
    return t->tv_nsec >= 0 && t->tv_nsec < 1000000000L && t->tv_sec >= 0;
}

// Sleeps the running green thread for `delay` ns. Returns 0, or EINTR with the time left.
int green_sleep(hub* h, std::uint64_t delay, std::uint64_t* left)
{
    if (delay == 0) {
        // A zero sleep still gives the others a turn, as sched_yield would.
        h->yield();
        return 0;
    }
    std::uint64_t deadline = deadline_after(now_ns(), delay);
    // Sleeps are cancellation points, and are never restarted after a handler, SA_RESTART or
    // not (signal(7)).
    hooks::cancel_point point;
    if (h->sleep_until(deadline, interrupt_mode::always) == wake_reason::interrupted) {
        point.check();
        if (left) {
            std::uint64_t now = now_ns();
            *left = deadline > now ? deadline - now : 0;
        }
        return EINTR;
    }
    return 0;
}

bool follows_monotonic_time(clockid_t clock)
{
    return clock == CLOCK_MONOTONIC || clock == CLOCK_REALTIME || clock == CLOCK_BOOTTIME ||
           clock == CLOCK_TAI;
}

}  // namespace

GREEN_HOOK int clock_nanosleep(clockid_t clock, int flags, const timespec* request,
                               timespec* remain)
{
    // CPU-time clocks and the alarm clocks are left to the kernel (they block the hub).
    if (!hooks::green_caller() || !follows_monotonic_time(clock) || !request)
        return GREEN_REAL(clock_nanosleep)(clock, flags, request, remain);
    if (!valid(request))
        return EINVAL;
    std::uint64_t delay = timespec_to_ns(*request);
    if (flags & TIMER_ABSTIME) {
        // An absolute time is turned into a delay on the monotonic clock when the sleep
        // starts; a later step of the wall clock is not followed (README).
        timespec now;
        clock_gettime(clock, &now);
        std::uint64_t now_on_clock = timespec_to_ns(now);
        if (delay <= now_on_clock)
            return 0;
        delay -= now_on_clock;
    }
    hub* h = hub::for_this_thread();
    if (!h)
        return GREEN_REAL(clock_nanosleep)(clock, flags, request, remain);
    std::uint64_t left = 0;
    int r = green_sleep(h, delay, &left);
    if (r == EINTR && remain && !(flags & TIMER_ABSTIME))
        *remain = ns_to_timespec(left);
    return r;
}

GREEN_HOOK int nanosleep(const timespec* request, timespec* remain)
{
    if (!hooks::green_caller() || !request)
        return GREEN_REAL(nanosleep)(request, remain);
    if (!valid(request)) {
        errno = EINVAL;
        return -1;
    }
    hub* h = hub::for_this_thread();
    if (!h)
        return GREEN_REAL(nanosleep)(request, remain);
    std::uint64_t left = 0;
    if (green_sleep(h, timespec_to_ns(*request), &left) == EINTR) {
        if (remain)
            *remain = ns_to_timespec(left);
        errno = EINTR;
        return -1;
    }
    return 0;
}

GREEN_HOOK int usleep(useconds_t usec)
{
    // glibc's usleep is nanosleep without a remainder.
    timespec request{time_t(usec / 1000000), long(usec % 1000000) * 1000};
    return nanosleep(&request, nullptr);
}

GREEN_HOOK unsigned int sleep(unsigned int seconds)
{
    // As glibc: the whole seconds not slept when interrupted, errno kept on success.
    int saved = errno;
    timespec request{time_t(seconds), 0};
    timespec left{};
    if (nanosleep(&request, &left) < 0)
        return unsigned(left.tv_sec);
    errno = saved;
    return 0;
}
