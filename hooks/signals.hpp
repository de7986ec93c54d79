// Signal dispositions as the program sets them, observed so that a handler interrupts a parked
// green call the way the kernel interrupts one blocked native thread (EINTR, or a restart with
// SA_RESTART), and so that a fault in a fiber's guard page is reported as a stack overflow.
#pragma once

#include <csignal>
#include <sys/types.h>

namespace green::hooks {

// A thread's green sigsuspend/pause (sigwait.cpp): while `waiting`, the trampoline writes
// `event_fd` after running a program's handler on this thread. Initial-exec TLS: read in
// signal handlers.
struct suspend_state {
    int event_fd = -1;
    pid_t owner = 0;  // the process that made event_fd (a forked child makes its own)
    volatile bool waiting = false;
};
extern __thread suspend_state suspend_tls __attribute__((tls_model("initial-exec")));

// A thread's green wait for children (wait.cpp). A blocking wait that a child's exit wakes
// returns that child before the SIGCHLD handler runs (the kernel reaps first, then delivers on
// the way out). A parked green wait would see the handler run first, on the hub, and a handler
// that reaps (bash's does) would take the child from under it. So while `parked`, the
// trampoline defers the program's SIGCHLD handler: it keeps the siginfo and writes `event_fd`,
// which the wait watches; the wait looks for its child first and then replays the signal to
// this thread. Zero-initialised TLS (owner 0: no event_fd yet).
struct child_wait_state {
    volatile bool parked;
    volatile bool deferred;
    int event_fd;
    pid_t owner;  // the process that made event_fd (a forked child makes its own)
    siginfo_t info;
};
extern __thread child_wait_state child_wait_tls __attribute__((tls_model("initial-exec")));

// Whether the program's handler for `sig` has SA_RESTART (signal.cpp).
bool handler_restarts(int sig);

// Installs the runtime's fault handler for SIGSEGV and SIGBUS (program view: default).
void install_signal_interposition();

}  // namespace green::hooks
