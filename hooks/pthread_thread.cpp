// The thread lifecycle: pthread_create, the join family, pthread_detach, pthread_exit,
// pthread_self, pthread_getattr_np, names, scheduling attributes, CPU clocks, affinity,
// pthread_setattr_default_np and sched_yield.
//
// A pthread_create from a green caller makes a green thread on the caller's hub (with
// GREEN_THREADS=native, an OS thread as usual). Its pthread_t is the address of its
// green_thread; every call that takes a pthread_t is hooked, so glibc never sees one.
// Thread ids that glibc made (the main thread's, threads the runtime or glibc made) go to glibc.
#include "cancel.hpp"
#include "hook.hpp"
#include "signals.hpp"
#include "stack.hpp"

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/single_threaded.h>
#include <unistd.h>

using namespace green;

namespace {

green_thread* green_target(pthread_t t)
{
    auto* p = reinterpret_cast<void*>(t);
    return green_thread::is_handle(p) ? static_cast<green_thread*>(p) : nullptr;
}

// The OS thread's own id and name, cached per OS thread: a new green thread inherits its
// creator's name, as a new OS thread inherits its creator's, and asking the kernel at every
// pthread_create would cost a system call each.
struct os_thread_facts {
    int tid = 0;
    bool name_known = false;
    char name[thread_name_size] = {};
};
thread_local os_thread_facts os_thread;

int os_tid()
{
    os_thread_facts& os = on_os_thread(os_thread);
    if (!os.tid)
        os.tid = int(syscall(SYS_gettid));
    return os.tid;
}

const char* os_thread_name()
{
    os_thread_facts& os = on_os_thread(os_thread);
    if (!os.name_known) {
        prctl(PR_GET_NAME, os.name);
        os.name_known = true;
    }
    return os.name;
}

// What a thread attribute object asks for. A stack size equal to glibc's default counts as
// "not asked": such a thread gets GREEN_STACK_SIZE if the user set one.
bool read_attributes(const pthread_attr_t* attr, thread_options& o)
{
    if (!attr)
        return true;
    int detach = PTHREAD_CREATE_JOINABLE;
    pthread_attr_getdetachstate(attr, &detach);
    o.detached = detach == PTHREAD_CREATE_DETACHED;
    std::size_t size = 0;
    pthread_attr_getstacksize(attr, &size);
    // glibc keeps the top of a caller-supplied stack, null when there is none, and
    // pthread_attr_getstack reports top - size.
    void* base = nullptr;
    std::size_t supplied_size = 0;
    pthread_attr_getstack(attr, &base, &supplied_size);
    void* top = reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(base) + supplied_size);
    pthread_attr_getguardsize(attr, &o.guard_size);
    // As glibc reports it: whole pages, and none on a stack the caller supplied.
    std::size_t page = std::size_t(sysconf(_SC_PAGESIZE));
    o.guard_size = (o.guard_size + page - 1) / page * page;
    if (top) {
        o.guard_size = 0;
        o.stack_base = base;
        o.stack_size = supplied_size;
    } else {
        pthread_attr_t defaults;
        std::size_t default_size = 0;
        if (pthread_getattr_default_np(&defaults) == 0) {
            pthread_attr_getstacksize(&defaults, &default_size);
            pthread_attr_destroy(&defaults);
        }
        o.stack_size = size == default_size ? 0 : size;
    }
    return true;
}

int join(pthread_t thread, void** result, std::uint64_t deadline, bool try_only)
{
    green_thread* t = green_target(thread);
    hooks::cancel_point point;
    int e = t->join(result, deadline, try_only);
    if (e == EINTR)
        point.check();
    return e;
}

bool valid_time(const timespec* t)
{
    return t->tv_nsec >= 0 && t->tv_nsec < 1000000000L;
}

}  // namespace

GREEN_HOOK int pthread_create(pthread_t* out, const pthread_attr_t* attr,
                              void* (*start)(void*), void* arg)
{
    if (preload::native_threads || !hooks::green_caller())
        return GREEN_REAL(pthread_create)(out, attr, start, arg);
    hub* h = hub::for_this_thread();
    if (!h)
        return EAGAIN;
    thread_options o;
    o.guard_size = std::size_t(sysconf(_SC_PAGESIZE));
    read_attributes(attr, o);
    green_thread* self = green_thread::current();
    o.name = self ? self->name() : os_thread_name();
    int error = 0;
    green_thread* t = green_thread::create(*h, start, arg, o, error);
    if (!t)
        return error;
    // As glibc's first pthread_create does: libstdc++ reads this to decide whether a thread
    // reaching a function-local static under construction waits (or takes it for recursion
    // and throws) and whether shared_ptr counts need atomic operations.
    if (__libc_single_threaded)
        __libc_single_threaded = 0;
    t->os_tid = self ? self->os_tid : os_tid();
    *out = reinterpret_cast<pthread_t>(t);
    // As glibc's pthread_create does: from now on the process has threads. libstdc++ reads this
    // (std::stop_token skips the wake-up a callback's waiter on another thread needs when it
    // is set, shared_ptr counts without atomics), and glibc's own code does too.
    __libc_single_threaded = 0;
    return 0;
}

GREEN_HOOK void pthread_exit(void* result)
{
    if (green_thread* self = green_thread::current())
        self->exit(result);
    // A thread's own flow whose hub still runs green threads (main calling pthread_exit): the
    // hub moves to a new OS thread, which ends the process when the last green thread ends.
    hub* h = hub::current();
    if (h && !tls.native_only && tls.running == h->root() && h->live_fibers() > 1)
        h->hand_over_to_new_thread();
    GREEN_REAL(pthread_exit)(result);
    __builtin_unreachable();
}

GREEN_HOOK pthread_t pthread_self(void)
{
    if (green_thread* self = green_thread::current())
        return reinterpret_cast<pthread_t>(self);
    return GREEN_REAL(pthread_self)();
}

GREEN_HOOK int pthread_join(pthread_t thread, void** result)
{
    if (!green_target(thread))
        return GREEN_REAL(pthread_join)(thread, result);
    return join(thread, result, no_deadline, false);
}

GREEN_HOOK int pthread_tryjoin_np(pthread_t thread, void** result)
{
    if (!green_target(thread))
        return GREEN_REAL(pthread_tryjoin_np)(thread, result);
    return green_target(thread)->join(result, no_deadline, true);
}

GREEN_HOOK int pthread_clockjoin_np(pthread_t thread, void** result, clockid_t clock,
                                    const timespec* abstime)
{
    if (!green_target(thread))
        return GREEN_REAL(pthread_clockjoin_np)(thread, result, clock, abstime);
    if (!abstime)
        return join(thread, result, no_deadline, false);
    if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
        return EINVAL;
    // glibc checks the time only when it has to wait.
    int e = green_target(thread)->join(result, no_deadline, true);
    if (e != EBUSY)
        return e;
    if (!valid_time(abstime))
        return EINVAL;
    return join(thread, result, monotonic_deadline(clock, *abstime), false);
}

GREEN_HOOK int pthread_timedjoin_np(pthread_t thread, void** result, const timespec* abstime)
{
    if (!green_target(thread))
        return GREEN_REAL(pthread_timedjoin_np)(thread, result, abstime);
    return pthread_clockjoin_np(thread, result, CLOCK_REALTIME, abstime);
}

GREEN_HOOK int pthread_detach(pthread_t thread)
{
    if (green_thread* t = green_target(thread))
        return t->detach();
    return GREEN_REAL(pthread_detach)(thread);
}

GREEN_HOOK int pthread_getattr_np(pthread_t thread, pthread_attr_t* attr)
{
    green_thread* t = green_target(thread);
    if (!t)
        return GREEN_REAL(pthread_getattr_np)(thread, attr);
    int e = pthread_attr_init(attr);
    if (e != 0)
        return e;
    pthread_attr_setstack(attr, t->stack_low(), t->stack_size());
    pthread_attr_setguardsize(attr, t->guard_size());
    pthread_attr_setdetachstate(attr, t->detached() ? PTHREAD_CREATE_DETACHED
                                                    : PTHREAD_CREATE_JOINABLE);
    sched_param param{};
    param.sched_priority = t->sched_priority;
    pthread_attr_setschedpolicy(attr, t->sched_policy);
    pthread_attr_setschedparam(attr, &param);
    return 0;
}

GREEN_HOOK int pthread_setname_np(pthread_t thread, const char* name)
{
    green_thread* t = green_target(thread);
    if (!t) {
        int e = GREEN_REAL(pthread_setname_np)(thread, name);
        if (e == 0 && pthread_equal(thread, GREEN_REAL(pthread_self)()))
            on_os_thread(os_thread).name_known = false;
        return e;
    }
    if (std::strlen(name) >= thread_name_size)
        return ERANGE;
    t->set_name(name);
    return 0;
}

GREEN_HOOK int pthread_getname_np(pthread_t thread, char* buf, size_t size)
{
    green_thread* t = green_target(thread);
    if (!t)
        return GREEN_REAL(pthread_getname_np)(thread, buf, size);
    if (size < thread_name_size)
        return ERANGE;
    std::strcpy(buf, t->name());
    return 0;
}

GREEN_HOOK int pthread_getschedparam(pthread_t thread, int* policy, sched_param* param)
{
    green_thread* t = green_target(thread);
    if (!t)
        return GREEN_REAL(pthread_getschedparam)(thread, policy, param);
    *policy = t->sched_policy;
    param->sched_priority = t->sched_priority;
    return 0;
}

GREEN_HOOK int pthread_setschedparam(pthread_t thread, int policy, const sched_param* param)
{
    green_thread* t = green_target(thread);
    if (!t)
        return GREEN_REAL(pthread_setschedparam)(thread, policy, param);
    int low = sched_get_priority_min(policy);
    int high = sched_get_priority_max(policy);
    if (low < 0 || high < 0 || param->sched_priority < low || param->sched_priority > high)
        return EINVAL;
    t->sched_policy = policy;
    t->sched_priority = param->sched_priority;
    return 0;
}

GREEN_HOOK int pthread_setschedprio(pthread_t thread, int priority)
{
    green_thread* t = green_target(thread);
    if (!t)
        return GREEN_REAL(pthread_setschedprio)(thread, priority);
    sched_param param{};
    param.sched_priority = priority;
    return pthread_setschedparam(thread, t->sched_policy, &param);
}

GREEN_HOOK int pthread_getcpuclockid(pthread_t thread, clockid_t* clock)
{
    green_thread* t = green_target(thread);
    if (!t)
        return GREEN_REAL(pthread_getcpuclockid)(thread, clock);
    // The CPU time of the OS thread the green thread runs on (README): the kernel keeps no
    // account per green thread. The encoding is the kernel's, as glibc builds it.
    *clock = clockid_t((~clockid_t(t->os_tid)) << 3) | 2 /* CPUCLOCK_SCHED */ |
             4 /* CPUCLOCK_PERTHREAD_MASK */;
    return 0;
}

GREEN_HOOK int pthread_getaffinity_np(pthread_t thread, size_t size, cpu_set_t* set)
{
    green_thread* t = green_target(thread);
    if (!t)
        return GREEN_REAL(pthread_getaffinity_np)(thread, size, set);
    if (sched_getaffinity(t->os_tid, size, set) != 0)
        return errno;
    return 0;
}

GREEN_HOOK int pthread_setaffinity_np(pthread_t thread, size_t size, const cpu_set_t* set)
{
    green_thread* t = green_target(thread);
    if (!t)
        return GREEN_REAL(pthread_setaffinity_np)(thread, size, set);
    // Pinning one green thread would pin its whole hub: the set is checked, not applied
    // (README).
    cpu_set_t current;
    if (sched_getaffinity(t->os_tid, sizeof current, &current) != 0)
        return errno;
    return CPU_COUNT_S(size, set) > 0 ? 0 : EINVAL;
}

// The root flow of this OS thread's hub (the program's main thread, or whatever made the hub)
// if `thread` is this OS thread's own pthread_t (its TCB, which green threads with TCBs of their
// own do not run on) and another green thread of the hub signals it; else null. Such a signal
// is the root's to take, as green_target's are theirs: the kernel would hand it to whichever
// green thread runs.
static fiber* own_root_target(pthread_t thread)
{
    hub* h = hub::current();
    if (!h || !hooks::mask_owner() || tls.running == h->root() ||
        !pthread_equal(thread, reinterpret_cast<pthread_t>(h->os_tp())))
        return nullptr;
    return h->root();
}

// How a signal for a member `f` of some hub is taken (take_for_member).
enum class taking { kernel, here, handed, no_memory };

// Decides for a signal for `f`, which cannot end meanwhile: the kernel's (no handler of the
// program's and not blocked: a default action, or ignored, the process's anyway); `here`, for
// the caller to run at once (run_signal_for, after any lock is let go), when f is of the sender's
// own hub and leaves it open, as the kernel delivers at once to a running or blocked thread
// (through the hub it would wait until every green thread here parks); else handed to f, to
// wait while f blocks it (with pthread_sigqueue's value, if there is room for it).
static taking take_for_member(fiber* f, int signal, const sigval* value)
{
    bool blocked = (__atomic_load_n(&f->sigmask, __ATOMIC_RELAXED) & sig_bit(signal)) != 0;
    if (!blocked && !hooks::has_program_handler(signal))
        return taking::kernel;
    if (!blocked && f->home == tls.home && hooks::mask_owner())
        return taking::here;
    if (value && !keep_queued_value(f, signal, *value))
        return taking::no_memory;
    f->home->hand_signal_to(f, signal);
    return taking::handed;
}

// The error number for a signal taken by the runtime (not taking::kernel).
static int taken(taking how, fiber* f, int signal, const sigval* value)
{
    if (how == taking::no_memory)
        return EAGAIN;
    if (how == taking::here)
        tls.home->run_signal_for(f, sent_by_this_process(signal, value));
    return 0;
}

// A signal for a green thread, sent by this process: see take_for_member. Returns an error
// number.
static int signal_green_thread(green_thread* t, int signal, const sigval* value)
{
    auto to_kernel = [&]() -> int {
        if (!value)
            return syscall(SYS_tgkill, getpid(), t->os_tid, signal) == 0 ? 0 : errno;
        siginfo_t info = sent_by_this_process(signal, value);
        return syscall(SYS_rt_tgsigqueueinfo, getpid(), t->os_tid, signal, &info) == 0 ? 0 : errno;
    };
    if (hooks::in_signal_handler())
        // A handler may have interrupted the target's own ending, or this process's queued
        // values, under their locks: the kernel takes it, at the target's OS thread, where it is
        // its hub's root's (README, semantics).
        return to_kernel();
    taking how = taking::kernel;
    fiber* target = nullptr;
    bool alive = t->while_alive([&](fiber* f) {
        how = take_for_member(f, signal, value);
        target = f;  // if `here`: of this hub, so it cannot end before taken() runs
    });
    if (!alive || how == taking::kernel)
        return to_kernel();
    return taken(how, target, signal, value);
}

// glibc's own signals (cancellation, set*id) are kept to itself.
static bool valid_for_program(int signal)
{
    return signal >= 0 && signal < NSIG && signal != 32 && signal != 33;
}

GREEN_HOOK int pthread_kill(pthread_t thread, int signal)
{
    green_thread* t = green_target(thread);
    if (!t) {
        if (fiber* root = own_root_target(thread); root && signal > 0 && valid_for_program(signal))
            if (taking how = take_for_member(root, signal, nullptr); how != taking::kernel)
                return taken(how, root, signal, nullptr);
        return GREEN_REAL(pthread_kill)(thread, signal);
    }
    if (!valid_for_program(signal))
        return EINVAL;
    if (signal == 0)
        return 0;
    return signal_green_thread(t, signal, nullptr);
}

GREEN_HOOK int pthread_sigqueue(pthread_t thread, int signal, const sigval value)
{
    green_thread* t = green_target(thread);
    if (!t) {
        if (fiber* root = own_root_target(thread); root && signal > 0 && valid_for_program(signal))
            if (taking how = take_for_member(root, signal, &value); how != taking::kernel)
                return taken(how, root, signal, &value);
        return GREEN_REAL(pthread_sigqueue)(thread, signal, value);
    }
    if (!valid_for_program(signal))
        return EINVAL;
    if (signal == 0)
        return 0;
    return signal_green_thread(t, signal, &value);
}

GREEN_HOOK int pthread_setattr_default_np(const pthread_attr_t* attr)
{
    int e = GREEN_REAL(pthread_setattr_default_np)(attr);
    if (e == 0) {
        // The default size of new green threads follows, unless GREEN_STACK_SIZE set one.
        internal_scope scope;
        native_default_changed();
    }
    return e;
}

GREEN_HOOK int sched_yield(void)
{
    if (!hooks::green_caller() || !hub::current())
        return GREEN_REAL(sched_yield)();
    hub::current()->yield();
    return 0;
}
