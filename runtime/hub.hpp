// A hub: one epoll set per OS thread that runs fibers, on a context of its own.
//
// The hub waits in its epoll set, close-on-exec and moved out of the program's range like all
// its fds, which holds every fd a fiber waits on (edge-triggered, one registration per fd
// lifetime), a timerfd for nanosecond timers, an eventfd through which other threads and signal
// handlers wake the hub, and the epoll set of a libuv loop that holds the resolver's sockets and
// timers (c-ares drives them through libuv). A park that ends for a program's fd costs one
// epoll_wait; libuv runs only when its set or one of its timers is due. Cross-thread wake-ups go
// through a queue plus that eventfd with a coalescing flag, not uv_async_send, whose round trip
// costs ~59 µs in libuv 1.44.
//
// A fiber runs until it parks, then switches straight to the next ready fiber; the hub context
// runs when none is ready (and blocks in its set) or every few batches (and polls it without
// blocking once 20 µs have passed, so I/O is never starved).
#pragma once

#include "fiber.hpp"
#include "internal.hpp"
#include "signal_mask.hpp"
#include "timer_queue.hpp"

#include <atomic>
#include <cstdint>
#include <uv.h>
#include <vector>

namespace green {

struct spawn_options {
    std::size_t stack_size = 0;  // 0: the configured default
    void* stack_base = nullptr;  // a caller-supplied stack (pthread_attr_setstack)
    bool detached = false;
    bool own_tcb = false;        // a TCB and static TLS of its own (tcb.hpp), if enabled
};

class hub {
public:
    // The calling thread's hub, made on first need; the calling flow becomes its root fiber.
    // Returns null (errno set) if the hub cannot be made.
    static hub* for_this_thread();
    static hub* current() { return tls.home; }

    // Tears down the calling thread's hub (thread exit). No fiber may be parked on it.
    // Hubs of threads other than the main one are torn down by themselves when their thread
    // exits, so a program that runs many short threads does not leak the hubs' fds.
    static void destroy_for_this_thread();

    // Around fork(): before_fork holds the list of hubs still while the process is copied,
    // after_fork_in_parent lets it go again, and abandon_after_fork, in the child, forgets
    // every hub the parent had. Only the forking thread lives on in a child, and every hub it
    // inherited shares its epoll sets with the parent's: none may poll, and no registration
    // may be dropped from them (the parent's threads still wait on those fds). So the child
    // forgets each hub's registrations and waiters without touching its epoll set, closes its
    // copies of the hubs' fds, and makes a fresh hub on its next blocking call. A green thread
    // that forked lives on as the child's only thread: the fresh hub adopts it as its root,
    // and when it ends, the child ends with status 0, as after the end of its last thread.
    static void before_fork();
    static void after_fork_in_parent();
    static void abandon_after_fork();

    // For the root flow of the calling thread, which is about to end (pthread_exit in main
    // while green threads live): hands this hub, with every fiber on it, to a new native thread
    // that runs it until the last fiber has finished and then ends the process with exit(0),
    // as the end of a process's last thread does. On success the calling thread has no hub any
    // more and is native from then on. False (errno set) if no thread could be made.
    bool hand_over_to_new_thread();

    // Creates a fiber that runs entry(arg); it is runnable at once. Returns null with errno
    // EAGAIN when no stack can be had.
    fiber* spawn(fiber_entry entry, void* arg, const spawn_options& options = {});

    // Parks the running fiber until `f` finishes, then frees it.
    void join(fiber* f);
    void detach(fiber* f);

    // Lets every other ready fiber run once.
    void yield();

    // For count_call, every slice_check_calls calls: if the running fiber has run for
    // slice_ns since it was resumed, it yields, and the hub context polls the loop (timers,
    // I/O) before it runs again.
    static void check_slice();

    // Parks the running fiber until woken (try_wake), the deadline passes or, per `mode`, a
    // signal handler runs. The caller registers whatever will wake it before calling.
    wake_reason park(std::uint64_t deadline, interrupt_mode mode);

    // Sleeps the running fiber until the monotonic deadline.
    wake_reason sleep_until(std::uint64_t deadline, interrupt_mode mode);

    // Makes a parked fiber runnable with `reason`, from any thread; false if another waker was
    // first. Not async-signal-safe (it may take the target hub's queue lock): signal handlers
    // use note_signal.
    static bool try_wake(fiber* f, wake_reason reason);

    // From a signal handler on this hub's thread: a handler for `sig` ran; interrupt one
    // parked fiber that does not block it (with SA_RESTART only those parked with
    // interrupt_mode::always).
    void note_signal(int sig, bool restart);

    // From a signal handler running on the context of `f`, this hub's running fiber: if `f` is
    // in a blocking call (blocking_call_scope), the handler interrupts that call's park, now
    // or when it comes, as it would interrupt the blocked system call.
    void note_handler_in_call(fiber* f, bool restart);

    // Signal masks (signal_mask.hpp; defined in signal_mask.cpp). Sets the mask of `f`, the
    // running fiber of this hub's thread; the thread's kernel mask follows the census.
    void set_signal_mask(fiber* f, sigbits mask);
    // From a signal handler on this hub's thread, for a signal the running fiber blocks: the
    // hub hands it to a member that does not block it. Async-signal-safe.
    void hold_signal(const siginfo_t& info);
    // Takes one signal in `open` pending for f (its own) or held by the hub, lowest first;
    // false if there is none. f is the running fiber.
    bool take_pending_signal(fiber* f, sigbits open, siginfo_t& info);
    // A thread-directed signal for `f`, a member of this hub, from any thread: if f blocks it,
    // it waits in f's sig_pending; else the hub context runs its handler for f and interrupts
    // f's parked call, as a signal the kernel sent f's thread would.
    void hand_signal_to(fiber* f, int sig);
    // The same for `f`, a member of this hub that does not block the signal, sent by the running
    // green thread of this hub: the handler runs now, in the sender's context, as the kernel
    // runs it at once on the target's thread, and f's parked call is interrupted.
    void run_signal_for(fiber* f, const siginfo_t& info);
    // The kernel mask of the hub's thread: what every member blocks.
    sigbits census_mask() const { return census_.blocked_by_all(); }
    // The signals held by the hub (sigpending).
    sigbits held_signals() const { return held_.load(std::memory_order_acquire); }
    // Runs the program's handler for a signal the hub hands to a green thread (the preload
    // sets it): -1 if no handler ran (ignored, or raised again for a default action), else
    // whether the handler has SA_RESTART.
    static inline int (*deliver_signal)(const siginfo_t& info) = nullptr;

    int poller_fd() const { return poller_fd_; }
    char* os_tp() const { return os_tp_; }
    int os_tid() const { return os_tid_; }
    // The hub's libuv loop, for runtime parts that keep handles on it (the resolver); handles
    // are added and removed from fibers or callbacks of this hub's thread only.
    uv_loop_t* loop() { return &loop_; }
    fiber* running() const { return tls.running; }
    fiber* root() const { return root_; }
    std::size_t live_fibers() const { return live_fibers_; }

    // The resolver's channel (resolver.cpp) for the lookups of this hub's green threads, and
    // what closes it when the hub is torn down. Per hub, not in TLS: a green thread's TLS is
    // its own.
    void* resolver_channel = nullptr;
    static inline void (*teardown_resolver)(hub& h) = nullptr;

    hub(const hub&) = delete;
    hub& operator=(const hub&) = delete;

private:
    hub() = default;
    ~hub();
    bool init();

    static void hub_main(void* arg, void* transfer);
    static void fiber_main(void* arg, void* transfer);
    [[noreturn]] void finish_running();
    // The green thread that forked a child ends there (abandon_after_fork).
    [[noreturn]] static void end_forked_thread();
    void abandon();

    static void* run_handed_over(void* arg);

    void make_ready(fiber* f);
    void post_remote(fiber* f);
    void preempt();
    void run_ready_batch();
    // What runs after the running fiber stops: the rest of the hub's current batch, else (at
    // most max_direct_batches times in a row) the fibers made ready since, as a new batch,
    // else the hub context, which polls the loop. A fiber that parks switches straight to the
    // next fiber: half the switches of going through the hub context, and no clock read.
    fiber* next_to_run();
    void switch_out(fiber* self);  // self has parked, yielded (made ready) or finished
    void switch_to(fiber* to);     // from the hub context
    // At every resumption of a context: `transfer` is the fiber that switched to it, whose
    // stack is checked, or freed if it finished detached. Keeps errno.
    void arrived(void* transfer);
    void reclaim(fiber* f);
    void handle_wakeups();
    void handle_signals();
    // Signal masks (signal_mask.cpp): membership of the census, and the held signals' hand-off.
    void join_census(fiber* f);
    void leave_census(fiber* f);
    void deliver_held_signals();
    void deliver_member_signals();
    bool take_held_signal(int sig, siginfo_t& info);
    fiber* member_taking(int sig);
    void interrupt_for_signal(fiber* f, bool restart);
    void check_stack(fiber* f);
    // Tracks (or untracks) every field holding one of this hub's fds, libuv's included, so
    // that a program's dup2 onto one moves it (fd_table::relocate_runtime_fd).
    void track_fd_slots(bool track);

    // Waits for events (`block`), or takes those ready now, and handles them: program fds,
    // timers, wake-ups from other threads, libuv's loop.
    void poll(bool block);
    void take_wakeups();

    uv_loop_t loop_{};
    char* os_tp_ = nullptr;      // the thread pointer of the OS thread that runs the hub
    int os_tid_ = 0;
    int poller_fd_ = -1;
    int wakeup_fd_ = -1;
    timer_queue timers_;

    fiber hub_fiber_;
    fiber* root_ = nullptr;
    fiber* ready_head_ = nullptr;  // the next batch
    fiber* ready_tail_ = nullptr;
    fiber* batch_ = nullptr;       // the rest of the batch that runs now
    // Batches begun by fibers since the hub context last ran. The bound keeps a pair of
    // fibers that wake each other from keeping the loop unpolled: every few batches the hub
    // context runs, and polls when poll_interval_ns has passed.
    unsigned direct_batches_ = 0;
    static constexpr unsigned max_direct_batches = 16;
    fiber* parked_interruptible_ = nullptr;  // doubly linked through prev/next_parked
    std::size_t live_fibers_ = 0;
    bool root_waits_for_last_fiber_ = false;  // a handed-over hub's root ends the process
    std::uint64_t next_fiber_id_ = 1;

    spinlock remote_lock_;
    std::vector<fiber*> remote_ready_;
    std::atomic<bool> wakeup_signalled_{false};
    std::atomic<unsigned> pending_signals_{0};          // handlers without SA_RESTART
    std::atomic<unsigned> pending_restart_signals_{0};  // handlers with SA_RESTART
    // Signals whose handlers ran on the hub context, since handle_signals last looked: the
    // fiber interrupted for them must not block them all.
    std::atomic<sigbits> noted_signals_{0};

    // Signal masks: the census of the members' masks (the OS thread's kernel mask is its
    // blocked_by_all), the members, and the signals held for a member that takes them, with
    // one siginfo each (a signal held twice is held once, as a standard signal pends once).
    mask_census census_;
    fiber* members_ = nullptr;
    std::atomic<sigbits> held_{0};
    std::atomic<bool> member_signals_{false};  // hand_signal_to gave a member one to take
    siginfo_t held_info_[max_signal] = {};

    // Every hub of the process, linked under a lock of the list's own (hub.cpp), so that the
    // child of a fork can forget them all. A forgotten hub never runs again: its fibers are
    // threads of the parent's, absent from the child, and waking one does nothing.
    hub* prev_hub_ = nullptr;
    hub* next_hub_ = nullptr;
    bool abandoned_ = false;
    // A fiber a handler ran on while it was switching out of a park (note_handler_in_call).
    std::atomic<fiber*> signal_target_{nullptr};
    std::atomic<bool> signal_target_restart_{false};
    std::atomic<std::uint32_t> signal_target_park_{0};
};

// Counters for GREEN_STATS; relaxed, summed over all hubs. Counting is an atomic add (~6 ns,
// a tenth of a condvar round trip), so it is done only while `enabled`: the preload turns it
// off unless GREEN_STATS asks for the counts.
struct runtime_stats {
    bool enabled = true;
    std::atomic<std::uint64_t> hubs{0};
    std::atomic<std::uint64_t> fibers{0};
    std::atomic<std::uint64_t> parks{0};
    std::atomic<std::uint64_t> fd_waits{0};
    std::atomic<std::uint64_t> sleeps{0};
    std::atomic<std::uint64_t> futex_waits{0};
};
extern runtime_stats stats;

inline void count_event(std::atomic<std::uint64_t>& counter)
{
    if (stats.enabled)
        counter.fetch_add(1, std::memory_order_relaxed);
}

// Time slices. A green thread that never parks (it busy-polls with calls that return at once)
// would keep its hub from ever running timers, I/O or other fibers; natively the kernel
// preempts it. So every hooked call that may return without parking counts down a per-thread
// counter, and every slice_check_calls calls the clock is read: past slice_ns since the fiber
// was resumed, it yields. A clock read is ~25 ns, a tenth of a read() that gives EAGAIN; one
// per 64 calls adds under half a nanosecond to each (tools/bench: bench_runtime's time-slice
// row, bench_threads' ready_read and eagain_read). The slice is 2 ms: near the kernel's
// own minimum granularity on a small machine (CFS: 0.75 ms times 1 + log2 CPUs), so a timed
// wait that ends behind a busy poller is late by about what it would be natively on a shared
// CPU, and a yield that finds nothing else to do costs ~1 µs per slice (0.05%).
constexpr std::uint32_t slice_check_calls = 64;
constexpr std::uint64_t slice_ns = 2000000;

inline void count_call()
{
    if (--tls.calls_until_clock == 0) [[unlikely]]
        hub::check_slice();
}

// True when the calling flow may park: it is not the runtime itself, not a hub context and
// not a thread the runtime keeps native. Cheap; does not create a hub.
inline bool may_park()
{
    if (tls.internal_depth != 0 || tls.native_only)
        return false;
    return tls.running == nullptr || !tls.running->is_hub;
}

}  // namespace green
