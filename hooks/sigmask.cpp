// pthread_sigmask, sigprocmask, sigpending: each green thread's own signal mask
// (runtime/signal_mask.hpp), and the masks a new process gets from a green thread (posix_spawn
// and vfork, in process.cpp).
//
// A mask change is the green thread's own: the kernel's mask for the OS thread follows the
// hub's census (a system call only when what every green thread blocks changes). A change that
// opens a signal pending for the green thread, or held by its hub, delivers it before the call
// returns, as the kernel would.
#include "signals.hpp"

#include "hook.hpp"

#include <csignal>

using namespace green;

fiber* hooks::mask_owner()
{
    if (hooks::who_calls() != hooks::caller::program || tls.native_only || !tls.home)
        return nullptr;
    fiber* f = tls.running;
    return f && f->member ? f : nullptr;
}

void hooks::deliver_open_signals()
{
    fiber* f = tls.running;
    hub* h = tls.home;
    siginfo_t info;
    while (h->take_pending_signal(f, ~f->sigmask, info))
        run_program_handler(info);
}

namespace {

// Returns an error number, as pthread_sigmask does.
int change_mask(fiber* f, int how, const sigset_t* set, sigset_t* old)
{
    sigbits current = f->sigmask;
    if (!set) {
        // As the kernel: `how` matters only with a set.
        if (old)
            store_sigbits(current, *old);
        return 0;
    }
    sigbits given = to_sigbits(*set);  // before `old` is written: they may be one
    sigbits next;
    switch (how) {
    case SIG_BLOCK:
        next = current | given;
        break;
    case SIG_UNBLOCK:
        next = current & ~given;
        break;
    case SIG_SETMASK:
        next = given;
        break;
    default:
        return EINVAL;
    }
    if (old)
        store_sigbits(current, *old);
    tls.home->set_signal_mask(f, next);
    if (current & ~next)
        hooks::deliver_open_signals();
    return 0;
}

}  // namespace

GREEN_HOOK int pthread_sigmask(int how, const sigset_t* set, sigset_t* old)
{
    fiber* f = hooks::mask_owner();
    if (!f)
        return GREEN_REAL(pthread_sigmask)(how, set, old);
    return change_mask(f, how, set, old);
}

GREEN_HOOK int sigprocmask(int how, const sigset_t* set, sigset_t* old)
{
    fiber* f = hooks::mask_owner();
    if (!f)
        return GREEN_REAL(sigprocmask)(how, set, old);
    if (int e = change_mask(f, how, set, old)) {
        errno = e;
        return -1;
    }
    return 0;
}

GREEN_HOOK int sigpending(sigset_t* set)
{
    fiber* f = hooks::mask_owner();
    int r = GREEN_REAL(sigpending)(set);
    if (r != 0 || !f)
        return r;
    // The kernel's pending signals are those every green thread of the hub blocks; add the
    // ones kept for this green thread, and those its hub holds that it blocks too.
    sigbits kept = f->sig_pending.load(std::memory_order_acquire) |
                   (tls.home->held_signals() & f->sigmask);
    store_sigbits(to_sigbits(*set) | kept, *set);
    return 0;
}

// raise with the signal blocked: pending for the raising green thread until it unblocks it (the
// kernel would keep it for the OS thread, whichever green thread runs). Otherwise libc's, which
// the kernel delivers at once to this OS thread, where the raiser runs.
GREEN_HOOK int raise(int sig)
{
    fiber* f = hooks::mask_owner();
    if (f && sig > 0 && sig < NSIG && (__atomic_load_n(&f->sigmask, __ATOMIC_RELAXED) & sig_bit(sig))) {
        f->sig_pending.fetch_or(sig_bit(sig), std::memory_order_relaxed);
        return 0;
    }
    return GREEN_REAL(raise)(sig);
}

extern "C" int gsignal(int sig);
GREEN_HOOK int gsignal(int sig)
{
    return raise(sig);
}

void hooks::lend_own_mask()
{
    if (fiber* f = hooks::mask_owner())
        apply_kernel_mask_change(tls.home->census_mask(), f->sigmask);
}

void hooks::end_own_mask()
{
    // Nothing ran on the hub in between: the census is what it was.
    if (fiber* f = hooks::mask_owner())
        apply_kernel_mask_change(f->sigmask, tls.home->census_mask());
}
