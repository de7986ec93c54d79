// Synchronisation objects left to glibc: those a program sets up as process-shared, robust or
// with a priority protocol, and named semaphores. Their state must be glibc's (another process
// may use it, the kernel walks robust lists), so every call on them goes to glibc, and a green
// thread waiting on one blocks its hub thread (README). They are rare; the check costs one
// relaxed load while there are none.
#pragma once

#include <atomic>
#include <cstddef>

namespace green::hooks::real_objects {

extern std::atomic<std::size_t> count;

void add(const void* object);
void remove(const void* object);
bool contains_slow(const void* object);

inline bool contains(const void* object)
{
    return count.load(std::memory_order_relaxed) != 0 && contains_slow(object);
}

}  // namespace green::hooks::real_objects

#include "hub.hpp"
#include "internal.hpp"

#include <cerrno>
#include <cstdint>

namespace green::hooks::real_objects {

// A green thread must not block its hub on one of these: the holder may be a green thread of
// the same hub, which could then never run. So a green caller tries without blocking and
// sleeps between tries, 50 µs at first and up to 10 ms (README: the one place the runtime
// polls). `attempt` returns 0, `busy` (not yet) or another error. Returns the attempt's
// result, ETIMEDOUT at `deadline`, or EINTR if `interruptible` and a handler ran.
template <class Attempt>
int retry_while_busy(Attempt&& attempt, int busy, std::uint64_t deadline, bool interruptible)
{
    std::uint64_t pause = 50000;
    for (;;) {
        int e = attempt();
        if (e != busy)
            return e;
        std::uint64_t now = now_ns();
        if (now >= deadline)
            return ETIMEDOUT;
        std::uint64_t wake = deadline - now < pause ? deadline : now + pause;
        wake_reason r = hub::current()->sleep_until(
            wake, interruptible ? interrupt_mode::unless_restart : interrupt_mode::never);
        if (r == wake_reason::interrupted && interruptible)
            return EINTR;
        if (pause < 10000000)
            pause *= 2;
    }
}

}  // namespace green::hooks::real_objects
