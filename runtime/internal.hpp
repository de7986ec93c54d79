// Small pieces every part of the runtime uses: the per-OS-thread state, the scope that marks
// the runtime's own calls into libc, a spinlock, the monotonic clock and diagnostics.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <ctime>
#include <sys/syscall.h>
#include <unistd.h>

namespace green {

class hub;
struct fiber;

// Per TCB: per OS thread, and per green thread where green threads have TCBs of their own
// (tcb.hpp). Initial-exec TLS: the library is loaded at start-up (LD_PRELOAD), and the signal
// handlers read this, so it must never need a lazy allocation. The hub writes `running` and
// `os_tp` of the TCB it switches to before each switch, so they are right on whichever OS
// thread the flow runs.
struct thread_state {
    hub* home = nullptr;          // this thread's hub, once it has one
    fiber* running = nullptr;     // the fiber running on this TCB (null: none / hub context)
    char* os_tp = nullptr;        // the thread pointer of the OS thread it runs on (null: own)
    int internal_depth = 0;       // > 0 while the runtime itself calls libc
    bool native_only = false;     // threads the runtime made for itself never turn green
    // > 0 while a vfork child runs on this thread's memory, until it execs or exits (raised by
    // vfork before its system call, lowered in the parent after it): every hook called by the
    // child goes straight to libc (hooks/hook.hpp).
    int vfork_depth = 0;
    // > 0 while a program's signal handler runs on this thread (raised by the runtime's
    // trampoline): every hook goes straight to libc, taking no lock the interrupted code may
    // hold and never parking, and no time slice ends inside it (hub::check_slice): a switch
    // from inside a handler would let other green threads run in the middle of the code it
    // interrupted.
    int signal_depth = 0;
    // The running fiber's time slice (hub::count_call): calls left before the clock is read,
    // and when the slice was first timed (0: not yet since the fiber was resumed).
    std::uint32_t calls_until_clock = 1;
    std::uint64_t slice_began = 0;
};

extern __thread thread_state tls __attribute__((tls_model("initial-exec")));

// State that belongs to the OS thread rather than to the flow running on it (what signal
// handlers and the kernel see per thread: a thread's pending SIGCHLD, its readiness waits):
// the OS thread's copy of the static-TLS variable `v`, whichever TCB is current. Static TLS
// lies at the same offset from every thread pointer. Async-signal-safe.
template <class T>
T& on_os_thread(T& v)
{
    char* os = tls.os_tp;
    if (!os)
        return v;
    char* self = static_cast<char*>(__builtin_thread_pointer());
    return *reinterpret_cast<T*>(reinterpret_cast<char*>(&v) - self + os);
}

// Marks the runtime's own calls into libc (libuv, c-ares, diagnostics): an interposed call made
// inside this scope must go straight to libc. Nests.
class internal_scope {
public:
    internal_scope() { ++tls.internal_depth; }
    ~internal_scope() { --tls.internal_depth; }
    internal_scope(const internal_scope&) = delete;
    internal_scope& operator=(const internal_scope&) = delete;
};

// Puts errno back as it was when it goes: for helpers whose own calls may fail on the way to
// a result the program sees as a success (libuv's "preserves errno").
class errno_keeper {
public:
    errno_keeper() : saved_(errno) {}
    ~errno_keeper() { errno = saved_; }
    errno_keeper(const errno_keeper&) = delete;
    errno_keeper& operator=(const errno_keeper&) = delete;

private:
    int saved_;
};

// A blocking call of the running fiber, from its start to its return: a signal handler that runs
// on the fiber's own context meanwhile (before it parks: the window where the system call would
// already have been blocked natively) interrupts the call's park as it would interrupt the
// system call (hub::note_handler_in_call). Harmless on flows that are not fibers.
class blocking_call_scope {
public:
    blocking_call_scope();
    ~blocking_call_scope();
    blocking_call_scope(const blocking_call_scope&) = delete;
    blocking_call_scope& operator=(const blocking_call_scope&) = delete;

private:
    fiber* self_;
};

// While it lives, the running fiber is not at a cancellation point (a wait that is one
// re-takes a lock, which is not). Harmless on flows that are not fibers.
class cancel_point_pause {
public:
    cancel_point_pause();
    ~cancel_point_pause();
    cancel_point_pause(const cancel_point_pause&) = delete;
    cancel_point_pause& operator=(const cancel_point_pause&) = delete;

private:
    bool was_ = false;
};

// For critical sections of a few instructions shared between OS threads. It must not use
// pthread_mutex: under libgreen that symbol is the program's, and may itself park.
class spinlock {
public:
    void lock()
    {
        for (unsigned spins = 0; flag_.exchange(true, std::memory_order_acquire); ++spins) {
            if (spins < 64)
                __builtin_ia32_pause();
            else
                syscall(SYS_sched_yield);  // the holder was preempted; let it run
        }
    }
    void unlock() { flag_.store(false, std::memory_order_release); }
    // In the child of fork, whose only thread is the one that forked: a holder other than the
    // caller no longer exists. Writes only a lock that is held (the page stays shared).
    void release_after_fork()
    {
        if (flag_.load(std::memory_order_relaxed))
            flag_.store(false, std::memory_order_relaxed);
    }

private:
    std::atomic<bool> flag_{false};
};

class spinlock_guard {
public:
    explicit spinlock_guard(spinlock& l) : lock_(l) { lock_.lock(); }
    ~spinlock_guard() { lock_.unlock(); }
    spinlock_guard(const spinlock_guard&) = delete;
    spinlock_guard& operator=(const spinlock_guard&) = delete;

private:
    spinlock& lock_;
};

inline std::uint64_t now_ns()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::uint64_t(ts.tv_sec) * 1000000000u + std::uint64_t(ts.tv_nsec);
}

inline std::uint64_t timespec_to_ns(const timespec& ts)
{
    return std::uint64_t(ts.tv_sec) * 1000000000u + std::uint64_t(ts.tv_nsec);
}

inline timespec ns_to_timespec(std::uint64_t ns)
{
    return timespec{time_t(ns / 1000000000u), long(ns % 1000000000u)};
}

// Adds without wrapping: a timeout of years is "never".
inline std::uint64_t deadline_after(std::uint64_t now, std::uint64_t delay)
{
    return delay > UINT64_MAX - now ? UINT64_MAX : now + delay;
}

constexpr std::uint64_t no_deadline = UINT64_MAX;

}  // namespace green
