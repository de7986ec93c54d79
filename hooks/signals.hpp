// Signal dispositions as the program sets them, observed so that a handler interrupts a parked
// green call the way the kernel interrupts one blocked native thread (EINTR, or a restart with
// SA_RESTART), and so that a fault in a fiber's guard page is reported as a stack overflow.
#pragma once

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

// Installs the runtime's fault handler for SIGSEGV and SIGBUS (program view: default).
void install_signal_interposition();

}  // namespace green::hooks
