// Reporting a green thread's stack overflow: one line naming the green thread and the setting
// to raise, then abort. Guarded stacks fault in their guard page (SIGSEGV on the thread's
// alternate signal stack); unguarded ones are caught by the stack-pointer check at each switch.
#pragma once

#include <csignal>

namespace green {

struct fiber;

[[noreturn]] void report_overflow_and_abort(const fiber* f);

// Async-signal-safe: if `fault_address` lies in the guard page of the running fiber's stack,
// reports and aborts; otherwise returns.
void check_fault_for_overflow(const void* fault_address);

// Gives the calling thread an alternate signal stack if it has none, so that a fault on an
// exhausted fiber stack can still run a handler.
void ensure_overflow_stack_for_this_thread();

// A SIGSEGV/SIGBUS handler of the runtime's own, for programs that use the runtime without the
// preload (tests, embedders). Chains to whatever was installed before.
void install_overflow_handler();

}  // namespace green
