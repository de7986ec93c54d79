// Thread-specific data (pthread_key_*, pthread_getspecific, pthread_setspecific) and
// pthread_once.
//
// Keys are glibc's numbers, made by glibc, so that flows that are not green threads (a thread's
// own flow, native threads) keep using glibc's storage; green threads keep their values in the
// runtime, per green thread, with the key's destructor run when they end.
#include "hook.hpp"
#include "thread.hpp"

#include <cerrno>
#include <pthread.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#include <atomic>
#include <cstdint>
#include <dlfcn.h>
#include <link.h>
#include <sanitizer/common_interface_defs.h>
#endif

using namespace green;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
namespace {

// A sanitizer keeps its per-thread state (its thread record, dynamic TLS) under pthread keys
// of its own, per OS thread: green threads are fibers to it (hub.cpp tells it of every
// switch), so its keys keep glibc's per-OS-thread values and destructors, never a green
// thread's. Its keys are told by who creates them: code of the sanitizer's runtime.
struct code_range {
    std::uintptr_t begin = 0, end = 0;
};

code_range sanitizer_code()
{
    static code_range range = [] {
        code_range r;
        Dl_info info{};
        if (!dladdr(reinterpret_cast<void*>(&__sanitizer_print_stack_trace), &info))
            return r;
        struct search {
            const void* base;
            code_range* out;
        } s{info.dli_fbase, &r};
        dl_iterate_phdr(
            [](dl_phdr_info* object, size_t, void* arg) {
                auto* s = static_cast<search*>(arg);
                for (int i = 0; i < object->dlpi_phnum; ++i) {
                    const ElfW(Phdr)& ph = object->dlpi_phdr[i];
                    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
                        continue;
                    std::uintptr_t begin = object->dlpi_addr + ph.p_vaddr;
                    std::uintptr_t end = begin + ph.p_memsz;
                    auto at = reinterpret_cast<std::uintptr_t>(s->base);
                    if (object->dlpi_addr == at || (begin <= at && at < end)) {
                        *s->out = {begin, end};
                        return 1;
                    }
                }
                return 0;
            },
            &s);
        return r;
    }();
    return range;
}

std::atomic<bool> os_thread_key[PTHREAD_KEYS_MAX];

bool is_os_thread_key(pthread_key_t key)
{
    return key < PTHREAD_KEYS_MAX && os_thread_key[key].load(std::memory_order_acquire);
}

}  // namespace

GREEN_HOOK int pthread_key_create(pthread_key_t* key, void (*destructor)(void*))
{
    auto caller = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0));
    int e = GREEN_REAL(pthread_key_create)(key, destructor);
    if (e != 0)
        return e;
    code_range sanitizer = sanitizer_code();
    bool sanitizers = sanitizer.begin <= caller && caller < sanitizer.end;
    if (*key < PTHREAD_KEYS_MAX)
        os_thread_key[*key].store(sanitizers, std::memory_order_release);
    if (!sanitizers)
        green_thread::key_created(*key, destructor);
    return e;
}
#else
namespace {
constexpr bool is_os_thread_key(pthread_key_t) { return false; }
}  // namespace

GREEN_HOOK int pthread_key_create(pthread_key_t* key, void (*destructor)(void*))
{
    int e = GREEN_REAL(pthread_key_create)(key, destructor);
    if (e == 0)
        green_thread::key_created(*key, destructor);
    return e;
}
#endif

GREEN_HOOK int pthread_key_delete(pthread_key_t key)
{
    int e = GREEN_REAL(pthread_key_delete)(key);
    if (e == 0)
        green_thread::key_deleted(key);
    return e;
}

GREEN_HOOK void* pthread_getspecific(pthread_key_t key)
{
    if (is_os_thread_key(key))
        return GREEN_REAL(pthread_getspecific)(key);
    if (green_thread* self = green_thread::current())
        return self->specific(key);
    return GREEN_REAL(pthread_getspecific)(key);
}

// glibc declares pthread_setspecific with access(none, 2): the value is stored, never read.
// GCC 12 then takes the parameter for possibly uninitialised when it is passed on.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
GREEN_HOOK int pthread_setspecific(pthread_key_t key, const void* value)
{
    if (is_os_thread_key(key))
        return GREEN_REAL(pthread_setspecific)(key, value);
    if (green_thread* self = green_thread::current())
        return self->set_specific(key, value);
    return GREEN_REAL(pthread_setspecific)(key, value);
}
#pragma GCC diagnostic pop

namespace {

// pthread_once for every flow: glibc's waits on a futex, which would block a hub whose other
// green thread runs the init routine. The control word takes glibc's values (0: not run,
// 1: running, 2: done); waiters share one mutex and condvar, since contention is rare and
// short-lived.
constexpr int once_running = 1;
constexpr int once_done = 2;
green::mutex once_lock;
green::condvar once_finished;

// An init routine that ends its thread (cancellation, pthread_exit) leaves the control as if
// pthread_once had never been called, as POSIX says, and lets a waiter run it.
struct once_reset_on_unwind {
    pthread_once_t* control;
    bool done = false;
    ~once_reset_on_unwind()
    {
        if (done)
            return;
        once_lock.lock();
        __atomic_store_n(control, 0, __ATOMIC_RELEASE);
        once_finished.broadcast();
        once_lock.unlock();
    }
};

}  // namespace

GREEN_HOOK int pthread_once(pthread_once_t* control, void (*init)(void))
{
    if (__atomic_load_n(control, __ATOMIC_ACQUIRE) == once_done)
        return 0;
    once_lock.lock();
    for (;;) {
        int state = __atomic_load_n(control, __ATOMIC_ACQUIRE);
        if (state == once_done) {
            once_lock.unlock();
            return 0;
        }
        if (state != once_running)
            break;
        once_finished.wait(once_lock);
    }
    __atomic_store_n(control, once_running, __ATOMIC_RELAXED);
    once_lock.unlock();

    once_reset_on_unwind guard{control};
    init();
    guard.done = true;

    once_lock.lock();
    __atomic_store_n(control, once_done, __ATOMIC_RELEASE);
    once_finished.broadcast();
    once_lock.unlock();
    return 0;
}
