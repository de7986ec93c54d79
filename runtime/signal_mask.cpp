// Signal masks of green threads: the census, and the hub's side of per-fiber masks
// (signal_mask.hpp).
#include "signal_mask.hpp"

#include "hub.hpp"

#include <cstdlib>
#include <sys/syscall.h>
#include <unistd.h>

namespace green {

void mask_census::join(sigbits mask)
{
    ++members_;
    for (sigbits m = mask; m; m &= m - 1)
        ++blocking_[__builtin_ctzll(m)];
    any_ |= mask;
    recount();
}

void mask_census::leave(sigbits mask)
{
    --members_;
    for (sigbits m = mask; m; m &= m - 1)
        if (--blocking_[__builtin_ctzll(m)] == 0)
            any_ &= ~(sigbits(1) << __builtin_ctzll(m));
    recount();
}

void mask_census::change(sigbits from, sigbits to)
{
    for (sigbits m = from & ~to; m; m &= m - 1)
        if (--blocking_[__builtin_ctzll(m)] == 0)
            any_ &= ~(sigbits(1) << __builtin_ctzll(m));
    for (sigbits m = to & ~from; m; m &= m - 1)
        ++blocking_[__builtin_ctzll(m)];
    any_ |= to;
    recount();
}

void mask_census::recount()
{
    // Only a signal some member blocks can be blocked by all of them.
    all_ = 0;
    if (members_ == 0)
        return;
    for (sigbits m = any_; m; m &= m - 1)
        if (blocking_[__builtin_ctzll(m)] == members_)
            all_ |= sigbits(1) << __builtin_ctzll(m);
}

void apply_kernel_mask_change(sigbits from, sigbits to)
{
    int saved = errno;
    if (sigbits block = to & ~from)
        syscall(SYS_rt_sigprocmask, SIG_BLOCK, &block, nullptr, sizeof block);
    if (sigbits unblock = from & ~to)
        syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &unblock, nullptr, sizeof unblock);
    errno = saved;
}

// The callers bring the kernel mask along (apply_kernel_mask_change): they know what it is.
void hub::join_census(fiber* f)
{
    census_.join(f->sigmask);
    f->member = true;
    f->prev_member = nullptr;
    f->next_member = members_;
    if (members_)
        members_->prev_member = f;
    members_ = f;
}

void hub::leave_census(fiber* f)
{
    if (!f->member)
        return;
    census_.leave(f->sigmask);
    f->member = false;
    if (f->prev_member)
        f->prev_member->next_member = f->next_member;
    else
        members_ = f->next_member;
    if (f->next_member)
        f->next_member->prev_member = f->prev_member;
    f->prev_member = f->next_member = nullptr;
}

void hub::set_signal_mask(fiber* f, sigbits mask)
{
    mask &= ~never_blocked;
    sigbits from = f->sigmask;
    if (from == mask)
        return;
    // The fiber's own mask first: a signal the kernel delivers from here on is judged by it.
    // Opening, the kernel still blocks until the call below; closing, a signal that arrives in
    // between is held, not lost.
    __atomic_store_n(&f->sigmask, mask, __ATOMIC_RELAXED);  // other hubs read it (hand_signal_to)
    if (from & ~mask)
        // Opening: the store is seen before this fiber next reads sig_pending, and hand_signal_to
        // sets sig_pending before it reads the mask, so one of the two sees the other's signal.
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (!f->member)
        return;
    sigbits before = census_.blocked_by_all();
    census_.change(from, mask);
    apply_kernel_mask_change(before, census_.blocked_by_all());
}

void hub::hold_signal(const siginfo_t& info)
{
    // Runs in a signal handler: only this hub's fields (written by handlers of its own thread
    // and read by it with every signal blocked), a lock-free atomic and a raw write.
    sigbits bit = sig_bit(info.si_signo);
    if (!(held_.load(std::memory_order_relaxed) & bit))
        held_info_[info.si_signo - 1] = info;
    held_.fetch_or(bit, std::memory_order_release);
    wakeup_signalled_.store(true, std::memory_order_relaxed);
    std::uint64_t one = 1;
    syscall(SYS_write, wakeup_fd_, &one, sizeof one);
}

bool hub::take_held_signal(int sig, siginfo_t& info)
{
    // A handler of this thread may hold another signal meanwhile: every signal is blocked
    // while the bit and its siginfo are taken together.
    sigbits all = ~sigbits(0), saved = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &saved, sizeof all);
    sigbits bit = sig_bit(sig);
    bool taken = held_.load(std::memory_order_acquire) & bit;
    if (taken) {
        info = held_info_[sig - 1];
        held_.fetch_and(~bit, std::memory_order_relaxed);
    }
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &saved, nullptr, sizeof saved);
    return taken;
}

siginfo_t sent_by_this_process(int sig, const sigval* value)
{
    siginfo_t info{};
    info.si_signo = sig;
    info.si_code = value ? SI_QUEUE : SI_TKILL;
    info.si_pid = getpid();
    info.si_uid = getuid();
    if (value)
        info.si_value = *value;
    return info;
}

namespace {

// Takes the lowest signal of `open` from f's own pending ones, with the siginfo raise or
// pthread_kill from this process would give it (pthread_sigqueue's value, if one was kept).
bool take_own_signal(fiber* f, sigbits open, siginfo_t& info)
{
    for (sigbits own = f->sig_pending.load(std::memory_order_acquire) & open; own;
         own &= own - 1) {
        int sig = __builtin_ctzll(own) + 1;
        sigbits bit = sig_bit(sig);
        if (!(f->sig_pending.fetch_and(~bit, std::memory_order_acq_rel) & bit))
            continue;
        info = sent_by_this_process(sig, nullptr);
        take_queued_value(f, sig, info);
        return true;
    }
    return false;
}

}  // namespace

void hub::hand_signal_to(fiber* f, int sig)
{
    sigbits bit = sig_bit(sig);
    f->sig_pending.fetch_or(bit, std::memory_order_seq_cst);  // see set_signal_mask
    if ((__atomic_load_n(&f->sigmask, __ATOMIC_RELAXED) & bit) &&
        !(__atomic_load_n(&f->sigwaiting, __ATOMIC_ACQUIRE) & bit))
        return;  // it takes the signal when it unblocks it (or sigwaits for it)
    member_signals_.store(true, std::memory_order_release);
    wakeup_signalled_.store(true, std::memory_order_relaxed);
    std::uint64_t one = 1;
    syscall(SYS_write, wakeup_fd_, &one, sizeof one);
}

void hub::run_signal_for(fiber* f, const siginfo_t& info)
{
    if (!deliver_signal)
        return;
    int ran = deliver_signal(info);
    if (ran >= 0)
        interrupt_for_signal(f, ran == 1);
}

bool hub::take_pending_signal(fiber* f, sigbits open, siginfo_t& info)
{
    int saved = errno;
    bool taken = take_own_signal(f, open, info);
    if (!taken)
        if (sigbits held = held_.load(std::memory_order_acquire) & open)
            taken = take_held_signal(__builtin_ctzll(held) + 1, info);
    errno = saved;
    return taken;
}

fiber* hub::member_taking(int sig)
{
    // As the kernel prefers the thread a process-directed signal found: the root (the main
    // thread for the first hub), then a parked fiber it would interrupt, then any member.
    sigbits bit = sig_bit(sig);
    if (root_ && root_->member && !(root_->sigmask & bit))
        return root_;
    for (fiber* f = parked_interruptible_; f; f = f->next_parked)
        if (f->member && !(f->sigmask & bit))
            return f;
    for (fiber* f = members_; f; f = f->next_member)
        if (!(f->sigmask & bit))
            return f;
    return nullptr;
}

void hub::interrupt_for_signal(fiber* f, bool restart)
{
    if (f->state == fiber_state::parked) {
        if (f->interruptible == interrupt_mode::always ||
            (!restart && f->interruptible == interrupt_mode::unless_restart))
            try_wake(f, wake_reason::interrupted);
    } else if (f->in_call) {
        // Runnable inside a blocking call that has not parked yet: its park ends at once.
        f->call_signals = f->call_signals | (restart ? call_signal_restart : call_signal_plain);
    }
}

void hub::deliver_member_signals()
{
    // Signals handed to members that take them (hand_signal_to): each runs its handler here
    // and interrupts that member's parked call.
    for (fiber* f = members_; f; f = f->next_member) {
        if (f->sig_pending.load(std::memory_order_acquire) &
            __atomic_load_n(&f->sigwaiting, __ATOMIC_ACQUIRE))
            try_wake(f, wake_reason::ready);  // a sigwait takes it (no handler runs)
        siginfo_t info;
        while (deliver_signal && take_own_signal(f, ~f->sigmask, info)) {
            int ran = deliver_signal(info);
            if (ran >= 0)
                interrupt_for_signal(f, ran == 1);
        }
    }
}

void hub::deliver_held_signals()
{
    // On the hub context: each held signal goes to a member that does not block it, whose
    // handler runs here, as the hub's handlers do, and whose parked call it interrupts. One
    // that every member has come to block (a mask changed after the kernel chose this thread)
    // goes back to the kernel, which now blocks it too: pending for the OS thread, where
    // sigpending, sigwait's signalfd and the first member to unblock it find it.
    sigbits held = held_.load(std::memory_order_acquire);
    for (; held; held &= held - 1) {
        int sig = __builtin_ctzll(held) + 1;
        fiber* target = member_taking(sig);
        siginfo_t info;
        if (!target && (census_.blocked_by_all() & sig_bit(sig)) && take_held_signal(sig, info)) {
            int saved = errno;
            syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), sig, &info);
            errno = saved;
            continue;
        }
        if (!target || !deliver_signal || !take_held_signal(sig, info))
            continue;
        int ran = deliver_signal(info);
        if (ran >= 0)
            interrupt_for_signal(target, ran == 1);
    }
}

namespace {

// pthread_sigqueue's values for targets that block the signal, until they take it. Rare: a
// list under a lock, never touched by a signal handler.
struct queued_value {
    fiber* target;
    int sig;
    sigval value;
};
spinlock queued_lock;
queued_value* queued = nullptr;
std::size_t queued_count = 0, queued_capacity = 0;

}  // namespace

bool keep_queued_value(fiber* f, int sig, sigval value)
{
    spinlock_guard g(queued_lock);
    for (std::size_t i = 0; i < queued_count; ++i)
        if (queued[i].target == f && queued[i].sig == sig)
            return true;  // a signal pends once here, real-time ones too; the first value stands
    if (queued_count == queued_capacity) {
        std::size_t n = queued_capacity ? queued_capacity * 2 : 8;
        auto* grown = static_cast<queued_value*>(std::realloc(queued, n * sizeof *queued));
        if (!grown)
            return false;
        queued = grown;
        queued_capacity = n;
    }
    queued[queued_count] = {f, sig, value};
    __atomic_store_n(&queued_count, queued_count + 1, __ATOMIC_RELAXED);
    return true;
}

void take_queued_value(fiber* f, int sig, siginfo_t& info)
{
    spinlock_guard g(queued_lock);
    for (std::size_t i = 0; i < queued_count; ++i)
        if (queued[i].target == f && queued[i].sig == sig) {
            info.si_code = SI_QUEUE;
            info.si_value = queued[i].value;
            queued[i] = queued[queued_count - 1];
            __atomic_store_n(&queued_count, queued_count - 1, __ATOMIC_RELAXED);
            return;
        }
}

void forget_queued_values_after_fork()
{
    // The child's one thread had its pending signals cleared; the other entries are for threads
    // it does not have. The lock may have been held by one of them.
    queued_lock.release_after_fork();
    __atomic_store_n(&queued_count, std::size_t(0), __ATOMIC_RELAXED);
}

void forget_queued_values(fiber* f)
{
    if (__atomic_load_n(&queued_count, __ATOMIC_RELAXED) == 0)
        return;  // every ending thread comes here: no lock when nothing is kept
    spinlock_guard g(queued_lock);
    for (std::size_t i = 0; i < queued_count;)
        if (queued[i].target == f) {
            queued[i] = queued[queued_count - 1];
            __atomic_store_n(&queued_count, queued_count - 1, __ATOMIC_RELAXED);
        } else
            ++i;
}

}  // namespace green
