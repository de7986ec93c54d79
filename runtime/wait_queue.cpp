#include "wait_queue.hpp"

#include "futex.hpp"
#include "hub.hpp"

#include <cerrno>
#include <linux/futex.h>

namespace green {

namespace {

// A waiter's `state`. Only a waker moves it off `queued` (under the lock), and only the
// delivery moves it off `claimed`, so a waiter that sees `queued` under the lock may leave.
enum : std::uint32_t {
    queued = 0,
    claimed = 1,    // unlinked by a waker; the delivery is under way
    refused = 2,    // a fiber's delivery failed: it had timed out or been interrupted
    delivered = 3,  // a native waiter's delivery
};

// Returns 0, or the errno of FUTEX_WAIT (ETIMEDOUT, EINTR, EAGAIN when the word changed).
int futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected, std::uint64_t deadline)
{
    timespec ts;
    timespec* timeout = nullptr;
    if (deadline != no_deadline) {
        ts = ns_to_timespec(deadline);
        timeout = &ts;
    }
    // FUTEX_WAIT_BITSET takes an absolute time on CLOCK_MONOTONIC (no FUTEX_CLOCK_REALTIME),
    // the clock every deadline here is on, so a wait that restarts keeps its deadline.
    long r = futex::raw(reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT_BITSET_PRIVATE,
                        expected, timeout, nullptr, FUTEX_BITSET_MATCH_ANY);
    return r == 0 ? 0 : int(-r);
}

// Only the word's address is used: it may be a stack slot its waiter has already left, and
// then the worst outcome is a spurious return of an unrelated futex wait, which all retry.
void futex_wake_one(std::atomic<std::uint32_t>* word)
{
    futex::raw(reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

wait_result result_of(wake_reason r)
{
    return r == wake_reason::timed_out ? wait_result::timed_out : wait_result::interrupted;
}

wait_result block_fiber(spinlock& lock, waiter_list& list, waiter& w, std::uint64_t deadline,
                        interrupt_mode mode)
{
    wake_reason r = tls.home->park(deadline, mode);
    if (r == wake_reason::ready)
        return wait_result::woken;
    if (w.state.load(std::memory_order_acquire) == queued) {
        spinlock_guard g(lock);
        if (w.state.load(std::memory_order_relaxed) == queued) {
            list.remove(w);
            return result_of(r);
        }
    }
    // Claimed by a waker on another thread, which will find this fiber already woken and pass
    // the wake-up on. Until it releases `w` it may still touch it, this fiber's wake word and
    // the primitive, so wait: it is between a claim and a release, a few instructions and
    // one spinlock section, never a park. (A waker on this hub's thread never lets this fiber
    // run in that window.)
    for (unsigned spins = 0; w.state.load(std::memory_order_acquire) != refused; ++spins) {
        if (spins < 64)
            __builtin_ia32_pause();
        else
            syscall(SYS_sched_yield);
    }
    return result_of(r);
}

wait_result block_native(spinlock& lock, waiter_list& list, waiter& w, std::uint64_t deadline,
                         interrupt_mode mode)
{
    for (;;) {
        std::uint32_t s = w.state.load(std::memory_order_acquire);
        if (s == delivered)
            return wait_result::woken;
        if (s == claimed) {
            futex_wait(&w.state, claimed, no_deadline);  // the delivery is a store away
            continue;
        }
        int e = futex_wait(&w.state, queued, deadline);
        if (e == ETIMEDOUT || (e == EINTR && mode != interrupt_mode::never)) {
            spinlock_guard g(lock);
            if (w.state.load(std::memory_order_relaxed) == queued) {
                list.remove(w);
                return e == ETIMEDOUT ? wait_result::timed_out : wait_result::interrupted;
            }
            // Claimed meanwhile: a native waiter never refuses, so it takes the wake-up.
        }
    }
}

}  // namespace

waiter::waiter()
{
    // A green thread that forked has no hub in the child until it blocks on something else;
    // until then it is the child's only flow, and sleeps on the futex as a thread would. A
    // fiber inside the runtime's own calls (internal_scope) blocks natively too: were it to
    // park, the hub would run the other fibers with the thread's internal depth still raised,
    // and their hooks would all pass straight through (a read would block the hub thread).
    fiber* f = tls.running;
    if (f && !f->is_hub && tls.home && tls.internal_depth == 0 && !tls.native_only)
        green = f;
}

void waiter_list::push_back(waiter& w)
{
    w.state.store(queued, std::memory_order_relaxed);
    if (w.green)
        w.green->wake.store(int(wake_reason::waiting), std::memory_order_relaxed);
    w.next = nullptr;
    w.prev = tail_;
    if (tail_)
        tail_->next = &w;
    else
        head_ = &w;
    tail_ = &w;
}

void waiter_list::remove(waiter& w)
{
    if (w.prev)
        w.prev->next = w.next;
    else
        head_ = w.next;
    if (w.next)
        w.next->prev = w.prev;
    else
        tail_ = w.prev;
    w.prev = w.next = nullptr;
}

waiter* waiter_list::claim_front()
{
    waiter* w = head_;
    if (!w)
        return nullptr;
    remove(*w);
    w->state.store(claimed, std::memory_order_relaxed);
    return w;
}

waiter* waiter_list::claim_all()
{
    waiter* chain = head_;
    for (waiter* w = chain; w; w = w->next) {
        w->prev = nullptr;
        w->state.store(claimed, std::memory_order_relaxed);
    }
    head_ = tail_ = nullptr;
    return chain;
}

bool deliver(waiter* w)
{
    if (fiber* f = w->green) {
        // try_wake's acquire-release exchange orders the waker's writes before the fiber's
        // resumption; after it succeeds the fiber may already run on its own hub.
        return hub::try_wake(f, wake_reason::ready);
    }
    std::atomic<std::uint32_t>* word = &w->state;
    word->store(delivered, std::memory_order_release);
    futex_wake_one(word);
    return true;
}

void release_refused(waiter* w)
{
    w->state.store(refused, std::memory_order_release);  // the last touch: w may vanish now
}

void deliver_all(waiter* chain)
{
    while (chain) {
        waiter* next = chain->next;  // read first: a delivered waiter's node may vanish
        if (!deliver(chain))
            release_refused(chain);
        chain = next;
    }
}

wait_result block(spinlock& lock, waiter_list& list, waiter& w, std::uint64_t deadline,
                  interrupt_mode mode)
{
    int saved_errno = errno;
    wait_result r = w.green ? block_fiber(lock, list, w, deadline, mode)
                            : block_native(lock, list, w, deadline, mode);
    errno = saved_errno;
    return r;
}

std::uint64_t monotonic_deadline(clockid_t clock, const timespec& abstime)
{
    if (abstime.tv_sec < 0)
        return 0;
    if (std::uint64_t(abstime.tv_sec) >= no_deadline / 1000000000u - 1)
        return no_deadline;
    std::uint64_t target = timespec_to_ns(abstime);
    if (clock == CLOCK_MONOTONIC)
        return target;
    timespec rt;
    clock_gettime(clock, &rt);
    std::uint64_t now_rt = timespec_to_ns(rt);
    std::uint64_t now_mono = now_ns();
    if (target <= now_rt)
        return now_mono;
    return deadline_after(now_mono, target - now_rt);
}

}  // namespace green
