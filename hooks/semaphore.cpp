// POSIX semaphores: sem_init'ed ones are green semaphores inside the program's sem_t; named
// (sem_open) and process-shared ones are glibc's (real_objects.hpp), as other processes use
// them too.
#include "cancel.hpp"
#include "hook.hpp"
#include "real_objects.hpp"
#include "sync.hpp"

#include <cerrno>
#include <new>
#include <semaphore.h>

using namespace green;
namespace real_objects = green::hooks::real_objects;

namespace {

static_assert(sizeof(green::semaphore) <= sizeof(sem_t));
static_assert(alignof(green::semaphore) <= alignof(sem_t));

green::semaphore& as_green(sem_t* s)
{
    return *reinterpret_cast<green::semaphore*>(s);
}

int fail(int e)
{
    errno = e;
    return -1;
}

// sem_wait and sem_timedwait are cancellation points, and end with EINTR when a handler runs.
int wait(sem_t* s, std::uint64_t deadline)
{
    hooks::cancel_point point;
    int e = as_green(s).timed_wait(deadline);
    if (e == EINTR)
        point.check();
    return e ? fail(e) : 0;
}

bool valid_time(const timespec* t)
{
    return t->tv_nsec >= 0 && t->tv_nsec < 1000000000L;
}

// A named or process-shared semaphore, waited for by a green thread.
int wait_real(sem_t* s, std::uint64_t deadline)
{
    hooks::cancel_point point;
    int e = real_objects::retry_while_busy(
        [s] { return GREEN_REAL(sem_trywait)(s) == 0 ? 0 : errno; }, EAGAIN, deadline, true);
    if (e == EINTR)
        point.check();
    return e ? fail(e) : 0;
}

}  // namespace

GREEN_HOOK int sem_init(sem_t* s, int shared, unsigned value)
{
    if (value > green::semaphore::max_value)
        return fail(EINVAL);
    if (shared)
        return GREEN_REAL(sem_init)(s, shared, value);
    new (s) green::semaphore(value);
    return 0;
}

GREEN_HOOK int sem_destroy(sem_t* s)
{
    if (real_objects::is_glibc(s))
        return GREEN_REAL(sem_destroy)(s);
    return 0;
}

GREEN_HOOK int sem_post(sem_t* s)
{
    if (real_objects::is_glibc(s))
        return GREEN_REAL(sem_post)(s);
    int e = as_green(s).post();
    return e ? fail(e) : 0;
}

GREEN_HOOK int sem_wait(sem_t* s)
{
    if (real_objects::is_glibc(s))
        return hooks::green_caller() ? wait_real(s, no_deadline) : GREEN_REAL(sem_wait)(s);
    return wait(s, no_deadline);
}

GREEN_HOOK int sem_trywait(sem_t* s)
{
    if (real_objects::is_glibc(s))
        return GREEN_REAL(sem_trywait)(s);
    int e = as_green(s).try_wait();
    if (e == EAGAIN)
        count_call();  // a loop of failed tries is a busy poll: it counts toward the slice
    return e ? fail(e) : 0;
}

GREEN_HOOK int sem_timedwait(sem_t* s, const timespec* abstime)
{
    bool real = real_objects::is_glibc(s);
    if (real && !hooks::green_caller())
        return GREEN_REAL(sem_timedwait)(s, abstime);
    if (!valid_time(abstime))
        return fail(EINVAL);
    std::uint64_t deadline = monotonic_deadline(CLOCK_REALTIME, *abstime);
    return real ? wait_real(s, deadline) : wait(s, deadline);
}

GREEN_HOOK int sem_clockwait(sem_t* s, clockid_t clock, const timespec* abstime)
{
    bool real = real_objects::is_glibc(s);
    if (real && !hooks::green_caller())
        return GREEN_REAL(sem_clockwait)(s, clock, abstime);
    if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
        return fail(EINVAL);
    if (!valid_time(abstime))
        return fail(EINVAL);
    std::uint64_t deadline = monotonic_deadline(clock, *abstime);
    return real ? wait_real(s, deadline) : wait(s, deadline);
}

GREEN_HOOK int sem_getvalue(sem_t* s, int* value)
{
    if (real_objects::is_glibc(s))
        return GREEN_REAL(sem_getvalue)(s, value);
    *value = int(as_green(s).value());
    return 0;
}
