// sigwait, sigwaitinfo, sigtimedwait, sigsuspend, __sigsuspend, pause, sigpause, __sigpause,
// __xpg_sigpause.
//
// Waiting for a blocked signal (the sigwait family) parks on a signalfd of the set, then takes
// the signal with sigtimedwait and a zero timeout, so the kernel still picks which one and fills
// in the siginfo. The signalfd is polled on the waiting thread's own hub, which matters: a
// signalfd reports the signals pending for the thread that polls it.
//
// Waiting for a handler to run (sigsuspend, pause) is a signal_aware_wait (signals.hpp) with the
// call's mask: the trampoline marks it and writes an eventfd it parks on, so a handler that
// runs between the mask change and the park is not lost.
#include "signals.hpp"

#include "fd_table.hpp"
#include "hook.hpp"
#include "signal_mask.hpp"

#include <csignal>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

using namespace green;

namespace {

// libc declares these pointers nonnull, and the compiler would drop a plain null check; a null
// one goes to libc, which reports it as the kernel does.
bool is_null(const void* p)
{
    asm("" : "+r"(p));
    return p == nullptr;
}

bool valid_timeout(const timespec* t)
{
    return !t || (t->tv_sec >= 0 && t->tv_nsec >= 0 && t->tv_nsec < 1000000000L);
}

// sigtimedwait that never blocks: a signal of `set` if one is pending, else -1 with EAGAIN.
// First those pending for the green thread itself or held by its hub (signal_mask.hpp), then
// the kernel's.
int take_pending(fiber* self, const sigset_t* set, siginfo_t* info)
{
    siginfo_t kept;
    if (self && tls.home->take_pending_signal(self, to_sigbits(*set), kept)) {
        if (info)
            *info = kept;
        return kept.si_signo;
    }
    timespec zero{0, 0};
    return GREEN_REAL(sigtimedwait)(set, info, &zero);
}

// While parked, the green thread's waited set is visible to its hub, which wakes it for a
// signal handed to it (pthread_kill from a green thread) that never reaches the signalfd.
class sigwait_scope {
public:
    sigwait_scope(fiber* self, const sigset_t* set) : self_(self)
    {
        if (self_) {
            __atomic_store_n(&self_->sigwaiting, to_sigbits(*set), __ATOMIC_RELEASE);
            // Seen before the caller looks at sig_pending again (hand_signal_to orders the
            // other way round): a signal handed meanwhile is found by one side or the other.
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
        }
    }
    ~sigwait_scope()
    {
        if (self_)
            __atomic_store_n(&self_->sigwaiting, sigbits(0), __ATOMIC_RELEASE);
    }
    sigwait_scope(const sigwait_scope&) = delete;
    sigwait_scope& operator=(const sigwait_scope&) = delete;

private:
    fiber* self_;
};

// The sigwait family's core: -1 with errno EAGAIN (the timeout passed) or EINTR (per `mode`),
// or the signal number. `deadline` on the monotonic clock.
int green_sigtimedwait(const sigset_t* set, siginfo_t* info, std::uint64_t deadline,
                       interrupt_mode mode)
{
    int entry_errno = errno;
    fiber* self = hooks::mask_owner();
    int r = take_pending(self, set, info);
    if (r > 0 || errno != EAGAIN)
        return r;
    sigwait_scope waiting(self, set);
    r = take_pending(self, set, info);  // handed between the first look and the scope
    if (r > 0 || errno != EAGAIN)
        return r;
    int fd;
    {
        internal_scope scope;
        fd = fd_table::adopt_runtime_fd(signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC));
    }
    if (fd < 0)
        return -2;  // no signalfd: the caller blocks natively
    fd_table::track_runtime_fd_slot(&fd);  // a dup2 onto its number moves it
    for (;;) {
        fd_info watched = fd_table::lookup(fd);
        fd_wait_result w = fd_table::wait(fd, watched.generation, EPOLLIN, deadline, mode);
        r = take_pending(self, set, info);
        if (r > 0)
            break;
        if (w == fd_wait_result::interrupted) {
            errno = EINTR;
            break;
        }
        if (w == fd_wait_result::timed_out || w == fd_wait_result::not_pollable) {
            errno = EAGAIN;
            break;
        }
        // Another thread took the signal first, or the signalfd moved: wait again.
    }
    fd_table::untrack_runtime_fd_slot(&fd);
    fd_table::release_runtime_fd(fd);
    if (r > 0)
        errno = entry_errno;
    return r;
}

// sigsuspend's core: with `mask` (null: the mask as it is) in place, parks until a handler has
// run on this thread for a signal the mask leaves unblocked. Returns -1 with EINTR, or -2 if
// the caller must block natively. The signal_aware_wait makes the mask the thread's and is told
// by the trampoline of every handler run from then on, even one that runs before the park.
int green_suspend(const sigset_t* mask)
{
    int fd = hooks::signal_aware_wait::wakeup_fd();
    if (fd < 0)
        return -2;
    hooks::signal_aware_wait signals(mask);
    if (!signals.apply_mask())
        return -2;
    while (!signals.interrupted()) {
        // The wake-up fd is shared by every such wait of the process (and may move, a dup2 onto
        // its number): a wake-up for another thread's handler only means looking again.
        fd = hooks::signal_aware_wait::wakeup_fd();
        fd_info watched = fd_table::lookup(fd);
        fd_wait_result w =
            fd_table::wait(fd, watched.generation, EPOLLIN, no_deadline, interrupt_mode::never);
        if (w == fd_wait_result::not_pollable)
            return -2;
    }
    errno = EINTR;
    return -1;
}

}  // namespace

GREEN_HOOK int sigtimedwait(const sigset_t* set, siginfo_t* info, const timespec* timeout)
{
    if (!hooks::green_caller() || is_null(set) || !valid_timeout(timeout) || !hub::for_this_thread())
        return GREEN_REAL(sigtimedwait)(set, info, timeout);
    std::uint64_t deadline =
        timeout ? deadline_after(now_ns(), timespec_to_ns(*timeout)) : no_deadline;
    // A handler for another signal interrupts it, SA_RESTART or not (signal(7)).
    int r = green_sigtimedwait(set, info, deadline, interrupt_mode::always);
    if (r == -2) {
        if (timeout) {
            std::uint64_t now = now_ns();
            timespec left = ns_to_timespec(deadline > now ? deadline - now : 0);
            return GREEN_REAL(sigtimedwait)(set, info, &left);
        }
        return GREEN_REAL(sigtimedwait)(set, info, nullptr);
    }
    return r;
}

GREEN_HOOK int sigwaitinfo(const sigset_t* set, siginfo_t* info)
{
    return sigtimedwait(set, info, nullptr);
}

GREEN_HOOK int sigwait(const sigset_t* set, int* sig)
{
    if (!hooks::green_caller() || is_null(set) || !hub::for_this_thread())
        return GREEN_REAL(sigwait)(set, sig);
    // glibc's sigwait never fails with EINTR: it waits again.
    int saved = errno;
    int r = green_sigtimedwait(set, nullptr, no_deadline, interrupt_mode::never);
    if (r == -2)
        return GREEN_REAL(sigwait)(set, sig);
    int err = errno;
    errno = saved;
    if (r < 0)
        return err;
    *sig = r;
    return 0;
}

GREEN_HOOK int sigsuspend(const sigset_t* mask)
{
    if (!hooks::green_caller() || is_null(mask) || !hub::for_this_thread())
        return GREEN_REAL(sigsuspend)(mask);
    int r = green_suspend(mask);
    return r == -2 ? GREEN_REAL(sigsuspend)(mask) : r;
}

extern "C" int __sigsuspend(const sigset_t* mask);
GREEN_HOOK int __sigsuspend(const sigset_t* mask)
{
    return sigsuspend(mask);
}

GREEN_HOOK int pause()
{
    if (!hooks::green_caller() || !hub::for_this_thread())
        return GREEN_REAL(pause)();
    int r = green_suspend(nullptr);
    return r == -2 ? GREEN_REAL(pause)() : r;
}

// glibc's BSD and XPG sigpause: sigsuspend with the current mask minus `sig` (is_sig), or with
// the old-style mask `sig_or_mask` in the first word.
extern "C" int __sigpause(int sig_or_mask, int is_sig);
GREEN_HOOK int __sigpause(int sig_or_mask, int is_sig)
{
    sigset_t set;
    if (is_sig) {
        pthread_sigmask(SIG_BLOCK, nullptr, &set);  // the green thread's own mask
        if (sigdelset(&set, sig_or_mask) != 0)
            return -1;
    } else {
        sigemptyset(&set);
        for (int sig = 1; sig < 32; ++sig)
            if (sig_or_mask & (1u << (sig - 1)))
                sigaddset(&set, sig);
    }
    return sigsuspend(&set);
}

extern "C" int __xpg_sigpause(int sig);
GREEN_HOOK int __xpg_sigpause(int sig)
{
    return __sigpause(sig, 1);
}

// The exported `sigpause` is the BSD one (a mask); <signal.h> maps the name to the XPG one,
// hence the assembler name.
extern "C" int bsd_sigpause(int mask) __asm__("sigpause");
GREEN_HOOK int bsd_sigpause(int mask)
{
    return __sigpause(mask, 0);
}
