// ptrace.
//
// A tracer's waits report its tracees' ptrace stops, which a pidfd never shows (it reports only
// an exit). So once the process has traced anything (any request but PTRACE_TRACEME, which
// makes the caller a tracee), its waits for children block natively, as strace's and gdb's
// loops expect (wait.cpp; README).
#include "hook.hpp"
#include "signals.hpp"

#include <cstdarg>
#include <sys/ptrace.h>
#include <sys/types.h>

namespace green::hooks {
std::atomic<bool> process_traces{false};
}

GREEN_HOOK long ptrace(enum __ptrace_request request, ...)
{
    // glibc's ptrace takes pid, addr and data; it reads all three whatever the request.
    va_list args;
    va_start(args, request);
    pid_t pid = va_arg(args, pid_t);
    void* addr = va_arg(args, void*);
    void* data = va_arg(args, void*);
    va_end(args);
    if (request != PTRACE_TRACEME)
        green::hooks::process_traces.store(true, std::memory_order_relaxed);
    return GREEN_REAL(ptrace)(request, pid, addr, data);
}
