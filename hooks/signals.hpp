// Signal dispositions as the program sets them, observed so that a handler interrupts a parked
// green call the way the kernel interrupts one blocked native thread (EINTR, or a restart with
// SA_RESTART), and so that a fault in a fiber's guard page is reported as a stack overflow.
#pragma once

namespace green::hooks {

// Installs the runtime's fault handler for SIGSEGV and SIGBUS (program view: default).
void install_signal_interposition();

}  // namespace green::hooks
