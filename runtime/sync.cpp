#include "sync.hpp"

#include "fiber.hpp"

#include <cerrno>

namespace green {

namespace {

__thread std::uint64_t thread_flow_id __attribute__((tls_model("initial-exec")));

bool already_past(std::uint64_t deadline)
{
    return deadline != no_deadline && deadline <= now_ns();
}

// Appends chain `b` to chain `a` (both linked through `next`).
waiter* concat(waiter* a, waiter* b)
{
    if (!a)
        return b;
    waiter* tail = a;
    while (tail->next)
        tail = tail->next;
    tail->next = b;
    return a;
}

}  // namespace

std::uint64_t current_flow_id()
{
    fiber* f = tls.running;
    if (f && !f->is_hub && !f->is_root)
        return reinterpret_cast<std::uintptr_t>(f);  // aligned: the low bit is clear
    // Thread ids are odd, so they never equal a fiber's address. The cached value stays right
    // in the child of fork: the parent's tid is still taken, so no thread of the child gets it.
    if (!thread_flow_id)
        thread_flow_id = (std::uint64_t(syscall(SYS_gettid)) << 1) | 1;
    return thread_flow_id;
}

// mutex

int mutex::lock_slow(std::uint64_t owner, std::uint64_t deadline)
{
    std::uint64_t id = 0;
    if (tracks_owner()) {
        id = owner ? owner : current_flow_id();
        // Only this flow stores its own id, and it clears it before releasing, so an equal
        // value here means this flow holds the mutex now.
        if (owner_.load(std::memory_order_relaxed) == id) {
            if (kind_ == kind::error_check)
                return EDEADLK;
            if (count_ == UINT32_MAX)
                return EAGAIN;
            ++count_;
            return 0;
        }
    }
    int e = acquire(deadline);
    if (e == 0 && tracks_owner()) {
        owner_.store(id, std::memory_order_relaxed);
        count_ = 1;
    }
    return e;
}

int mutex::try_lock(std::uint64_t owner)
{
    std::uint64_t id = 0;
    if (tracks_owner()) {
        id = owner ? owner : current_flow_id();
        if (owner_.load(std::memory_order_relaxed) == id) {
            if (kind_ == kind::error_check)
                return EBUSY;
            if (count_ == UINT32_MAX)
                return EAGAIN;
            ++count_;
            return 0;
        }
    }
    std::uint32_t expected = 0;
    if (!word_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                       std::memory_order_relaxed))
        return EBUSY;
    if (tracks_owner()) {
        owner_.store(id, std::memory_order_relaxed);
        count_ = 1;
    }
    return 0;
}

int mutex::timed_lock(std::uint64_t deadline, std::uint64_t owner)
{
    return lock_slow(owner, deadline);
}

int mutex::acquire(std::uint64_t deadline)
{
    std::uint32_t v = 0;
    if (word_.compare_exchange_strong(v, 1, std::memory_order_acquire, std::memory_order_relaxed))
        return 0;
    waiter w;
    {
        spinlock_guard g(lock_);
        v = word_.load(std::memory_order_relaxed);
        for (;;) {
            // 0 under the lock means the queue is empty: taking it is not barging.
            if (v == 0) {
                if (word_.compare_exchange_weak(v, 1, std::memory_order_acquire,
                                                std::memory_order_relaxed))
                    return 0;
                continue;
            }
            // Mark "waiters" before queueing, so that an unlock racing with us either freed
            // the mutex before the mark (the exchange fails and we see 0) or sees 2 and comes
            // for the queue, which it can only read after we release the lock.
            if (v == 2 || word_.compare_exchange_weak(v, 2, std::memory_order_relaxed))
                break;
        }
        if (already_past(deadline))
            return ETIMEDOUT;  // a stale 2 is harmless: unlock finds the queue empty
        waiters_.push_back(w);
    }
    // Delivered means handed over: the word already says held and this flow is the holder.
    switch (block(lock_, waiters_, w, deadline, interrupt_mode::never)) {
    case wait_result::woken: return 0;
    case wait_result::timed_out: return ETIMEDOUT;
    case wait_result::interrupted: break;
    }
    // A cancellation meant for a cancellation point this fiber had just left (a canceller on
    // another hub): locking is not a cancellation point, so try again.
    return acquire(deadline);
}

int mutex::unlock_slow(std::uint64_t owner)
{
    if (tracks_owner()) {
        if (owner_.load(std::memory_order_relaxed) != (owner ? owner : current_flow_id()))
            return EPERM;
        if (--count_ > 0)
            return 0;
        // Cleared before the release, so that a flow which locks next never sees its own id
        // left over from an earlier hold.
        owner_.store(0, std::memory_order_relaxed);
    }
    return release();
}

int mutex::release()
{
    std::uint32_t v = 1;
    if (word_.compare_exchange_strong(v, 0, std::memory_order_release, std::memory_order_relaxed))
        return 0;
    if (v == 0)
        return EPERM;  // a normal mutex that is not locked
    hand_over();
    return 0;
}

void mutex::hand_over()
{
    waiter* refused = nullptr;
    for (;;) {
        waiter* w;
        {
            spinlock_guard g(lock_);
            w = waiters_.claim_front();
            // Free only when nobody waits; otherwise held on w's behalf, so no flow can take
            // it between the claim and the delivery.
            word_.store(w ? (waiters_.empty() ? 1 : 2) : 0, std::memory_order_release);
        }
        // The refused waiter is let go only now: until it returns, the mutex may not be
        // destroyed, and the loop above still needed it.
        if (refused)
            release_refused(refused);
        if (!w || deliver(w))
            return;
        refused = w;  // it timed out first: the mutex is still ours to give
    }
}

// condvar

namespace {
int wait_status(wait_result r)
{
    switch (r) {
    case wait_result::woken: return 0;
    case wait_result::timed_out: return ETIMEDOUT;
    case wait_result::interrupted: return EINTR;  // only a cancellation ends it so
    }
    return ETIMEDOUT;
}
}  // namespace

int condvar::wait(mutex& m, std::uint64_t deadline, std::uint64_t owner)
{
    std::uint64_t id = 0;
    std::uint32_t depth = 0;
    if (m.tracks_owner()) {
        id = owner ? owner : current_flow_id();
        if (m.owner_.load(std::memory_order_relaxed) != id)
            return EPERM;
        depth = m.count_;
        m.owner_.store(0, std::memory_order_relaxed);
    }
    waiter w;
    {
        spinlock_guard g(lock_);
        waiters_.push_back(w);
    }
    // Queued before the mutex is released: a signaller that changes the predicate under the
    // mutex after this point finds the waiter. Releasing never parks, which the waiter needs
    // between being queued and blocking.
    m.release();
    wait_result r = block(lock_, waiters_, w, deadline, interrupt_mode::never);

    // Re-locking is not part of the cancellation point: a cancellation must not end it.
    cancel_point_pause pause;
    m.acquire(no_deadline);
    if (m.tracks_owner()) {
        m.owner_.store(id, std::memory_order_relaxed);
        m.count_ = depth;
    }
    return wait_status(r);
}

int condvar::wait_with(void (*unlock)(void*), void (*relock)(void*), void* lock,
                       std::uint64_t deadline)
{
    waiter w;
    {
        spinlock_guard g(lock_);
        waiters_.push_back(w);
    }
    unlock(lock);
    wait_result r = block(lock_, waiters_, w, deadline, interrupt_mode::never);
    cancel_point_pause pause;
    relock(lock);
    return wait_status(r);
}

int condvar::signal()
{
    waiter* refused = nullptr;
    for (;;) {
        waiter* w;
        {
            spinlock_guard g(lock_);
            w = waiters_.claim_front();
        }
        if (refused)
            release_refused(refused);
        // A waiter that timed out before the signal reached it returns ETIMEDOUT; the signal
        // goes to the next one, so it is never lost while someone waits.
        if (!w || deliver(w))
            return 0;
        refused = w;
    }
}

int condvar::broadcast()
{
    waiter* chain;
    {
        spinlock_guard g(lock_);
        chain = waiters_.claim_all();
    }
    deliver_all(chain);
    return 0;
}

// rwlock

int rwlock::read(std::uint64_t deadline, bool try_only, std::uint64_t owner)
{
    waiter w;
    {
        spinlock_guard g(lock_);
        if (!writer_ && (pref_ != preference::writer || waiting_writers_.empty())) {
            if (readers_ == UINT32_MAX)
                return EAGAIN;
            ++readers_;
            return 0;
        }
        if (writer_ && writer_owner_ == (owner ? owner : current_flow_id()))
            return EDEADLK;
        if (try_only)
            return EBUSY;
        if (already_past(deadline))
            return ETIMEDOUT;
        w.tag = 0;
        waiting_readers_.push_back(w);
    }
    // Delivered means admitted: the granter counted this reader in.
    return block(lock_, waiting_readers_, w, deadline, interrupt_mode::never) ==
                   wait_result::woken
               ? 0
               : ETIMEDOUT;
}

int rwlock::write(std::uint64_t deadline, bool try_only, std::uint64_t owner)
{
    std::uint64_t id = owner ? owner : current_flow_id();
    waiter w;
    {
        spinlock_guard g(lock_);
        if (!writer_ && readers_ == 0) {
            writer_ = true;
            writer_owner_ = id;
            return 0;
        }
        if (writer_ && writer_owner_ == id)
            return EDEADLK;
        if (try_only)
            return EBUSY;
        if (already_past(deadline))
            return ETIMEDOUT;
        w.tag = id;
        waiting_writers_.push_back(w);
    }
    if (block(lock_, waiting_writers_, w, deadline, interrupt_mode::never) == wait_result::woken)
        return 0;
    // This writer no longer waits: readers it held back may enter now.
    waiter* chain;
    {
        spinlock_guard g(lock_);
        chain = grant_locked();
    }
    hand_over(chain);
    return ETIMEDOUT;
}

int rwlock::unlock()
{
    waiter* chain;
    {
        spinlock_guard g(lock_);
        if (writer_) {
            writer_ = false;
            writer_owner_ = 0;
        } else if (readers_ > 0) {
            --readers_;
        } else {
            return EPERM;
        }
        chain = grant_locked();
    }
    hand_over(chain);
    return 0;
}

waiter* rwlock::grant_locked()
{
    if (writer_)
        return nullptr;
    bool writers = !waiting_writers_.empty();
    bool readers = !waiting_readers_.empty();
    if (writers && readers_ == 0 && (pref_ == preference::writer || !readers)) {
        waiter* w = waiting_writers_.claim_front();
        writer_ = true;
        writer_owner_ = w->tag;
        return w;
    }
    if (readers && (pref_ != preference::writer || !writers)) {
        waiter* chain = waiting_readers_.claim_all();
        for (waiter* w = chain; w; w = w->next)
            ++readers_;
        return chain;
    }
    return nullptr;
}

void rwlock::hand_over(waiter* chain)
{
    while (chain) {
        waiter* w = chain;
        chain = w->next;
        if (deliver(w))
            continue;
        // It timed out first: take back what it was granted and grant again. The rwlock is
        // still alive, as `w` has not returned yet.
        waiter* more;
        {
            spinlock_guard g(lock_);
            if (w->tag) {
                writer_ = false;
                writer_owner_ = 0;
            } else {
                --readers_;
            }
            more = grant_locked();
        }
        release_refused(w);
        chain = concat(chain, more);
    }
}

// semaphore

bool semaphore::try_take()
{
    std::uint32_t v = value_.load(std::memory_order_relaxed);
    while (v > 0)
        if (value_.compare_exchange_weak(v, v - 1, std::memory_order_acquire,
                                         std::memory_order_relaxed))
            return true;
    return false;
}

int semaphore::try_wait()
{
    return try_take() ? 0 : EAGAIN;
}

int semaphore::timed_wait(std::uint64_t deadline)
{
    if (try_take())
        return 0;
    waiter w;
    {
        spinlock_guard g(lock_);
        // The value only grows under the lock, and only while nobody waits; so a waiter
        // queued after seeing 0 here is found by the next post.
        if (try_take())
            return 0;
        if (already_past(deadline))
            return ETIMEDOUT;
        waiters_.push_back(w);
    }
    switch (block(lock_, waiters_, w, deadline, interrupt_mode::unless_restart)) {
    case wait_result::woken:
        return 0;  // the unit was handed over; the value never saw it
    case wait_result::timed_out:
        return ETIMEDOUT;
    case wait_result::interrupted:
        break;
    }
    return EINTR;
}

int semaphore::post()
{
    waiter* refused = nullptr;
    for (;;) {
        waiter* w;
        int e = 0;
        {
            spinlock_guard g(lock_);
            w = waiters_.claim_front();
            if (!w) {
                if (value_.load(std::memory_order_relaxed) >= max_value)
                    e = EOVERFLOW;
                else
                    value_.fetch_add(1, std::memory_order_release);
            }
        }
        if (refused)
            release_refused(refused);
        if (!w)
            return e;
        if (deliver(w))
            return 0;
        refused = w;  // it timed out or was interrupted first: the unit goes to the next
    }
}

// barrier

bool barrier::wait()
{
    waiter w;
    waiter* chain = nullptr;
    bool serial = false;
    {
        spinlock_guard g(lock_);
        if (++arrived_ < count_) {
            waiters_.push_back(w);
        } else {
            // The round ends under the lock: every waiter of this round is off the list
            // before anyone can queue for the next one.
            arrived_ = 0;
            chain = waiters_.claim_all();
            serial = true;
        }
    }
    if (serial) {
        deliver_all(chain);  // nobody refuses: no deadline, no interruption
        return true;
    }
    block(lock_, waiters_, w, no_deadline, interrupt_mode::never);
    return false;
}

}  // namespace green
