// Synchronisation objects left to glibc: those a program sets up as process-shared, robust or
// with a priority protocol, and named semaphores. Their state must be glibc's (another process
// may use it, the kernel walks robust lists), so every call on them goes to glibc, and a green
// thread waiting on one blocks its hub thread or polls (README).
//
// They are told from green objects by what is inside them, so that one set up by another
// process, in memory both map, is glibc's here too: each green object (runtime/sync.hpp) keeps,
// in the word where glibc marks a process-shared object, a value glibc never writes there. The
// check is one load of a word the operation reads anyway.
#pragma once

#include "hub.hpp"
#include "internal.hpp"
#include "sync.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <pthread.h>
#include <semaphore.h>

namespace green::hooks::real_objects {

namespace detail {
inline std::uint32_t word_at(const void* object, std::size_t offset)
{
    return __atomic_load_n(reinterpret_cast<const std::uint32_t*>(
                               static_cast<const char*>(object) + offset),
                           __ATOMIC_RELAXED);
}
}  // namespace detail

// glibc's __kind: a green mutex's kind is a plain type (0-3); glibc adds its process-shared,
// robust and priority-protocol bits.
inline bool is_glibc(const pthread_mutex_t* m)
{
    return (detail::word_at(m, offsetof(__pthread_mutex_s, __kind)) & ~3u) != 0;
}

// glibc's __wrefs: bit 0 marks a process-shared condvar; a green condvar leaves that word 0.
inline bool is_glibc(const pthread_cond_t* c)
{
    return (detail::word_at(c, offsetof(__pthread_cond_s, __wrefs)) & 1u) != 0;
}

// glibc's __shared: 1 in a process-shared lock, always 0 in a green one.
inline bool is_glibc(const pthread_rwlock_t* l)
{
    return detail::word_at(l, offsetof(__pthread_rwlock_arch_t, __shared)) != 0;
}

// glibc's futex flag (0 or 128) where a green semaphore or barrier keeps its signature.
inline bool is_glibc(const sem_t* s)
{
    return detail::word_at(s, 8) != semaphore::signature;
}

inline bool is_glibc(const pthread_barrier_t* b)
{
    return detail::word_at(b, 12) != barrier::signature;
}

// A green thread must not block its hub on one of these: the holder may be a green thread of
// the same hub, which could then never run. So a green caller tries without blocking and
// sleeps between tries, 50 µs at first and up to 10 ms (README: the one place the runtime
// polls). `attempt` returns 0, `busy` (not yet) or another error. Returns the attempt's
// result, ETIMEDOUT at `deadline`, EINTR if `interruptible` and a handler ran, or EAGAIN if
// no hub can be made for the calling thread.
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
        // A green thread that forked has no hub in the child until it needs one.
        if (hub* h = hub::for_this_thread()) {
            wake_reason r = h->sleep_until(
                wake, interruptible ? interrupt_mode::unless_restart : interrupt_mode::never);
            if (r == wake_reason::interrupted && interruptible)
                return EINTR;
        } else {
            internal_scope scope;  // no hub could be made: nothing else can run here anyway
            timespec pause_ts = ns_to_timespec(wake - now);
            if (nanosleep(&pause_ts, nullptr) != 0 && errno == EINTR && interruptible)
                return EINTR;
        }
        if (pause < 10000000)
            pause *= 2;
    }
}

}  // namespace green::hooks::real_objects
