// sigaction, signal, bsd_signal, sysv_signal, __sysv_signal, siginterrupt; and longjmp,
// _longjmp, siglongjmp, __longjmp_chk, which may leave a handler.
//
// A program's handler is installed behind a trampoline that calls it and then, if the signal
// arrived while the hub was waiting (every green thread of that thread parked), tells the hub,
// which interrupts one parked call. sigaction reports the program's own handler back, and the
// kernel keeps the program's mask and flags, so nesting, SA_NODEFER and SA_ONSTACK are as
// native. The trampoline also ends the readiness waits of its thread (signal_aware_wait in
// signals.hpp). Only dispositions set through these entry points are seen (README).
//
// While the program's handler runs, the thread's signal depth is raised: every hook then goes
// straight to libc (hooks/hook.hpp), as the code the handler interrupted may hold any runtime
// lock. A handler left by a long jump is left for good: the jump hooks lower the depth.
#include "signals.hpp"

#include "hook.hpp"
#include "overflow.hpp"

#include "fd_table.hpp"

#include <csetjmp>
#include <csignal>
#include <cstring>
#include <setjmp.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

using namespace green;

namespace {

struct program_action {
    std::atomic<void*> handler{nullptr};  // sa_handler or sa_sigaction as the program gave it
    std::atomic<int> flags{0};
    sigset_t mask{};
    bool wrapped = false;                 // the kernel holds our trampoline for this signal
};

program_action actions[NSIG];
// Taken only with every signal blocked on the thread (actions_guard): a handler that calls
// sigaction or signal (to re-arm itself, SysV-style) never interrupts its own thread's holder,
// and meets the lock held only by another thread, for a few instructions.
spinlock actions_lock;

class actions_guard {
public:
    actions_guard()
    {
        sigset_t all;
        sigfillset(&all);
        // The raw call: glibc's sigprocmask would keep its internal signals unblocked.
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &saved_, _NSIG / 8);
        actions_lock.lock();
    }
    ~actions_guard()
    {
        actions_lock.unlock();
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &saved_, nullptr, _NSIG / 8);
    }
    actions_guard(const actions_guard&) = delete;
    actions_guard& operator=(const actions_guard&) = delete;

private:
    sigset_t saved_;
};
sigset_t interrupting_signals;  // siginterrupt(sig, 1): signal() installs them without SA_RESTART

bool faults(int sig)
{
    return sig == SIGSEGV || sig == SIGBUS;
}

bool synchronous(int sig)
{
    return faults(sig) || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP;
}

// A signal reached the OS thread while its running green thread blocks it (signal_mask.hpp:
// the kernel's mask is what every green thread of the hub blocks). Keeps it for a green thread
// that takes it; false if it is to run now after all.
bool keep_blocked_signal(int sig, siginfo_t* info)
{
    bool from_this_process = info->si_pid == getpid() && info->si_code <= 0;
    if (synchronous(sig) && info->si_code > 0) {
        // The running instruction faulted with the signal blocked: the kernel would force the
        // default action. The instruction faults again and does just that.
        struct sigaction dfl{};
        sigemptyset(&dfl.sa_mask);
        GREEN_REAL(sigaction)(sig, &dfl, nullptr);
        return true;
    }
    if (from_this_process && info->si_code == SI_TKILL) {
        // Sent to this OS thread's own pthread_t, which is the hub's root: a green thread is
        // signalled in userspace (pthread_kill), and one that raises a signal it blocks keeps
        // it itself (raise). Pending for the root while it blocks it, else the root takes it
        // (member_taking). abort() unblocks SIGABRT for its own raise, which runs at once.
        if (sig == SIGABRT)
            return false;
        fiber* root = tls.home->root();
        if (root && root->member && (root->sigmask & sig_bit(sig))) {
            root->sig_pending.fetch_or(sig_bit(sig), std::memory_order_relaxed);
            return true;
        }
    }
    tls.home->hold_signal(*info);
    return true;
}

void trampoline(int sig, siginfo_t* info, void* context)
{
    if (faults(sig))
        check_fault_for_overflow(info->si_addr);
    if (sig == SIGCHLD && hooks::holds_back_sigchld()) {
        // Deferred until the waiting green thread has looked for its child (signals.hpp).
        if (!hooks::child_wait_of_thread().deferred) {
            hooks::child_wait_of_thread().info = *info;
            hooks::child_wait_of_thread().deferred = true;
        }
        int saved = errno;
        std::uint64_t one = 1;
        syscall(SYS_write, hooks::child_wait_of_thread().event_fd, &one, sizeof one);
        errno = saved;
        return;
    }
    if (fiber* running = tls.running;
        running && running->member && (running->sigmask & sig_bit(sig)) && tls.home &&
        keep_blocked_signal(sig, info))
        return;
    program_action& a = actions[sig];
    void* handler = a.handler.load(std::memory_order_acquire);
    int flags = a.flags.load(std::memory_order_relaxed);

    if (handler == reinterpret_cast<void*>(SIG_DFL) || handler == reinterpret_cast<void*>(SIG_IGN)) {
        // A fault the program leaves to the default action: hand the signal back to the kernel
        // and let the instruction fault again.
        struct sigaction restore{};
        restore.sa_handler = reinterpret_cast<void (*)(int)>(handler);
        sigemptyset(&restore.sa_mask);
        GREEN_REAL(sigaction)(sig, &restore, nullptr);
        return;
    }
    if (flags & SA_RESETHAND) {
        // The kernel reset the disposition on delivery; keep the program's view equal.
        a.handler.store(reinterpret_cast<void*>(SIG_DFL), std::memory_order_release);
        a.wrapped = false;
    }
    ++tls.signal_depth;  // hooks go raw and no time slice ends inside the handler
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (flags & SA_SIGINFO)
        reinterpret_cast<void (*)(int, siginfo_t*, void*)>(handler)(sig, info, context);
    else
        reinterpret_cast<void (*)(int)>(handler)(sig);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    --tls.signal_depth;

    hooks::signal_aware_wait::note_handler_ran(sig);

    // A signal that reached a thread whose hub was waiting interrupts one parked call. One that
    // runs on a green thread inside a blocking call, before it parks, interrupts that park:
    // natively the thread would already be blocked in the system call. One that arrives while
    // a green thread runs program code, as on a running native thread, interrupts nothing.
    hub* h = tls.home;
    if (h && tls.running && tls.running->is_hub) {
        int saved = errno;
        h->note_signal(sig, flags & SA_RESTART);
        errno = saved;
    } else if (h && tls.running) {
        int saved = errno;
        h->note_handler_in_call(tls.running, flags & SA_RESTART);
        errno = saved;
    }
}

}  // namespace

bool hooks::holds_back_sigchld()
{
    child_waiter* w = child_wait_of_thread().waiters;
    fiber* running = tls.running;
    if (!w || !running)
        return false;
    if (running->is_hub)
        return true;
    for (; w; w = w->next)
        if (w->self == running)
            return true;
    return false;
}

namespace {

bool is_default_or_ignore(void* handler)
{
    return handler == reinterpret_cast<void*>(SIG_DFL) || handler == reinterpret_cast<void*>(SIG_IGN);
}

int green_sigaction(int sig, const struct sigaction* act_in, struct sigaction* old)
{
    if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP)
        return GREEN_REAL(sigaction)(sig, act_in, old);
    // Read before every signal is blocked: a bad pointer faults as it would in libc's copy.
    struct sigaction act_copy{};
    if (act_in)
        act_copy = *act_in;
    const struct sigaction* act = act_in ? &act_copy : nullptr;
    actions_guard g;
    program_action& a = actions[sig];

    struct sigaction previous{};
    bool previous_wrapped = a.wrapped;
    if (previous_wrapped) {
        previous.sa_sigaction =
            reinterpret_cast<void (*)(int, siginfo_t*, void*)>(a.handler.load());
        previous.sa_flags = a.flags.load();
        previous.sa_mask = a.mask;
    }

    int r;
    struct sigaction kernel_old{};
    if (!act) {
        r = GREEN_REAL(sigaction)(sig, nullptr, &kernel_old);
    } else {
        void* handler = (act->sa_flags & SA_SIGINFO) ? reinterpret_cast<void*>(act->sa_sigaction)
                                                     : reinterpret_cast<void*>(act->sa_handler);
        // SIGSEGV and SIGBUS at their default go through the trampoline (overflow reports);
        // ignored, they stay ignored in the kernel, so that an exec'd program inherits SIG_IGN
        // (a real fault kills the process either way: the kernel forces the default).
        bool ignored = handler == reinterpret_cast<void*>(SIG_IGN);
        if (is_default_or_ignore(handler) && (!faults(sig) || ignored)) {
            r = GREEN_REAL(sigaction)(sig, act, &kernel_old);
            if (r == 0)
                a.wrapped = false;
        } else {
            struct sigaction installed = *act;
            installed.sa_sigaction = &trampoline;
            installed.sa_flags |= SA_SIGINFO;
            if (faults(sig))
                installed.sa_flags |= SA_ONSTACK;  // an overflowed fiber stack has no room left
            a.handler.store(handler, std::memory_order_release);
            a.flags.store(act->sa_flags, std::memory_order_relaxed);
            a.mask = act->sa_mask;
            r = GREEN_REAL(sigaction)(sig, &installed, &kernel_old);
            if (r == 0)
                a.wrapped = true;
        }
    }
    if (r == 0 && old)
        *old = previous_wrapped ? previous : kernel_old;  // sa_handler shares sa_sigaction's slot
    return r;
}

using handler_t = void (*)(int);

handler_t install_simple(int sig, handler_t handler, int flags)
{
    struct sigaction act{};
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    if (!(flags & SA_NODEFER) && sig > 0 && sig < NSIG)
        sigaddset(&act.sa_mask, sig);
    act.sa_flags = flags;
    struct sigaction old{};
    if (green_sigaction(sig, &act, &old) != 0)
        return SIG_ERR;
    return old.sa_handler;
}

// A vfork child's dispositions are its own (it does not share its parent's handler table),
// and about to be reset by exec: libc's. A signal handler that re-arms itself must keep the
// program's view true, so it goes the usual way: the lock is never held by the code it
// interrupted (actions_guard), and nothing on that path parks.
bool disposition_passes_through()
{
    return tls.internal_depth || hooks::in_vfork_child() || !preload::ready();
}

}  // namespace

GREEN_HOOK int sigaction(int sig, const struct sigaction* act, struct sigaction* old)
{
    if (disposition_passes_through())
        return GREEN_REAL(sigaction)(sig, act, old);
    return green_sigaction(sig, act, old);
}

GREEN_HOOK handler_t signal(int sig, handler_t handler)
{
    if (disposition_passes_through())
        return GREEN_REAL(signal)(sig, handler);
    // glibc's signal(): BSD semantics, restarting unless siginterrupt() said otherwise.
    bool interrupting = sig > 0 && sig < NSIG && sigismember(&interrupting_signals, sig) == 1;
    return install_simple(sig, handler, interrupting ? 0 : SA_RESTART);
}

GREEN_HOOK handler_t bsd_signal(int sig, handler_t handler)
{
    return signal(sig, handler);
}

GREEN_HOOK handler_t sysv_signal(int sig, handler_t handler)
{
    if (disposition_passes_through())
        return GREEN_REAL(sysv_signal)(sig, handler);
    return install_simple(sig, handler, SA_RESETHAND | SA_NODEFER);
}

extern "C" handler_t __sysv_signal(int sig, handler_t handler);
GREEN_HOOK handler_t __sysv_signal(int sig, handler_t handler)
{
    return sysv_signal(sig, handler);
}

// glibc marks siginterrupt deprecated; programs still call it, so it is interposed all the same.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
GREEN_HOOK int siginterrupt(int sig, int interrupt)
{
    if (disposition_passes_through())
        return GREEN_REAL(siginterrupt)(sig, interrupt);
    if (sig <= 0 || sig >= NSIG) {
        errno = EINVAL;
        return -1;
    }
    struct sigaction act{};
    if (green_sigaction(sig, nullptr, &act) != 0)
        return -1;
    {
        actions_guard g;
        if (interrupt)
            sigaddset(&interrupting_signals, sig);
        else
            sigdelset(&interrupting_signals, sig);
    }
    if (interrupt)
        act.sa_flags &= ~SA_RESTART;
    else
        act.sa_flags |= SA_RESTART;
    return green_sigaction(sig, &act, nullptr);
}
#pragma GCC diagnostic pop

// A long jump out of a handler never returns through the trampoline. The common one leaves
// every handler (a SIGSEGV or SIGALRM handler back to the main flow); one that lands inside an
// outer handler is taken for the same, and the outer handler's hooks are then the usual ones.
GREEN_HOOK void longjmp(struct __jmp_buf_tag env[1], int value)
{
    tls.signal_depth = 0;
    GREEN_REAL(longjmp)(env, value);
    __builtin_unreachable();  // the pointer type cannot say noreturn
}

GREEN_HOOK void _longjmp(struct __jmp_buf_tag env[1], int value)
{
    tls.signal_depth = 0;
    GREEN_REAL(_longjmp)(env, value);
    __builtin_unreachable();  // the pointer type cannot say noreturn
}

GREEN_HOOK void siglongjmp(sigjmp_buf env, int value)
{
    tls.signal_depth = 0;
    GREEN_REAL(siglongjmp)(env, value);
    __builtin_unreachable();  // the pointer type cannot say noreturn
}

extern "C" [[noreturn]] void __longjmp_chk(struct __jmp_buf_tag env[1], int value);
GREEN_HOOK void __longjmp_chk(struct __jmp_buf_tag env[1], int value)
{
    tls.signal_depth = 0;
    GREEN_REAL(__longjmp_chk)(env, value);
    __builtin_unreachable();  // the pointer type cannot say noreturn
}

namespace green::hooks {

bool has_program_handler(int sig)
{
    return sig > 0 && sig < NSIG && actions[sig].wrapped &&
           !is_default_or_ignore(actions[sig].handler.load(std::memory_order_acquire));
}

int run_program_handler(const siginfo_t& given)
{
    int sig = given.si_signo;
    if (sig <= 0 || sig >= NSIG)
        return -1;
    int saved_errno = errno;
    program_action& a = actions[sig];
    void* handler = a.handler.load(std::memory_order_acquire);
    if (!a.wrapped || is_default_or_ignore(handler)) {
        // The disposition changed since: the kernel's is the program's now.
        if (handler != reinterpret_cast<void*>(SIG_IGN))
            syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
        errno = saved_errno;
        return -1;
    }
    int flags = a.flags.load(std::memory_order_relaxed);
    sigbits block = to_sigbits(a.mask) & ~never_blocked;
    if (!(flags & SA_NODEFER))
        block |= sig_bit(sig);
    if (flags & SA_RESETHAND) {
        struct sigaction dfl{};
        sigemptyset(&dfl.sa_mask);
        GREEN_REAL(sigaction)(sig, &dfl, nullptr);
        a.handler.store(reinterpret_cast<void*>(SIG_DFL), std::memory_order_release);
        a.wrapped = false;
    }
    sigbits previous = 0;
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, &block, &previous, sizeof block);
    siginfo_t info = given;
    ucontext_t context{};
    store_sigbits(previous, context.uc_sigmask);
    ++tls.signal_depth;  // as in the trampoline: hooks go raw, no time slice ends
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (flags & SA_SIGINFO)
        reinterpret_cast<void (*)(int, siginfo_t*, void*)>(handler)(sig, &info, &context);
    else
        reinterpret_cast<void (*)(int)>(handler)(sig);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    --tls.signal_depth;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &previous, nullptr, sizeof previous);
    signal_aware_wait::note_handler_ran(sig);
    errno = saved_errno;
    return (flags & SA_RESTART) ? 1 : 0;
}

bool handler_restarts(int sig)
{
    return sig > 0 && sig < NSIG && (actions[sig].flags.load(std::memory_order_relaxed) & SA_RESTART);
}

namespace {

// This thread's readiness waits, newest first. Changed only by fibers of this thread and read by
// handlers on it: each change is one store, ordered against handlers by signal fences.
__thread signal_aware_wait* waits_of_os_thread __attribute__((tls_model("initial-exec")));

// The list is the OS thread's (a handler knows its OS thread, not which green thread runs).
signal_aware_wait*& waits_of_thread()
{
    return on_os_thread(waits_of_os_thread);
}

std::atomic<int> signal_wakeup{-2};  // -2: not made yet; -1: could not be made

int set_thread_mask(const sigset_t* mask, sigset_t* old)
{
    // The raw system call, as ppoll and pselect hand the mask to the kernel: glibc's
    // sigprocmask would quietly keep its internal signals unblocked.
    return int(syscall(SYS_rt_sigprocmask, SIG_SETMASK, mask, old, _NSIG / 8));
}

}  // namespace

signal_aware_wait::signal_aware_wait(const sigset_t* mask) : has_mask_(mask != nullptr)
{
    owner_ = mask_owner();
    if (mask) {
        mask_ = *mask;
    } else {
        // A handler that runs counts unless the waiting green thread blocks its signal (one
        // that ran for another green thread of the hub).
        sigemptyset(&mask_);
        if (owner_)
            store_sigbits(owner_->sigmask, mask_);
    }
    wakeup_fd();  // made before the wait is visible to handlers, never inside one
    next_ = waits_of_thread();
    std::atomic_signal_fence(std::memory_order_seq_cst);
    waits_of_thread() = this;
    std::atomic_signal_fence(std::memory_order_seq_cst);
}

signal_aware_wait::~signal_aware_wait()
{
    int saved = errno;
    if (applied_ && owner_) {
        // Signals the wait's mask blocked and the thread's own leaves open, kept for it
        // meanwhile, run now, as the kernel delivers them when ppoll puts the mask back.
        sigbits own = to_sigbits(saved_);
        tls.home->set_signal_mask(owner_, own);
        if (to_sigbits(mask_) & ~own)
            deliver_open_signals();
    } else if (applied_)
        set_thread_mask(&saved_, nullptr);
    // Fibers of one thread end their waits in any order.
    for (signal_aware_wait** p = &waits_of_thread(); *p; p = &(*p)->next_)
        if (*p == this) {
            std::atomic_signal_fence(std::memory_order_seq_cst);
            *p = next_;
            std::atomic_signal_fence(std::memory_order_seq_cst);
            break;
        }
    errno = saved;
}

bool signal_aware_wait::apply_mask()
{
    if (!has_mask_)
        return true;
    int saved = errno;
    if (owner_) {
        // The green thread's own mask; the kernel's follows the census. Signals the wait's
        // mask opens that are kept for it run their handlers now, which marks this wait.
        sigemptyset(&saved_);
        store_sigbits(owner_->sigmask, saved_);
        tls.home->set_signal_mask(owner_, to_sigbits(mask_));
        applied_ = true;
        deliver_open_signals();
    } else {
        applied_ = set_thread_mask(&mask_, &saved_) == 0;
    }
    errno = saved;
    return applied_;
}

int signal_aware_wait::wakeup_fd()
{
    int fd = signal_wakeup.load(std::memory_order_acquire);
    if (fd != -2)
        return fd;
    int saved = errno;
    int made;
    {
        internal_scope scope;
        made = fd_table::adopt_runtime_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    }
    if (made < 0)
        made = -1;
    int expected = -2;
    if (!signal_wakeup.compare_exchange_strong(expected, made, std::memory_order_acq_rel)) {
        fd_table::release_runtime_fd(made);
        made = expected;
    } else if (made >= 0) {
        // A program's dup2 onto its number moves it (fd_table::relocate_runtime_fd), which
        // updates the int inside the atomic (lock-free, the layout of an int).
        static_assert(sizeof(std::atomic<int>) == sizeof(int));
        fd_table::track_runtime_fd_slot(reinterpret_cast<int*>(&signal_wakeup));
    }
    errno = saved;
    return made;
}

void signal_aware_wait::note_handler_ran(int sig)
{
    bool hit = false;
    for (signal_aware_wait* w = waits_of_thread(); w; w = w->next_)
        if (sigismember(&w->mask_, sig) != 1) {
            w->hit_ = 1;
            hit = true;
        }
    int fd = signal_wakeup.load(std::memory_order_relaxed);
    if (hit && fd >= 0) {
        int saved = errno;
        std::uint64_t one = 1;
        syscall(SYS_write, fd, &one, sizeof one);
        errno = saved;
    }
}

void install_signal_interposition()
{
    hub::deliver_signal = &run_program_handler;
    // The fault signals always go through the trampoline (program view: as they were), so a
    // guard-page hit can be reported as the stack overflow it is.
    for (int sig : {SIGSEGV, SIGBUS}) {
        struct sigaction current{};
        if (GREEN_REAL(sigaction)(sig, nullptr, &current) != 0)
            continue;
        void* handler = (current.sa_flags & SA_SIGINFO)
                            ? reinterpret_cast<void*>(current.sa_sigaction)
                            : reinterpret_cast<void*>(current.sa_handler);
        current.sa_flags &= ~SA_SIGINFO;
        if (!is_default_or_ignore(handler))
            current.sa_flags |= SA_SIGINFO;
        green_sigaction(sig, &current, nullptr);
    }
}

}  // namespace green::hooks
