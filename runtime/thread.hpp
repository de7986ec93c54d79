// Green threads with the lifecycle of POSIX threads: a fiber plus what pthreads promise about a
// thread — a result to join, detachment, thread-specific data with destructors, a name,
// deferred cancellation with cleanup, and an exit that unwinds the thread's stack.
//
// The runtime knows nothing of how these reach the program (hooks/pthread_*.cpp turn them into
// pthread_t values and glibc's error codes); the rules are those of POSIX and glibc.
//
// A green_thread outlives its fiber until it is joined, or until it ends if detached. Join,
// detach and the end synchronise through a green mutex and condvar, so any flow may join:
// another green thread of any hub, a thread's root flow, or a native thread.
#pragma once

#include "fiber.hpp"
#include "sync.hpp"

#include <cstddef>
#include <cstdint>
#include <unwind.h>

namespace green {

class hub;

constexpr unsigned max_thread_keys = 1024;        // PTHREAD_KEYS_MAX
constexpr unsigned destructor_iterations = 4;     // PTHREAD_DESTRUCTOR_ITERATIONS
constexpr std::size_t thread_name_size = 16;      // TASK_COMM_LEN, the trailing 0 included

struct thread_options {
    std::size_t stack_size = 0;      // 0: the configured default
    void* stack_base = nullptr;      // a caller-supplied stack of stack_size bytes
    std::size_t guard_size = 0;      // as asked for; reported back by attributes()
    bool detached = false;
    const char* name = nullptr;      // the initial name (a new thread inherits its creator's)
    bool own_tcb = true;             // a TCB of its own (tcb.hpp) when the runtime has them
};

// Cancellation states and types, with glibc's values (PTHREAD_CANCEL_*).
enum class cancel_state : int { enable = 0, disable = 1 };
enum class cancel_type : int { deferred = 0, asynchronous = 1 };

class green_thread {
    static const char marker;
    const void* marker_ = &marker;  // the first member: is_handle reads it

public:
    // Scheduling attributes are recorded, not applied: green threads share their hub's OS
    // thread (README).
    int sched_policy = 0;
    int sched_priority = 0;
    int os_tid = 0;  // the OS thread of its hub (signals, CPU clock, affinity)

    using start_routine = void* (*)(void*);

    // A new green thread running start(arg) on hub `h`. Null with `error` set (EAGAIN: no
    // memory or stack).
    static green_thread* create(hub& h, start_routine start, void* arg,
                                const thread_options& options, int& error);

    // The green thread running now, or null for any other flow.
    static green_thread* current()
    {
        fiber* f = tls.running;
        return f ? f->thread : nullptr;
    }

    // Whether `p` (a pthread_t) designates a green thread. glibc's descriptors start with a
    // pointer to themselves; a green_thread starts with a pointer to a marker, never itself.
    static bool is_handle(const void* p)
    {
        return p && *static_cast<const void* const*>(p) == &marker;
    }

    // Join: 0 with the result (and the thread freed); EINVAL (detached, or someone else joins
    // it), EDEADLK (itself, or it joins the caller), EBUSY (try_only and still running),
    // ETIMEDOUT, or EINTR when the caller, at this cancellation point, was cancelled.
    int join(void** result, std::uint64_t deadline, bool try_only);
    // EINVAL when already detached. Frees the thread if it has ended.
    int detach();

    // Ends the calling green thread: unwinds its stack (C++ destructors, pthread cleanup
    // handlers), runs thread-specific destructors, then lets a joiner have `result`.
    [[noreturn]] void exit(void* result);

    // Cancellation. request_cancel marks the thread and, if its cancellation is enabled, ends
    // a park at a cancellation point. cancel_due: a cancellation must be acted on now.
    void request_cancel();
    bool cancel_due() const
    {
        return cancel_pending_.load(std::memory_order_acquire) &&
               state_ == cancel_state::enable;
    }
    bool cancel_pending() const { return cancel_pending_.load(std::memory_order_acquire); }
    cancel_state set_cancel_state(cancel_state s);
    cancel_type set_cancel_type(cancel_type t);
    cancel_type type() const { return type_; }

    // pthread cleanup handlers registered the C way (__pthread_register_cancel): an opaque
    // chain of records on the thread's stack, newest first. An exit that unwinds past the
    // frame holding the newest record calls the jumper with it; the jumper never returns.
    void* cleanup_top() const { return cleanup_top_; }
    void set_cleanup_top(void* record) { cleanup_top_ = record; }
    static void set_cleanup_jumper(void (*jump)(void* record)) { cleanup_jumper = jump; }
    // Goes on unwinding after a cleanup handler ran (__pthread_unwind_next).
    [[noreturn]] void continue_exit();

    // Thread-specific data. Keys are allocated elsewhere (the hooks use glibc's numbers);
    // the runtime keeps per green thread values and, per key, the destructor and a sequence
    // number, so that a value set under a deleted key is never seen under its successor.
    static void key_created(unsigned key, void (*destructor)(void*));
    static void key_deleted(unsigned key);
    void* specific(unsigned key) const;
    int set_specific(unsigned key, const void* value);  // ENOMEM

    // Stack bounds as pthread_getattr_np reports them.
    void* stack_low() const { return stack_low_; }
    std::size_t stack_size() const { return stack_size_; }
    std::size_t guard_size() const { return guard_size_; }
    bool detached() const { return detached_; }

    const char* name() const { return name_; }
    void set_name(const char* name);  // at most thread_name_size - 1 bytes are kept


    fiber* fib() const { return fiber_; }
    // Calls use(fiber) unless the thread has ended, keeping it from ending meanwhile (its fiber
    // lives while the thread has not ended); false if it had. From any thread; use must not
    // park.
    template <class Use>
    bool while_alive(Use&& use)
    {
        lock_.lock();
        bool alive = !ended_;
        if (alive)
            use(fiber_);
        lock_.unlock();
        return alive;
    }

    green_thread(const green_thread&) = delete;
    green_thread& operator=(const green_thread&) = delete;

private:
    green_thread() = default;
    ~green_thread();

    static void run(void* arg);
    void finish();
    void run_key_destructors();
    [[noreturn]] void unwind();
    static _Unwind_Reason_Code unwind_stop(int version, _Unwind_Action actions,
                                           _Unwind_Exception_Class exception_class,
                                           _Unwind_Exception* exception,
                                           _Unwind_Context* context, void* parameter);

    static void (*cleanup_jumper)(void* record);

    fiber* fiber_ = nullptr;
    start_routine start_ = nullptr;
    void* arg_ = nullptr;
    void* result_ = nullptr;

    mutex lock_;                    // guards ended_, detached_, joiner_
    condvar ended_cv_;
    bool ended_ = false;
    bool detached_ = false;
    std::uint64_t joiner_ = 0;      // the flow id joining, 0: none
    green_thread* joining_ = nullptr;  // the green thread this one is joining (EDEADLK check)

    std::atomic<bool> cancel_pending_{false};
    cancel_state state_ = cancel_state::enable;
    cancel_type type_ = cancel_type::deferred;
    void* cleanup_top_ = nullptr;
    bool exiting_ = false;
    void* exit_frame_ = nullptr;    // an address in run()'s frame: unwinding stops above it
    void* exit_jump_[5] = {};       // __builtin_setjmp buffer in run()
    _Unwind_Exception exception_{};

    struct key_value {
        std::uint64_t sequence;
        void* value;
    };
    key_value* values_ = nullptr;   // malloc'd, values_size_ entries
    unsigned values_size_ = 0;

    void* stack_low_ = nullptr;
    std::size_t stack_size_ = 0;
    std::size_t guard_size_ = 0;
    char name_[thread_name_size] = {};
};

}  // namespace green
