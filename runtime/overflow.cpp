#include "overflow.hpp"

#include "fiber.hpp"
#include "internal.hpp"
#include "stack.hpp"

#include <cstdlib>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

namespace green {
namespace {

constexpr std::size_t alt_stack_size = 64 * 1024;

char* append(char* out, const char* text)
{
    while (*text)
        *out++ = *text++;
    return out;
}

char* append_number(char* out, unsigned long value)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = char('0' + value % 10);
        value /= 10;
    } while (value);
    while (n)
        *out++ = digits[--n];
    return out;
}

struct sigaction previous_segv;
struct sigaction previous_bus;

void overflow_handler(int sig, siginfo_t* info, void*)
{
    check_fault_for_overflow(info->si_addr);
    // Not ours: put back what was there and return; the faulting instruction runs again and
    // meets the previous disposition.
    sigaction(sig, sig == SIGSEGV ? &previous_segv : &previous_bus, nullptr);
}

}  // namespace

void report_overflow_and_abort(const fiber* f)
{
    // Formatted by hand: this runs in a signal handler.
    char line[256];
    char* p = append(line, "libgreen: green thread ");
    p = append_number(p, f ? f->id : 0);
    p = append(p, " overflowed its stack of ");
    p = append_number(p, f ? f->stk.usable_size() / 1024 : 0);
    p = append(p, " KiB; raise GREEN_STACK_SIZE (or the size the program gives "
                  "pthread_attr_setstacksize)\n");
    syscall(SYS_write, STDERR_FILENO, line, p - line);
    // SIG_DFL for SIGABRT so that the program's own handler cannot resume on a broken stack.
    signal(SIGABRT, SIG_DFL);
    abort();
}

void check_fault_for_overflow(const void* fault_address)
{
    const fiber* f = tls.running;
    if (f && !f->is_hub && f->stk.in_guard(fault_address))
        report_overflow_and_abort(f);
}

void ensure_overflow_stack_for_this_thread()
{
    stack_t current;
    if (sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE))
        return;
    void* memory = mmap(nullptr, alt_stack_size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED)
        return;
    stack_t alt{};
    alt.ss_sp = memory;
    alt.ss_size = alt_stack_size;
    sigaltstack(&alt, nullptr);
}

void install_overflow_handler()
{
    struct sigaction action{};
    action.sa_sigaction = &overflow_handler;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_segv);
    sigaction(SIGBUS, &action, &previous_bus);
}

}  // namespace green
