// pthread_barrier_* and pthread_spin_*.
//
// Barriers are green barriers inside the program's pthread_barrier_t (process-shared ones are
// glibc's). Spin locks keep glibc's representation (0 free, 1 held), so any mix of callers
// agrees on them; a green thread that finds one held gives the others a turn between tries,
// since the holder may be a green thread of the same hub that cannot run while it spins.
#include "hook.hpp"
#include "real_objects.hpp"
#include "sync.hpp"

#include <cerrno>
#include <climits>
#include <new>
#include <pthread.h>

using namespace green;
namespace real_objects = green::hooks::real_objects;

namespace {

static_assert(sizeof(green::barrier) <= sizeof(pthread_barrier_t));
static_assert(alignof(green::barrier) <= alignof(pthread_barrier_t));

}  // namespace

GREEN_HOOK int pthread_barrier_init(pthread_barrier_t* b, const pthread_barrierattr_t* attr,
                                    unsigned count)
{
    if (count == 0 || count > unsigned(INT_MAX))
        return EINVAL;
    int shared = PTHREAD_PROCESS_PRIVATE;
    if (attr)
        pthread_barrierattr_getpshared(attr, &shared);
    if (shared != PTHREAD_PROCESS_PRIVATE)
        return GREEN_REAL(pthread_barrier_init)(b, attr, count);
    new (b) green::barrier(count);
    return 0;
}

GREEN_HOOK int pthread_barrier_destroy(pthread_barrier_t* b)
{
    if (real_objects::is_glibc(b))
        return GREEN_REAL(pthread_barrier_destroy)(b);
    return 0;
}

GREEN_HOOK int pthread_barrier_wait(pthread_barrier_t* b)
{
    if (real_objects::is_glibc(b))
        return GREEN_REAL(pthread_barrier_wait)(b);
    return reinterpret_cast<green::barrier*>(b)->wait() ? PTHREAD_BARRIER_SERIAL_THREAD : 0;
}

GREEN_HOOK int pthread_spin_init(pthread_spinlock_t* l, int)
{
    __atomic_store_n(l, 0, __ATOMIC_RELEASE);
    return 0;
}

GREEN_HOOK int pthread_spin_destroy(pthread_spinlock_t*)
{
    return 0;
}

GREEN_HOOK int pthread_spin_lock(pthread_spinlock_t* l)
{
    for (;;) {
        if (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE) == 0)
            return 0;
        for (unsigned spins = 0; __atomic_load_n(l, __ATOMIC_RELAXED) != 0; ++spins) {
            hub* h = hub::current();
            if (h && hooks::green_caller() && spins >= 64)
                h->yield();  // the holder may be a green thread of this hub
            else
                __builtin_ia32_pause();
        }
    }
}

GREEN_HOOK int pthread_spin_trylock(pthread_spinlock_t* l)
{
    return __atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE) == 0 ? 0 : EBUSY;
}

GREEN_HOOK int pthread_spin_unlock(pthread_spinlock_t* l)
{
    __atomic_store_n(l, 0, __ATOMIC_RELEASE);
    return 0;
}
