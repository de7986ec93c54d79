// Waiting for a green synchronisation primitive, by a fiber or by a native thread.
//
// A waiter lives on the waiting flow's stack and is linked into a primitive's FIFO list under
// the primitive's spinlock. Each call decides how to block: a fiber (any fiber but a hub's own
// context) parks on its hub and is woken with hub::try_wake, which works across hubs; anything
// else (a thread without a hub, the hub context) sleeps on the waiter's futex word. So fibers of
// one hub, fibers of several hubs and native threads can wait on one primitive in any mix.
//
// Waking is two-step. Under the primitive's lock the waker `claim`s waiters: unlinks them and
// marks them claimed, deciding what they are given (the mutex, a unit of a semaphore...). After
// the lock is released it `deliver`s each claim. A delivered waiter may return, free its stack
// and destroy the primitive at once, so a waker touches neither the primitive nor the waiter
// after a successful delivery: every wake path ends with its deliveries.
//
// Lost wake-ups: a waiter is enqueued (under the lock) before it blocks, so a claim made at any
// time after that finds it. A native waiter cannot refuse a delivery. A fiber can: if its
// deadline passed or a signal interrupted it first, try_wake fails, `deliver` returns false and
// the waker still holds what it meant to hand over, so it passes it on (relocks, claims the next
// waiter), then lets the refusing waiter go. A waiter that times out while still queued removes
// itself under the lock; one that times out while claimed waits for the waker to finish with it
// (native: it takes the delivery; fiber: it is refused and let go), so no wake-up is ever
// half-given.
#pragma once

#include "fiber.hpp"
#include "internal.hpp"

#include <atomic>
#include <cstdint>
#include <ctime>

namespace green {

enum class wait_result : std::uint8_t { woken, timed_out, interrupted };

struct waiter {
    waiter* prev = nullptr;
    waiter* next = nullptr;  // the list while queued; the claim chain once claimed
    fiber* green = nullptr;  // null: a native thread, sleeping on `state`
    std::atomic<std::uint32_t> state{0};
    std::uintptr_t tag = 0;  // the primitive's own use (rwlock: reader or writer)

    // What the calling flow is: a fiber parks, anything else sleeps on the futex.
    waiter();
    waiter(const waiter&) = delete;
    waiter& operator=(const waiter&) = delete;
};

// An intrusive FIFO of waiters. Not locked itself: every call is made under the spinlock of the
// primitive that owns the list. All-zero bytes are an empty list.
class waiter_list {
public:
    bool empty() const { return head_ == nullptr; }
    waiter* front() const { return head_; }

    // Marks `w` as waiting and links it at the tail. Must come before the lock that guards the
    // list is released, and nothing that can park may run between it and `block`.
    void push_back(waiter& w);

    // Claiming: unlinks waiters and marks them claimed; each is given whatever the caller
    // decided, once delivered. claim_front: the head alone (null if none), its `next` null.
    // claim_all: every waiter, chained through `next` in FIFO order.
    waiter* claim_front();
    waiter* claim_all();

    // For a waiter that gives up while still queued.
    void remove(waiter& w);

private:
    waiter* head_ = nullptr;
    waiter* tail_ = nullptr;
};

// Completes a claim after the primitive's lock is released; never touches the primitive.
// False: `w` was a fiber that had already timed out or been interrupted; it takes nothing and
// stays claimed, waiting, so that it cannot return before the caller has passed the wake-up on
// (which may need the primitive: a waiter still inside a call keeps the primitive alive).
// The caller then calls release_refused(w) once it is done with the primitive.
bool deliver(waiter* w);
void release_refused(waiter* w);

// Delivers every claim of a chain; for wake-ups nobody needs to pass on (broadcasts).
void deliver_all(waiter* chain);

// Blocks on `w`, which was pushed onto `list` under `lock`; called after releasing `lock`.
// `deadline` is absolute on CLOCK_MONOTONIC (no_deadline: none). `mode` says which signal
// handlers end the wait (never: the wait resumes after a handler, as pthread_mutex_lock does).
// `woken`: a claim was delivered. Otherwise `w` is off the list and was given nothing.
// Keeps the caller's errno.
wait_result block(spinlock& lock, waiter_list& list, waiter& w, std::uint64_t deadline,
                  interrupt_mode mode);

// Converts an absolute deadline on `clock` (CLOCK_REALTIME or CLOCK_MONOTONIC) to the
// monotonic deadline every wait takes. A realtime deadline is converted once, when the wait
// starts: a step of the wall clock during the wait does not move it (pthread_*_timedlock and
// sem_timedwait follow such steps natively). A time already past stays past.
std::uint64_t monotonic_deadline(clockid_t clock, const timespec& abstime);

}  // namespace green
