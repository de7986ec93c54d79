// pthread_rwlock_*: green reader-writer locks inside the program's pthread_rwlock_t.
//
// The preference sits where glibc keeps it, so PTHREAD_RWLOCK_INITIALIZER (reader preference,
// glibc's default) and PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP are green locks as
// they stand. Process-shared locks are glibc's (real_objects.hpp).
#include "hook.hpp"
#include "real_objects.hpp"
#include "sync.hpp"

#include <cerrno>
#include <cstring>
#include <new>
#include <pthread.h>

using namespace green;
namespace real_objects = green::hooks::real_objects;

namespace {

static_assert(sizeof(green::rwlock) <= sizeof(pthread_rwlock_t));
static_assert(alignof(green::rwlock) <= alignof(pthread_rwlock_t));

green::rwlock& as_green(pthread_rwlock_t* l)
{
    return *reinterpret_cast<green::rwlock*>(l);
}

bool valid_time(const timespec* t)
{
    return t->tv_nsec >= 0 && t->tv_nsec < 1000000000L;
}

bool valid_clock(clockid_t clock)
{
    return clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC;
}

// The timed forms look at the time only when they would wait, as glibc's.
int timed(pthread_rwlock_t* l, clockid_t clock, const timespec* abstime, bool write)
{
    green::rwlock& g = as_green(l);
    int e = write ? g.try_wrlock() : g.try_rdlock();
    if (e != EBUSY)
        return e;
    if (!valid_time(abstime))
        return EINVAL;
    std::uint64_t deadline = monotonic_deadline(clock, *abstime);
    return write ? g.timed_wrlock(deadline) : g.timed_rdlock(deadline);
}

}  // namespace

GREEN_HOOK int pthread_rwlock_init(pthread_rwlock_t* l, const pthread_rwlockattr_t* attr)
{
    int shared = PTHREAD_PROCESS_PRIVATE;
    int kind = PTHREAD_RWLOCK_DEFAULT_NP;
    if (attr) {
        pthread_rwlockattr_getpshared(attr, &shared);
        pthread_rwlockattr_getkind_np(attr, &kind);
    }
    if (shared != PTHREAD_PROCESS_PRIVATE)
        return GREEN_REAL(pthread_rwlock_init)(l, attr);
    std::memset(static_cast<void*>(l), 0, sizeof *l);
    new (l) green::rwlock(kind == PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
                              ? green::rwlock::preference::writer
                              : green::rwlock::preference::reader);
    return 0;
}

GREEN_HOOK int pthread_rwlock_destroy(pthread_rwlock_t* l)
{
    if (real_objects::is_glibc(l))
        return GREEN_REAL(pthread_rwlock_destroy)(l);
    return 0;
}
// A process-shared rwlock locked by a green thread: glibc's wait would block the hub thread,
// and the holder may be a green thread of the same hub. So it tries and sleeps, as for a
// process-shared mutex. `abstime` null: no deadline.
int lock_real(pthread_rwlock_t* l, bool write, clockid_t clock, const timespec* abstime)
{
    auto attempt = [l, write] {
        return write ? GREEN_REAL(pthread_rwlock_trywrlock)(l)
                     : GREEN_REAL(pthread_rwlock_tryrdlock)(l);
    };
    int e = attempt();
    if (e != EBUSY)
        return e;
    if (abstime && !valid_time(abstime))
        return EINVAL;
    std::uint64_t deadline = abstime ? monotonic_deadline(clock, *abstime) : no_deadline;
    return real_objects::retry_while_busy(attempt, EBUSY, deadline, false);
}

GREEN_HOOK int pthread_rwlock_rdlock(pthread_rwlock_t* l)
{
    if (real_objects::is_glibc(l))
        return hooks::green_caller() ? lock_real(l, false, CLOCK_REALTIME, nullptr)
                                     : GREEN_REAL(pthread_rwlock_rdlock)(l);
    return as_green(l).rdlock();
}

GREEN_HOOK int pthread_rwlock_tryrdlock(pthread_rwlock_t* l)
{
    if (real_objects::is_glibc(l))
        return GREEN_REAL(pthread_rwlock_tryrdlock)(l);
    int e = as_green(l).try_rdlock();
    if (e != 0)
        count_call();  // a loop of failed tries is a busy poll: it counts toward the slice
    return e == EDEADLK ? EBUSY : e;  // glibc: the try forms never report a deadlock
}

GREEN_HOOK int pthread_rwlock_timedrdlock(pthread_rwlock_t* l, const timespec* abstime)
{
    if (real_objects::is_glibc(l))
        return hooks::green_caller() ? lock_real(l, false, CLOCK_REALTIME, abstime)
                                     : GREEN_REAL(pthread_rwlock_timedrdlock)(l, abstime);
    return timed(l, CLOCK_REALTIME, abstime, false);
}

GREEN_HOOK int pthread_rwlock_clockrdlock(pthread_rwlock_t* l, clockid_t clock,
                                          const timespec* abstime)
{
    if (real_objects::is_glibc(l) && !hooks::green_caller())
        return GREEN_REAL(pthread_rwlock_clockrdlock)(l, clock, abstime);
    if (!valid_clock(clock))
        return EINVAL;
    if (real_objects::is_glibc(l))
        return lock_real(l, false, clock, abstime);
    return timed(l, clock, abstime, false);
}

GREEN_HOOK int pthread_rwlock_wrlock(pthread_rwlock_t* l)
{
    if (real_objects::is_glibc(l))
        return hooks::green_caller() ? lock_real(l, true, CLOCK_REALTIME, nullptr)
                                     : GREEN_REAL(pthread_rwlock_wrlock)(l);
    return as_green(l).wrlock();
}

GREEN_HOOK int pthread_rwlock_trywrlock(pthread_rwlock_t* l)
{
    if (real_objects::is_glibc(l))
        return GREEN_REAL(pthread_rwlock_trywrlock)(l);
    int e = as_green(l).try_wrlock();
    if (e != 0)
        count_call();  // a loop of failed tries is a busy poll: it counts toward the slice
    return e == EDEADLK ? EBUSY : e;
}

GREEN_HOOK int pthread_rwlock_timedwrlock(pthread_rwlock_t* l, const timespec* abstime)
{
    if (real_objects::is_glibc(l))
        return hooks::green_caller() ? lock_real(l, true, CLOCK_REALTIME, abstime)
                                     : GREEN_REAL(pthread_rwlock_timedwrlock)(l, abstime);
    return timed(l, CLOCK_REALTIME, abstime, true);
}

GREEN_HOOK int pthread_rwlock_clockwrlock(pthread_rwlock_t* l, clockid_t clock,
                                          const timespec* abstime)
{
    if (real_objects::is_glibc(l) && !hooks::green_caller())
        return GREEN_REAL(pthread_rwlock_clockwrlock)(l, clock, abstime);
    if (!valid_clock(clock))
        return EINVAL;
    if (real_objects::is_glibc(l))
        return lock_real(l, true, clock, abstime);
    return timed(l, clock, abstime, true);
}

GREEN_HOOK int pthread_rwlock_unlock(pthread_rwlock_t* l)
{
    if (real_objects::is_glibc(l))
        return GREEN_REAL(pthread_rwlock_unlock)(l);
    return as_green(l).unlock();
}
