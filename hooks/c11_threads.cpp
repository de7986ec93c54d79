// C11 threads (<threads.h>): glibc implements them on its own pthread internals, which libgreen
// cannot see, so each is routed here through the pthread hooks, with glibc's mapping of errors.
#include "hook.hpp"

#include <cerrno>
#include <climits>
#include <pthread.h>
#include <sched.h>
#include <threads.h>
#include <time.h>

namespace {

int thrd_result(int error)
{
    switch (error) {
    case 0: return thrd_success;
    case ENOMEM: return thrd_nomem;
    case ETIMEDOUT: return thrd_timedout;
    case EBUSY: return thrd_busy;
    default: return thrd_error;
    }
}

}  // namespace

GREEN_HOOK int thrd_create(thrd_t* thread, thrd_start_t start, void* arg)
{
    // The int a C11 thread returns travels as the pointer-sized result, as in glibc; only its
    // low 32 bits are read back (thrd_join), which is all the x86-64 ABI defines of it.
    auto routine = reinterpret_cast<void* (*)(void*)>(reinterpret_cast<void (*)()>(start));
    int e = pthread_create(reinterpret_cast<pthread_t*>(thread), nullptr, routine, arg);
    return e == EAGAIN ? thrd_nomem : thrd_result(e);
}

GREEN_HOOK int thrd_join(thrd_t thread, int* result)
{
    void* r = nullptr;
    int e = pthread_join(thread, &r);
    if (e == 0 && result)
        *result = int(reinterpret_cast<std::intptr_t>(r));
    return thrd_result(e);
}

GREEN_HOOK int thrd_detach(thrd_t thread)
{
    return thrd_result(pthread_detach(thread));
}

GREEN_HOOK void thrd_exit(int result)
{
    pthread_exit(reinterpret_cast<void*>(std::intptr_t(result)));
}

GREEN_HOOK thrd_t thrd_current(void)
{
    return pthread_self();
}

GREEN_HOOK int thrd_equal(thrd_t a, thrd_t b)
{
    return a == b;
}

GREEN_HOOK int thrd_sleep(const timespec* duration, timespec* remaining)
{
    if (nanosleep(duration, remaining) == 0)
        return 0;
    return errno == EINTR ? -1 : -2;
}

GREEN_HOOK void thrd_yield(void)
{
    sched_yield();
}

GREEN_HOOK int mtx_init(mtx_t* m, int type)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, (type & mtx_recursive) ? PTHREAD_MUTEX_RECURSIVE
                                                            : PTHREAD_MUTEX_NORMAL);
    int e = pthread_mutex_init(reinterpret_cast<pthread_mutex_t*>(m), &attr);
    pthread_mutexattr_destroy(&attr);
    return thrd_result(e);
}

GREEN_HOOK void mtx_destroy(mtx_t* m)
{
    pthread_mutex_destroy(reinterpret_cast<pthread_mutex_t*>(m));
}

GREEN_HOOK int mtx_lock(mtx_t* m)
{
    return thrd_result(pthread_mutex_lock(reinterpret_cast<pthread_mutex_t*>(m)));
}

GREEN_HOOK int mtx_trylock(mtx_t* m)
{
    return thrd_result(pthread_mutex_trylock(reinterpret_cast<pthread_mutex_t*>(m)));
}

GREEN_HOOK int mtx_timedlock(mtx_t* __restrict m, const timespec* __restrict abstime)
{
    return thrd_result(pthread_mutex_timedlock(reinterpret_cast<pthread_mutex_t*>(m), abstime));
}

GREEN_HOOK int mtx_unlock(mtx_t* m)
{
    return thrd_result(pthread_mutex_unlock(reinterpret_cast<pthread_mutex_t*>(m)));
}

GREEN_HOOK int cnd_init(cnd_t* c)
{
    return thrd_result(pthread_cond_init(reinterpret_cast<pthread_cond_t*>(c), nullptr));
}

GREEN_HOOK void cnd_destroy(cnd_t* c)
{
    pthread_cond_destroy(reinterpret_cast<pthread_cond_t*>(c));
}

GREEN_HOOK int cnd_signal(cnd_t* c)
{
    return thrd_result(pthread_cond_signal(reinterpret_cast<pthread_cond_t*>(c)));
}

GREEN_HOOK int cnd_broadcast(cnd_t* c)
{
    return thrd_result(pthread_cond_broadcast(reinterpret_cast<pthread_cond_t*>(c)));
}

GREEN_HOOK int cnd_wait(cnd_t* c, mtx_t* m)
{
    return thrd_result(pthread_cond_wait(reinterpret_cast<pthread_cond_t*>(c),
                                         reinterpret_cast<pthread_mutex_t*>(m)));
}

GREEN_HOOK int cnd_timedwait(cnd_t* __restrict c, mtx_t* __restrict m,
                             const timespec* __restrict abstime)
{
    return thrd_result(pthread_cond_timedwait(reinterpret_cast<pthread_cond_t*>(c),
                                              reinterpret_cast<pthread_mutex_t*>(m), abstime));
}

GREEN_HOOK int tss_create(tss_t* key, tss_dtor_t destructor)
{
    return thrd_result(pthread_key_create(key, destructor));
}

GREEN_HOOK void tss_delete(tss_t key)
{
    pthread_key_delete(key);
}

GREEN_HOOK void* tss_get(tss_t key)
{
    return pthread_getspecific(key);
}

GREEN_HOOK int tss_set(tss_t key, void* value)
{
    return thrd_result(pthread_setspecific(key, value));
}

GREEN_HOOK void call_once(once_flag* flag, void (*function)(void))
{
    pthread_once(reinterpret_cast<pthread_once_t*>(flag), function);
}
