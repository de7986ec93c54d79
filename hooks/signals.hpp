// Signal dispositions as the program sets them, observed so that a handler interrupts a parked
// green call the way the kernel interrupts one blocked native thread (EINTR, or a restart with
// SA_RESTART), and so that a fault in a fiber's guard page is reported as a stack overflow.
#pragma once

#include "internal.hpp"

#include <atomic>
#include <csignal>
#include <sys/types.h>

namespace green {
struct fiber;
}

namespace green::hooks {

// A readiness wait of a green thread (poll, select, epoll_wait and their p-variants) as a
// signal handler sees it. While it exists, the trampoline marks it when a handler runs on this
// OS thread for a signal its mask (the p-variants' one; none otherwise) leaves unblocked, and
// then writes wakeup_fd(), which the wait watches with its other fds. So a handler that runs at
// any point after construction ends the wait with EINTR, even one that runs before the fiber
// has parked (no signal slips between the check and the park: the race the p-variants exist
// to avoid), and even when the handler itself makes an fd ready (as the kernel decides EINTR
// before the handler runs).
class signal_aware_wait {
public:
    explicit signal_aware_wait(const sigset_t* mask);
    ~signal_aware_wait();  // puts the thread's own mask back (if applied), then unregisters
    signal_aware_wait(const signal_aware_wait&) = delete;
    signal_aware_wait& operator=(const signal_aware_wait&) = delete;

    // Makes the wait's mask the waiting green thread's (or, with no hub, the OS thread's) until
    // destruction; signals it unblocks that are pending are delivered before this returns (and
    // mark the wait). False on failure.
    bool apply_mask();
    bool interrupted() const { return hit_ != 0; }
    // Whether the wait's mask replaces a green thread's own (else the OS thread's).
    bool masks_green_thread() const { return owner_ != nullptr; }
    // The fd the trampoline writes (one per process); -1 if it could not be made, and then only
    // the hub's own signal path (which interrupts one parked fiber) ends a wait.
    static int wakeup_fd();

    // For the trampoline: a handler for `sig` ran on this thread.
    static void note_handler_ran(int sig);

private:
    sigset_t mask_;
    sigset_t saved_{};
    bool has_mask_;
    bool applied_ = false;
    fiber* owner_ = nullptr;  // the green thread whose own mask the wait's replaces (mask_owner)
    volatile sig_atomic_t hit_ = 0;
    signal_aware_wait* next_ = nullptr;
};

// A thread's green waits for children (wait.cpp). A blocking wait that a child's exit wakes
// returns that child before the SIGCHLD handler runs (the kernel reaps first, then delivers on
// the way out). A green wait that let the handler run first, on the hub, would lose its child to
// a handler that reaps (bash's does). So from its first WNOHANG try until its last, a waiting
// green thread is linked in `waiters`, and a SIGCHLD that reaches the OS thread while the hub or
// one of those green threads runs is held back: the trampoline keeps the siginfo and writes
// `event_fd`, which the wait watches; the wait looks for its child first and then replays the
// signal to this thread. The window covers the moments the waiting green thread itself runs,
// not only its park: a child's pidfd can wake the hub a few microseconds before the kernel
// queues the SIGCHLD, and the signal then lands while the woken green thread retries its wait.
// Zero-initialised TLS (owner 0: no event_fd yet).
struct child_waiter {
    fiber* self;
    child_waiter* volatile next;
};
struct child_wait_state {
    child_waiter* volatile waiters;  // green threads of this OS thread inside a wait for children
    volatile bool deferred;
    int event_fd;
    pid_t owner;  // the process that made event_fd (a forked child makes its own)
    siginfo_t info;
};
// Set by the first ptrace request that traces (ptrace.cpp): from then on waits for children
// block natively, since they must report tracees' stops.
extern std::atomic<bool> process_traces;

// Whether a SIGCHLD reaching this thread now is held back (see above). Async-signal-safe.
bool holds_back_sigchld();
extern __thread child_wait_state child_wait_tls __attribute__((tls_model("initial-exec")));
// The OS thread's: SIGCHLD is held back per OS thread, whichever green thread runs.
inline child_wait_state& child_wait_of_thread()
{
    return on_os_thread(child_wait_tls);
}

// Whether the program's handler for `sig` has SA_RESTART (signal.cpp).
bool handler_restarts(int sig);

// Runs the program's handler for info's signal outside a kernel delivery (a signal the hub
// hands to a green thread, or one a green thread takes when it unblocks it), doing what the
// kernel does around one: SA_RESETHAND, the handler's mask blocked while it runs, SA_SIGINFO's
// arguments (a context with only uc_sigmask filled in). With no handler of the program's any
// more, the signal goes to the kernel for its disposition. Returns -1 if no handler ran, else
// whether it has SA_RESTART (signal.cpp).
int run_program_handler(const siginfo_t& info);
// Whether the program has a handler of its own for sig (signal.cpp).
bool has_program_handler(int sig);

// The running green thread whose own signal mask the program's calls change (sigmask.cpp), or
// null where the OS thread's mask is the program's (no hub, a thread the runtime keeps native,
// inside a handler, a vfork child).
fiber* mask_owner();
// Runs, on the running green thread, the handlers of the signals pending for it or held by its
// hub that its mask leaves open (after a change that opened it), as the kernel delivers them
// before the call that unblocked them returns.
void deliver_open_signals();

// Around a call that makes a process which inherits the calling thread's mask (posix_spawn,
// vfork): lend_own_mask makes the OS thread's kernel mask the running green thread's own,
// end_own_mask the census again. Nothing else runs on the thread in between.
void lend_own_mask();
void end_own_mask();

// Installs the runtime's fault handler for SIGSEGV and SIGBUS (program view: default).
void install_signal_interposition();

}  // namespace green::hooks
