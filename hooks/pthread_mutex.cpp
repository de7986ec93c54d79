// pthread_mutex_*: green mutexes (runtime/sync.hpp) kept inside the program's pthread_mutex_t.
//
// A green mutex is laid out so that glibc's static initialisers (PTHREAD_MUTEX_INITIALIZER and
// the recursive, error-checking and adaptive ones) are green mutexes of their kind as they
// stand; pthread_mutex_init writes one. Process-shared, robust and priority-protocol mutexes
// are glibc's (real_objects.hpp).
#include "hook.hpp"
#include "real_objects.hpp"
#include "sync.hpp"

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <new>
#include <pthread.h>

using namespace green;
namespace real_objects = green::hooks::real_objects;

namespace {

static_assert(sizeof(green::mutex) <= sizeof(pthread_mutex_t));
static_assert(alignof(green::mutex) <= alignof(pthread_mutex_t));

green::mutex& as_green(pthread_mutex_t* m)
{
    return *reinterpret_cast<green::mutex*>(m);
}

bool valid_time(const timespec* t)
{
    return t->tv_nsec >= 0 && t->tv_nsec < 1000000000L;
}

int timed_lock(pthread_mutex_t* m, clockid_t clock, const timespec* abstime)
{
    green::mutex& g = as_green(m);
    // As glibc: the time is looked at only when the mutex is not free.
    int e = g.try_lock();
    if (e != EBUSY)
        return e;
    if (!valid_time(abstime))
        return EINVAL;
    return g.timed_lock(monotonic_deadline(clock, *abstime));
}

// A process-shared, robust or priority-protocol mutex, locked by a green thread.
int lock_real(pthread_mutex_t* m, std::uint64_t deadline)
{
    return real_objects::retry_while_busy([m] { return GREEN_REAL(pthread_mutex_trylock)(m); },
                                          EBUSY, deadline, false);
}

}  // namespace

GREEN_HOOK int pthread_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* attr)
{
    int type = PTHREAD_MUTEX_DEFAULT;
    if (attr) {
        int shared = PTHREAD_PROCESS_PRIVATE, robust = PTHREAD_MUTEX_STALLED,
            protocol = PTHREAD_PRIO_NONE;
        pthread_mutexattr_gettype(attr, &type);
        pthread_mutexattr_getpshared(attr, &shared);
        pthread_mutexattr_getrobust(attr, &robust);
        pthread_mutexattr_getprotocol(attr, &protocol);
        if (shared != PTHREAD_PROCESS_PRIVATE || robust != PTHREAD_MUTEX_STALLED ||
            protocol != PTHREAD_PRIO_NONE)
            return GREEN_REAL(pthread_mutex_init)(m, attr);
    }
    std::memset(static_cast<void*>(m), 0, sizeof *m);
    new (m) green::mutex(green::mutex::kind(type));
    return 0;
}

GREEN_HOOK int pthread_mutex_destroy(pthread_mutex_t* m)
{
    if (real_objects::is_glibc(m))
        return GREEN_REAL(pthread_mutex_destroy)(m);
    return as_green(m).locked() ? EBUSY : 0;
}

GREEN_HOOK int pthread_mutex_lock(pthread_mutex_t* m)
{
    if (real_objects::is_glibc(m)) [[unlikely]]
        return hooks::green_caller() ? lock_real(m, no_deadline) : GREEN_REAL(pthread_mutex_lock)(m);
    return as_green(m).lock();
}

GREEN_HOOK int pthread_mutex_trylock(pthread_mutex_t* m)
{
    int e = real_objects::is_glibc(m) ? GREEN_REAL(pthread_mutex_trylock)(m)
                                      : as_green(m).try_lock();
    if (e == EBUSY)
        count_call();  // a loop of failed tries is a busy poll: it counts toward the slice
    return e;
}

GREEN_HOOK int pthread_mutex_unlock(pthread_mutex_t* m)
{
    if (real_objects::is_glibc(m)) [[unlikely]]
        return GREEN_REAL(pthread_mutex_unlock)(m);
    return as_green(m).unlock();
}

GREEN_HOOK int pthread_mutex_timedlock(pthread_mutex_t* m, const timespec* abstime)
{
    if (real_objects::is_glibc(m)) {
        if (!hooks::green_caller())
            return GREEN_REAL(pthread_mutex_timedlock)(m, abstime);
        if (!valid_time(abstime))
            return EINVAL;
        return lock_real(m, monotonic_deadline(CLOCK_REALTIME, *abstime));
    }
    return timed_lock(m, CLOCK_REALTIME, abstime);
}

GREEN_HOOK int pthread_mutex_clocklock(pthread_mutex_t* m, clockid_t clock,
                                       const timespec* abstime)
{
    if (real_objects::is_glibc(m)) {
        if (!hooks::green_caller())
            return GREEN_REAL(pthread_mutex_clocklock)(m, clock, abstime);
        if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
            return EINVAL;
        if (!valid_time(abstime))
            return EINVAL;
        return lock_real(m, monotonic_deadline(clock, *abstime));
    }
    if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
        return EINVAL;
    return timed_lock(m, clock, abstime);
}

GREEN_HOOK int pthread_mutex_consistent(pthread_mutex_t* m)
{
    if (real_objects::is_glibc(m))
        return GREEN_REAL(pthread_mutex_consistent)(m);
    return EINVAL;  // not a robust mutex
}

GREEN_HOOK int pthread_mutex_getprioceiling(const pthread_mutex_t* m, int* ceiling)
{
    if (real_objects::is_glibc(m))
        return GREEN_REAL(pthread_mutex_getprioceiling)(m, ceiling);
    return EINVAL;  // not a priority-protect mutex
}

GREEN_HOOK int pthread_mutex_setprioceiling(pthread_mutex_t* m, int ceiling, int* old)
{
    if (real_objects::is_glibc(m))
        return GREEN_REAL(pthread_mutex_setprioceiling)(m, ceiling, old);
    return EINVAL;
}
