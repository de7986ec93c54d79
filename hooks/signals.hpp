// Signal dispositions as the program sets them, observed so that a handler interrupts a parked
// green call the way the kernel interrupts one blocked native thread (EINTR, or a restart with
// SA_RESTART), and so that a fault in a fiber's guard page is reported as a stack overflow.
#pragma once

#include <csignal>

namespace green::hooks {

// A green thread's wait under a temporary signal mask (ppoll, pselect, epoll_pwait,
// epoll_pwait2). While it exists, the trampoline marks it when a handler runs on this thread
// for a signal the mask leaves unblocked, and then writes wakeup_fd(), which the wait watches
// with its other fds: a handler that runs at any point after construction ends the wait, even
// one that runs before the fiber has parked, so no signal slips between the check and the park
// (the race the p-variants exist to avoid).
class masked_wait {
public:
    explicit masked_wait(const sigset_t& mask);
    ~masked_wait();  // puts the thread's own mask back (if applied), then unregisters
    masked_wait(const masked_wait&) = delete;
    masked_wait& operator=(const masked_wait&) = delete;

    // Makes `mask` the OS thread's signal mask until destruction; signals it unblocks that are
    // pending are delivered before this returns (and mark the wait). False on failure.
    bool apply();
    bool interrupted() const { return hit_ != 0; }
    // The fd the trampoline writes; -1 if it could not be made (then the wait can still be
    // interrupted only before it parks).
    static int wakeup_fd();

    // For the trampoline: a handler for `sig` ran on this thread.
    static void note_handler_ran(int sig);

private:
    sigset_t mask_;
    sigset_t saved_{};
    bool applied_ = false;
    volatile sig_atomic_t hit_ = 0;
    masked_wait* next_ = nullptr;
};

// Installs the runtime's fault handler for SIGSEGV and SIGBUS (program view: default).
void install_signal_interposition();

}  // namespace green::hooks
