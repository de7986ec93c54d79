// syscall(): SYS_futex from a green thread is made green (runtime/futex.hpp); every other number
// goes to libc's syscall() untouched.
//
// libstdc++ (std::future, std::atomic::wait, std::latch, semaphores, std::barrier) and Rust's
// std (Mutex, Condvar, park) wait with syscall(SYS_futex, ...); natively that blocks the hub.
//
// The entry is written in assembly so that a number other than SYS_futex costs one compare and
// a tail jump: the caller's registers (the number in %rdi, up to five arguments in %rsi, %rdx,
// %rcx, %r8, %r9) and its stack (the sixth argument at 8(%rsp)) reach libc exactly as they
// were passed, whatever the caller's varargs promotion left in the upper halves. The futex path
// is a C++ function with the number and six longs, which reads the same registers and stack
// slot the same way libc's syscall does; for a caller that passed fewer arguments it reads
// stale values it never uses, as libc does.
//
// futex_waitv (SYS_futex_waitv) passes through: it blocks its hub thread (README).
#include "futex.hpp"
#include "hook.hpp"

#include <cerrno>
#include <linux/futex.h>
#include <sys/syscall.h>

using namespace green;

using syscall_fn = long (*)(long, long, long, long, long, long, long);

extern "C" {

long green_syscall_first(long number, long a1, long a2, long a3, long a4, long a5, long a6)
    __attribute__((visibility("hidden")));
long green_syscall_futex(long number, long a1, long a2, long a3, long a4, long a5, long a6)
    __attribute__((visibility("hidden")));

// libc's syscall(); until it is looked up, the function that looks it up.
__attribute__((visibility("hidden"))) syscall_fn green_real_syscall = green_syscall_first;

long green_syscall_first(long number, long a1, long a2, long a3, long a4, long a5, long a6)
{
    auto real = reinterpret_cast<syscall_fn>(real::lookup("syscall"));
    __atomic_store_n(&green_real_syscall, real, __ATOMIC_RELAXED);
    return real(number, a1, a2, a3, a4, a5, a6);
}

long green_syscall_futex(long number, long a1, long a2, long a3, long a4, long a5, long a6)
{
    syscall_fn real = __atomic_load_n(&green_real_syscall, __ATOMIC_RELAXED);
    if (!hooks::green_caller())
        return real(number, a1, a2, a3, a4, a5, a6);
    // The kernel takes val, val3 and the requeue count as 32-bit values.
    long r = futex::call(reinterpret_cast<std::uint32_t*>(a1), int(a2), std::uint32_t(a3),
                         reinterpret_cast<const void*>(a4), reinterpret_cast<std::uint32_t*>(a5),
                         std::uint32_t(a6));
    if (r < 0) {
        errno = int(-r);
        return -1;
    }
    return r;
}

}  // extern "C"

#define GREEN_STR2(x) #x
#define GREEN_STR(x) GREEN_STR2(x)

// clang-format off
asm(R"(
    .text
    .globl syscall
    .type syscall, @function
    .p2align 4
syscall:
    .cfi_startproc
    cmpq $)" GREEN_STR(SYS_futex) R"(, %rdi
    je green_syscall_futex
    jmp *green_real_syscall(%rip)
    .cfi_endproc
    .size syscall, .-syscall
)");
// clang-format on
