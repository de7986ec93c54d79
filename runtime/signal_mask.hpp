// Signal masks of green threads.
//
// The kernel keeps one signal mask per OS thread, and every green thread of a hub runs on the
// hub's OS thread: a mask the kernel held for one would hold for all of them. So each fiber has
// a mask of its own (fiber::sigmask, the program's view), and the kernel's mask for the hub's
// thread is the set of signals that *every* member (the root and the green threads of the hub)
// blocks. That is the one mask under which the kernel's choice stays right: it delivers a
// signal to this thread only if some green thread of it may take the signal, and the mask does
// not change at a switch (a switch costs nothing more).
//
// A signal that arrives while the running green thread blocks it is not handed to the program
// there. A process-directed one is held by the hub (hold_signal) and handed, by the hub
// context, to a green thread of the hub that does not block it, whose parked call it then
// interrupts, or, if none does, to the first green thread that unblocks it. A thread-directed
// one (pthread_kill of a green thread, raise) waits in its target's sig_pending until the
// target unblocks it, as it would wait in the kernel for a native thread.
//
// Signals are numbered 1..64 on this target; a mask is a 64-bit word, bit sig-1 for signal sig,
// the kernel's own sigset layout.
#pragma once

#include <csignal>
#include <cstdint>
#include <cstring>

namespace green {

using sigbits = std::uint64_t;

constexpr int max_signal = 64;

inline sigbits sig_bit(int sig) { return sigbits(1) << (sig - 1); }

inline sigbits to_sigbits(const sigset_t& set)
{
    sigbits b;
    std::memcpy(&b, &set, sizeof b);
    return b;
}

// Writes only the kernel's 8 bytes of `set`, as rt_sigprocmask does; the rest stays as it was.
inline void store_sigbits(sigbits b, sigset_t& set) { std::memcpy(&set, &b, sizeof b); }

// Signals a mask can never hold: SIGKILL and SIGSTOP (the kernel drops them) and glibc's own
// cancellation and set*id signals (32, 33), which its pthread_sigmask leaves unblocked.
constexpr sigbits never_blocked =
    (sigbits(1) << (SIGKILL - 1)) | (sigbits(1) << (SIGSTOP - 1)) | (sigbits(1) << 31) |
    (sigbits(1) << 32);

// The signals every member of a hub blocks, kept as counts per signal so that a mask change, a
// new green thread or an ended one is a few operations on the signals its mask names (none for
// a thread that blocks nothing, the common case).
class mask_census {
public:
    void join(sigbits mask);
    void leave(sigbits mask);
    void change(sigbits from, sigbits to);
    sigbits blocked_by_all() const { return all_; }

private:
    void recount();

    std::uint32_t blocking_[max_signal] = {};
    std::uint32_t members_ = 0;
    sigbits any_ = 0;  // blocked by at least one member
    sigbits all_ = 0;  // blocked by every member (none while there are no members)
};

struct fiber;

// The siginfo of a signal this process sends a thread: pthread_kill's (SI_TKILL), or, with a
// value, pthread_sigqueue's (SI_QUEUE).
siginfo_t sent_by_this_process(int sig, const sigval* value);

// pthread_sigqueue's value for a signal pending for `f` (fiber::sig_pending): kept until the
// fiber takes the signal (take_queued_value makes its siginfo an SI_QUEUE one), or ends. False
// if there is no memory for it.
bool keep_queued_value(fiber* f, int sig, sigval value);
void take_queued_value(fiber* f, int sig, siginfo_t& info);
void forget_queued_values(fiber* f);
void forget_queued_values_after_fork();  // in a forked child, before anything else uses them

// Changes the calling OS thread's kernel mask from `from` to `to` with the raw system call
// (glibc's would keep its internal signals unblocked, and none of those is ever in a census).
void apply_kernel_mask_change(sigbits from, sigbits to);

}  // namespace green
