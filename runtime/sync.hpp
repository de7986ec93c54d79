// Green synchronisation primitives: mutex, condvar, rwlock, semaphore, barrier.
//
// Each works for any mix of callers: fibers of one hub (a fiber blocked on a mutex another fiber
// of its hub holds parks, so the holder can run), fibers of different hubs, and native threads
// without a hub, which sleep on a futex (wait_queue.hpp). They never call pthread_*: under the
// preload those symbols are the program's and may themselves come back here.
//
// Conventions, as pthread_*: calls return 0 or an errno value. Deadlines are absolute
// nanoseconds on CLOCK_MONOTONIC (now_ns()); no_deadline waits forever; monotonic_deadline()
// converts a CLOCK_REALTIME timespec. Owners are opaque nonzero 64-bit ids chosen by the caller
// (the hooks pass a green-thread id); 0 means the calling flow (current_flow_id()).
//
// The all-zero bytes of a mutex, condvar or rwlock are a valid default object (a normal mutex,
// a writer-preferring rwlock), as PTHREAD_*_INITIALIZER are, and each fits in the pthread type
// it stands for, so a hook may keep one inside the program's object. Each is also laid out so
// that one word tells it from an object of that type glibc set up (a process-shared one, which
// may come from another process): the word glibc keeps its process-shared mark in holds, in a
// green object, a value glibc never writes there (see each class).
#pragma once

#include "internal.hpp"
#include "wait_queue.hpp"

#include <atomic>
#include <climits>
#include <cstdint>

namespace green {

// The calling flow's owner id: the fiber for a spawned fiber; the OS thread for a thread's own
// flow (its root fiber, its hub context, or a thread with no hub), so the id of a thread does
// not change when it gets a hub. Never 0.
std::uint64_t current_flow_id();

// Ownership is handed over in FIFO order: unlock gives the mutex straight to the longest
// waiter, and a locker never takes a mutex that has waiters. No waiter starves, even behind a
// fiber that unlocks and relocks without parking; the price is that a handed-over mutex stays
// held until its new owner runs. Uncontended lock and unlock are one compare-and-swap each.
class mutex {
public:
    // The values are glibc's PTHREAD_MUTEX_* types, and the kind sits where glibc keeps it
    // (offset 16 of pthread_mutex_t), so a static initialiser's bytes are a mutex of its kind.
    enum class kind : std::uint32_t {
        normal = 0,   // relock by the owner deadlocks; any flow may unlock
        recursive,    // the owner relocks; unlock by a non-owner: EPERM
        error_check,  // relock by the owner: EDEADLK (try_lock: EBUSY); non-owner unlock: EPERM
        adaptive,     // glibc spins a little before sleeping; here it behaves as normal
    };

    mutex() = default;
    explicit mutex(kind k) : kind_(k) {}
    mutex(const mutex&) = delete;
    mutex& operator=(const mutex&) = delete;

    int lock(std::uint64_t owner = 0);
    int try_lock(std::uint64_t owner = 0);                          // EBUSY
    int timed_lock(std::uint64_t deadline, std::uint64_t owner = 0);  // ETIMEDOUT
    int unlock(std::uint64_t owner = 0);                            // EPERM

    kind type() const { return kind_; }
    // Held by some flow (pthread_mutex_destroy: EBUSY).
    bool locked() const { return word_.load(std::memory_order_relaxed) != 0; }

private:
    friend class condvar;

    int lock_slow(std::uint64_t owner, std::uint64_t deadline);
    int unlock_slow(std::uint64_t owner);
    int acquire(std::uint64_t deadline);
    int release();
    void hand_over();
    bool tracks_owner() const { return kind_ == kind::recursive || kind_ == kind::error_check; }

    // Laid out like glibc's pthread_mutex_t where it matters: word at 0, kind at 16, and 0 in
    // every field of a fresh mutex. The kind is 0-3; glibc's __kind there has more bits set
    // in the mutexes it sets up: 128 process-shared (robust ones too), 32/64 priority protocol.
    // 0: free; 1: held; 2: held, and the queue may be non-empty. The queue is non-empty only
    // while the word is 2, which is what makes FIFO hand-over work: unlock sees 2 and hands over.
    std::atomic<std::uint32_t> word_{0};
    std::uint32_t count_ = 0;              // recursion depth; the owner's alone
    std::atomic<std::uint64_t> owner_{0};  // recursive and error-checking kinds; 0 when free
    kind kind_ = kind::normal;
    spinlock lock_;
    waiter_list waiters_;
};

inline int mutex::lock(std::uint64_t owner)
{
    std::uint32_t expected = 0;
    if (kind_ == kind::normal &&
        word_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                      std::memory_order_relaxed)) [[likely]]
        return 0;
    return lock_slow(owner, no_deadline);
}

inline int mutex::unlock(std::uint64_t owner)
{
    std::uint32_t expected = 1;
    if (kind_ == kind::normal &&
        word_.compare_exchange_strong(expected, 0, std::memory_order_release,
                                      std::memory_order_relaxed)) [[likely]]
        return 0;
    return unlock_slow(owner);
}

// A waiter returns 0 only when signal or broadcast chose it: there are no spurious wake-ups.
// wait releases the mutex (a recursive one entirely, restoring its depth after) and re-acquires
// it before returning, also after ETIMEDOUT. Broadcast wakes every waiter to contend for the
// mutex; it does not move them onto the mutex's queue.
//
// A waiting fiber that is at a cancellation point (fiber::at_cancel_point) and is cancelled
// returns EINTR, with the mutex re-acquired; nothing else interrupts a wait.
class condvar {
public:
    condvar() = default;
    condvar(const condvar&) = delete;
    condvar& operator=(const condvar&) = delete;

    // EPERM: the mutex is a recursive or error-checking one that `owner` does not hold.
    int wait(mutex& m, std::uint64_t deadline = no_deadline, std::uint64_t owner = 0);
    // The same with a lock of another kind, released by unlock(lock) after the waiter is queued
    // and re-taken by relock(lock) before returning.
    int wait_with(void (*unlock)(void*), void (*relock)(void*), void* lock,
                  std::uint64_t deadline = no_deadline);
    int signal();
    int broadcast();

private:
    spinlock lock_;
    waiter_list waiters_;
};

// Reader preference (the default, as glibc's): a reader enters whenever no writer holds the
// lock, so read locks may nest, and a stream of readers can starve writers. Writer preference
// (glibc's PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP): a reader waits while a writer holds
// the lock or waits for it, so a stream of readers cannot starve writers, and a reader that
// read-locks again while a writer waits deadlocks, as with glibc. Waiting writers are served
// in FIFO order; when the lock frees up under writer preference the next writer gets it before
// any waiting reader, otherwise every waiting reader enters at once.
class rwlock {
public:
    // glibc's PTHREAD_RWLOCK_PREFER_* values, kept where glibc keeps them (offset 48 of
    // pthread_rwlock_t), so a static initialiser's bytes are a lock of its preference. As in
    // glibc, PREFER_WRITER_NP (1) behaves as reader preference.
    enum class preference : std::uint32_t { reader = 0, writer = 2 };

    rwlock() = default;
    explicit rwlock(preference p) : pref_(p) {}
    rwlock(const rwlock&) = delete;
    rwlock& operator=(const rwlock&) = delete;

    // EDEADLK: `owner` holds the write lock. EAGAIN: too many readers.
    int rdlock(std::uint64_t owner = 0) { return read(no_deadline, false, owner); }
    int try_rdlock(std::uint64_t owner = 0) { return read(no_deadline, true, owner); }
    int timed_rdlock(std::uint64_t deadline, std::uint64_t owner = 0)
    {
        return read(deadline, false, owner);
    }
    int wrlock(std::uint64_t owner = 0) { return write(no_deadline, false, owner); }
    int try_wrlock(std::uint64_t owner = 0) { return write(no_deadline, true, owner); }
    int timed_wrlock(std::uint64_t deadline, std::uint64_t owner = 0)
    {
        return write(deadline, false, owner);
    }
    preference prefers() const { return pref_; }

    // Releases the write lock or one read lock; EPERM if neither is held.
    int unlock();

private:
    int read(std::uint64_t deadline, bool try_only, std::uint64_t owner);
    int write(std::uint64_t deadline, bool try_only, std::uint64_t owner);
    waiter* grant_locked();
    void hand_over(waiter* chain);

    // Laid out around glibc's pthread_rwlock_t: offset 28, where glibc keeps __shared (1 in a
    // process-shared lock), is always 0 here; the preference is at 48, as glibc's __flags.
    std::uint64_t writer_owner_ = 0;     // 0
    waiter_list waiting_readers_;        // 8; tag 0
    std::uint32_t readers_ = 0;          // 24; read locks held
    std::uint32_t glibc_shared_ = 0;     // 28
    waiter_list waiting_writers_;        // 32; tag: the writer's owner id
    preference pref_ = preference::reader;  // 48
    spinlock lock_;
    bool writer_ = false;
};

// A counting semaphore. post hands a unit straight to the longest waiter if there is one.
// wait and timed_wait end with EINTR when a signal handler without SA_RESTART runs, as
// sem_wait and sem_timedwait do on Linux since 2.6.22; the other primitives never end early.
class semaphore {
public:
    static constexpr std::uint32_t max_value = INT_MAX;  // SEM_VALUE_MAX
    // At offset 8, where every semaphore glibc sets up has its futex flag (0 for a named or
    // process-shared one, 128 otherwise).
    static constexpr std::uint32_t signature = 0x6e657267;  // "gren"

    explicit semaphore(std::uint32_t initial = 0) : value_(initial) {}
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;

    int post();  // EOVERFLOW past max_value
    int wait() { return timed_wait(no_deadline); }
    int try_wait();  // EAGAIN
    int timed_wait(std::uint64_t deadline);  // ETIMEDOUT, EINTR
    // 0 while flows wait.
    std::uint32_t value() const { return value_.load(std::memory_order_relaxed); }

private:
    bool try_take();

    std::atomic<std::uint32_t> value_;  // 0
    spinlock lock_;                     // 4
    std::uint32_t signature_ = signature;  // 8
    waiter_list waiters_;               // 16
};

// A reusable barrier for `count` flows. A round ends when the count-th flow arrives; it is the
// serial one (wait returns true, PTHREAD_BARRIER_SERIAL_THREAD) and wakes the others (false).
// A flow may start waiting for the next round at once.
class barrier {
public:
    explicit barrier(unsigned count) : count_(count ? count : 1) {}
    barrier(const barrier&) = delete;
    barrier& operator=(const barrier&) = delete;

    bool wait();

    // At offset 12, where every barrier glibc sets up has its futex flag (0 for a
    // process-shared one, 128 otherwise).
    static constexpr std::uint32_t signature = 0x6e657267;  // "gren"

private:
    spinlock lock_;                        // 0
    unsigned count_;                       // 4
    unsigned arrived_ = 0;                 // 8
    std::uint32_t signature_ = signature;  // 12
    waiter_list waiters_;                  // 16
};

}  // namespace green
