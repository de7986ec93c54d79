// A green thread: a context, its stack, and the bookkeeping a park needs. Fibers are created and
// run by a hub (hub.hpp); this header is the data, shared by the hub, the timers and the fd table.
#pragma once

#include "context.hpp"
#include "stack.hpp"

#include <atomic>
#include <cstdint>

namespace green {

class hub;
struct fiber;
class green_thread;

using fiber_entry = void (*)(void* arg);

// Why a parked fiber resumed. `waiting` is the value while it is still parked; a waker claims
// the fiber by swapping it for a reason, so that exactly one waker makes it runnable.
enum class wake_reason : int {
    waiting = 0,
    ready,        // the event it waited for happened (or a plain wake-up)
    timed_out,    // its deadline passed
    fd_closed,    // another green thread closed the fd it waited on
    interrupted,  // a signal handler ran while it was parked (EINTR)
};

// Which signals end a park with `interrupted`, mirroring what the kernel does to one blocked
// native thread.
enum class interrupt_mode : std::uint8_t {
    never,           // internal waits (join, the runtime's own locks)
    unless_restart,  // read, write, accept...: SA_RESTART handlers let the call continue
    always,          // sleeps and calls with a timeout: EINTR even with SA_RESTART (signal(7))
};

struct timer_entry {
    std::uint64_t deadline = 0;
    std::size_t heap_index = SIZE_MAX;  // SIZE_MAX: not queued
    bool queued() const { return heap_index != SIZE_MAX; }
};

// A fiber waiting on an fd, linked into that fd's slot (fd_table.cpp).
struct fd_waiter {
    fiber* owner = nullptr;
    std::uint32_t events = 0;
    fd_waiter* prev = nullptr;
    fd_waiter* next = nullptr;
    bool linked = false;
    bool shared = false;  // its hub relies on another hub's registration (fd_table.cpp)
};

enum class fiber_state : std::uint8_t { runnable, running, parked, finished };

struct thread_state;
// fiber::call_signals: a handler without SA_RESTART ran, one with it ran.
constexpr unsigned char call_signal_plain = 1;
constexpr unsigned char call_signal_restart = 2;

struct fiber {
    context ctx;
    hub* home = nullptr;
    stack stk;
    // The thread pointer this fiber runs with, and the runtime's thread_state in that TCB:
    // its own TCB (tcb.hpp) when own_tcb, else its OS thread's, shared with the hub context.
    char* tp = nullptr;
    thread_state* ts = nullptr;
    bool own_tcb = false;
    fiber_entry entry = nullptr;
    void* arg = nullptr;
    std::uint64_t id = 0;

    fiber_state state = fiber_state::runnable;
    std::atomic<int> wake{int(wake_reason::waiting)};
    interrupt_mode interruptible = interrupt_mode::never;
    int saved_errno = 0;

    fiber* next_ready = nullptr;            // the hub's ready queue
    fiber* prev_parked = nullptr;           // the hub's list of interruptible parked fibers
    fiber* next_parked = nullptr;
    timer_entry timer;
    fd_waiter waiter;

    // Cancellation (pthread_cancel): a canceller sets cancel_requested, then wakes the fiber
    // with `interrupted` if it is parked at a cancellation point; a fiber that parks at one
    // with the request already set does not stay parked (hub::park). Only the fiber itself
    // sets at_cancel_point; it is atomic because a canceller on another hub reads it.
    std::atomic<bool> cancel_requested{false};
    std::atomic<bool> at_cancel_point{false};
    green_thread* thread = nullptr;         // the POSIX-thread side of a green thread (thread.hpp)

    // A blocking call in progress (blocking_call_scope): handlers that run on this fiber's own
    // context between the call's start and its park, where the hub cannot see them, are noted
    // here (call_signal_plain, call_signal_restart) and end the park as they would end the blocked system call. Written
    // by signal handlers on this fiber's thread only.
    volatile bool in_call = false;
    volatile unsigned char call_signals = 0;
    std::atomic<std::uint32_t> park_count{0};  // which park a targeted interrupt meant

    // Signals (signal_mask.hpp): the mask the program set for this green thread, and the
    // thread-directed signals kept for it until it takes them (any thread adds to them; only
    // its own hub's thread, the fiber or its hub context, takes them). Its hub's members are
    // linked through prev/next_member.
    std::uint64_t sigmask = 0;
    std::atomic<std::uint64_t> sig_pending{0};
    std::uint64_t sigwaiting = 0;  // the set of a sigwait it is inside (atomic accesses)
    fiber* prev_member = nullptr;
    fiber* next_member = nullptr;
    bool member = false;

    fiber* joiner = nullptr;
    bool detached = false;
    bool is_hub = false;                    // the hub's own context
    bool is_root = false;                   // an OS thread's original flow, on its own stack

    void* asan_fake_stack = nullptr;        // AddressSanitizer's per-context bookkeeping
};

}  // namespace green
