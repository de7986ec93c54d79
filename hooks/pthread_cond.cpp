// pthread_cond_*: green condition variables inside the program's pthread_cond_t.
//
// The clock a condattr chose is kept in the object (glibc's zero bytes, PTHREAD_COND_INITIALIZER,
// mean CLOCK_REALTIME). One implementation serves both symbol versions glibc exports
// (GLIBC_2.3.2 and the old GLIBC_2.2.5): libgreen's unversioned definitions bind references to
// either, and a green condvar keeps all its state inside the object, so the two layouts glibc
// had to tell apart do not exist here. Process-shared condvars are glibc's (real_objects.hpp).
#include "cancel.hpp"
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

struct green_cond {
    green::condvar cv;
    std::uint32_t monotonic;  // 0: CLOCK_REALTIME
};
static_assert(sizeof(green_cond) <= sizeof(pthread_cond_t));
// glibc's __wrefs, whose bit 0 marks its process-shared condvars, lies past a green one.
static_assert(sizeof(green_cond) <= offsetof(__pthread_cond_s, __wrefs));
static_assert(alignof(green_cond) <= alignof(pthread_cond_t));

green_cond& as_green(pthread_cond_t* c)
{
    return *reinterpret_cast<green_cond*>(c);
}

using cond_wait_fn = int (*)(pthread_cond_t*, pthread_mutex_t*);
using cond_timedwait_fn = int (*)(pthread_cond_t*, pthread_mutex_t*, const timespec*);

// glibc's own condvar functions, for process-shared ones: the current version, not the
// GLIBC_2.2.5 compatibility one that dlsym might find.
template <class F>
F real_cond(const char* name)
{
    return reinterpret_cast<F>(real::lookup_versioned(name, "GLIBC_2.3.2"));
}

void unlock_real_mutex(void* m)
{
    GREEN_REAL(pthread_mutex_unlock)(static_cast<pthread_mutex_t*>(m));
}

// Re-takes a glibc mutex after the wait. Its holder may be a green thread of this hub (the one
// that signalled, say, and then blocked with the mutex held): a green caller must not wait in
// glibc's lock, on a futex of the hub thread, but try and sleep as pthread_mutex_lock does.
void lock_real_mutex(void* m)
{
    auto* mutex = static_cast<pthread_mutex_t*>(m);
    if (!hooks::green_caller()) {
        GREEN_REAL(pthread_mutex_lock)(mutex);
        return;
    }
    real_objects::retry_while_busy([mutex] { return GREEN_REAL(pthread_mutex_trylock)(mutex); },
                                   EBUSY, no_deadline, false);
}

// pthread_cond_wait and pthread_cond_timedwait are cancellation points: a cancelled waiter
// re-takes the mutex and then ends (its cleanup handlers run with the mutex held).
int wait(pthread_cond_t* c, pthread_mutex_t* m, std::uint64_t deadline)
{
    hooks::cancel_point point;
    green_cond& g = as_green(c);
    int e = real_objects::is_glibc(m)
                ? g.cv.wait_with(&unlock_real_mutex, &lock_real_mutex, m, deadline)
                : g.cv.wait(*reinterpret_cast<green::mutex*>(m), deadline);
    if (e == EINTR) {
        point.check();
        e = 0;  // a stale cancellation wake-up: a spurious wake-up, which POSIX allows
    }
    return e;
}

bool valid_time(const timespec* t)
{
    return t->tv_nsec >= 0 && t->tv_nsec < 1000000000L;
}

}  // namespace

GREEN_HOOK int pthread_cond_init(pthread_cond_t* c, const pthread_condattr_t* attr)
{
    int shared = PTHREAD_PROCESS_PRIVATE;
    clockid_t clock = CLOCK_REALTIME;
    if (attr) {
        pthread_condattr_getpshared(attr, &shared);
        pthread_condattr_getclock(attr, &clock);
    }
    if (shared != PTHREAD_PROCESS_PRIVATE)
        return real_cond<int (*)(pthread_cond_t*, const pthread_condattr_t*)>(
            "pthread_cond_init")(c, attr);
    std::memset(static_cast<void*>(c), 0, sizeof *c);
    auto* g = new (c) green_cond();
    g->monotonic = clock == CLOCK_MONOTONIC;
    return 0;
}

GREEN_HOOK int pthread_cond_destroy(pthread_cond_t* c)
{
    if (real_objects::is_glibc(c))
        return real_cond<int (*)(pthread_cond_t*)>("pthread_cond_destroy")(c);
    return 0;
}

GREEN_HOOK int pthread_cond_signal(pthread_cond_t* c)
{
    if (real_objects::is_glibc(c))
        return real_cond<int (*)(pthread_cond_t*)>("pthread_cond_signal")(c);
    return as_green(c).cv.signal();
}

GREEN_HOOK int pthread_cond_broadcast(pthread_cond_t* c)
{
    if (real_objects::is_glibc(c))
        return real_cond<int (*)(pthread_cond_t*)>("pthread_cond_broadcast")(c);
    return as_green(c).cv.broadcast();
}

GREEN_HOOK int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m)
{
    if (real_objects::is_glibc(c))
        return real_cond<cond_wait_fn>("pthread_cond_wait")(c, m);
    return wait(c, m, no_deadline);
}

GREEN_HOOK int pthread_cond_timedwait(pthread_cond_t* c, pthread_mutex_t* m,
                                      const timespec* abstime)
{
    if (real_objects::is_glibc(c))
        return real_cond<cond_timedwait_fn>("pthread_cond_timedwait")(c, m, abstime);
    if (!valid_time(abstime))
        return EINVAL;
    clockid_t clock = as_green(c).monotonic ? CLOCK_MONOTONIC : CLOCK_REALTIME;
    return wait(c, m, monotonic_deadline(clock, *abstime));
}

GREEN_HOOK int pthread_cond_clockwait(pthread_cond_t* c, pthread_mutex_t* m, clockid_t clock,
                                      const timespec* abstime)
{
    if (real_objects::is_glibc(c))
        return GREEN_REAL(pthread_cond_clockwait)(c, m, clock, abstime);
    if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
        return EINVAL;
    if (!valid_time(abstime))
        return EINVAL;
    return wait(c, m, monotonic_deadline(clock, *abstime));
}
