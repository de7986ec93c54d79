// Green futex waits: FUTEX_WAIT and friends for flows that park, with the kernel's results.
//
// Private futexes (FUTEX_PRIVATE_FLAG) are kept in a registry keyed by virtual address: a
// waiting fiber links itself into its address's bucket, checks the word under the bucket's
// lock (so a green waker that changes the word and wakes cannot slip in between) and parks;
// green wakers unlink and wake up to `n` of them, and pass what is left of `n` to the kernel,
// so threads that wait natively on the same word are woken too and counted as the kernel
// counts them. A wake that never reaches the registry (a raw `syscall` instruction, a caller
// the runtime keeps native) does not reach a fiber waiting here: see README.
//
// Shared futexes may be woken by another process, which no registry can see, so a green
// waiter's wait on one is a real kernel wait made by a helper thread (futex_waitv on the
// program's word and on a cancel word of the runtime's), while the fiber parks; the kernel
// then decides everything: EAGAIN, who is woken, the count, the timeout on the right clock.
// Helpers are made on demand and kept for reuse; each blocked shared wait holds one, and a
// round trip costs about 100 times the registry's. Except on memory no other process can
// share (a private anonymous page: the brk heap, malloc's arenas, stacks): libstdc++'s
// std::future waits with the shared operations on its state there, so those waits use the
// registry (under keys apart from the private ones'), and shared wakes and requeues act on
// the registry before the kernel.
//
// Every call returns what the system call returns (>= 0) or -errno, as the kernel does.
#pragma once

#include <cstdint>
#include <ctime>

namespace green::futex {

// The futex system call itself, never through libc's syscall(): under the preload that name
// is interposed and comes back here.
long raw(std::uint32_t* uaddr, int op, std::uint32_t val, const void* timeout_or_val2,
         std::uint32_t* uaddr2, std::uint32_t val3);

// One futex(2) call from a flow that may park (green::may_park()), `op` with its flags.
// Operations this subsystem does not handle (the PI family, FUTEX_WAKE_OP,
// FUTEX_WAIT_REQUEUE_PI) go to the kernel unchanged.
long call(std::uint32_t* uaddr, int op, std::uint32_t val, const void* timeout_or_val2,
          std::uint32_t* uaddr2, std::uint32_t val3);

// The registry's operations, for the unit tests and for call(): on private futexes, and with
// `shared` on the shared operations' separate keys (waits on the heap only; see below).
// Deadlines are absolute on CLOCK_MONOTONIC (no_deadline: none). `restartable`: a handler
// installed with SA_RESTART does not end the wait (the kernel restarts a FUTEX_WAIT without a
// timeout).
long registry_wait(std::uint32_t* uaddr, std::uint32_t val, std::uint32_t bitset,
                   std::uint64_t deadline, bool restartable, bool shared = false);
long registry_wake(std::uint32_t* uaddr, int n, std::uint32_t bitset, bool shared = false);
// FUTEX_REQUEUE (check false) and FUTEX_CMP_REQUEUE (check true, comparing *uaddr to val3).
long registry_requeue(std::uint32_t* uaddr, std::uint32_t* uaddr2, int nr_wake, int nr_requeue,
                      bool check, std::uint32_t val3, bool shared = false);

// In the child of fork(): only the forking thread lives on, so the registry's waiters and the
// helper threads are the parent's. Forgets them all.
void abandon_after_fork();

// Fibers parked in the registry on `uaddr` now (tests).
std::size_t registered(const std::uint32_t* uaddr, bool shared = false);
// Helper threads that exist, busy or idle (tests).
int helpers();

}  // namespace green::futex
