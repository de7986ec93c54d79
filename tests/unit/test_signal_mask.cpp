// Per-fiber signal masks: the census of what every member blocks, the kernel mask that follows
// it, and signals kept for a fiber until it unblocks them.
#include "hub.hpp"
#include "signal_mask.hpp"

#include <catch2/catch.hpp>
#include <sys/syscall.h>
#include <unistd.h>

using green::hub;
using green::mask_census;
using green::sig_bit;
using green::sigbits;

namespace {

sigbits kernel_mask()
{
    sigbits now = 0;
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &now, sizeof now);
    return now;
}

const sigbits usr1 = sig_bit(SIGUSR1), usr2 = sig_bit(SIGUSR2);

}  // namespace

TEST_CASE("the census holds what every member blocks", "[signal_mask]")
{
    mask_census c;
    CHECK(c.blocked_by_all() == 0);
    c.join(usr1 | usr2);
    CHECK(c.blocked_by_all() == (usr1 | usr2));
    c.join(usr1);
    CHECK(c.blocked_by_all() == usr1);
    c.join(0);
    CHECK(c.blocked_by_all() == 0);
    c.change(0, usr1 | usr2);
    CHECK(c.blocked_by_all() == usr1);
    c.leave(usr1);  // the second member
    CHECK(c.blocked_by_all() == (usr1 | usr2));
    c.change(usr1 | usr2, usr2);
    CHECK(c.blocked_by_all() == usr2);
    c.leave(usr2);
    c.leave(usr1 | usr2);
    CHECK(c.blocked_by_all() == 0);  // no members: nothing is blocked by all
}

TEST_CASE("the kernel mask is the census; a new fiber takes its creator's mask", "[signal_mask]")
{
    hub* h = hub::for_this_thread();
    REQUIRE(h);
    green::fiber* root = h->root();
    REQUIRE(root->member);
    sigbits root_before = root->sigmask;
    h->set_signal_mask(root, root_before | usr1);
    CHECK((kernel_mask() & usr1) != 0);  // the root is the only member

    struct seen_t {
        sigbits own_at_start, kernel_after_open, kernel_after_block;
    } seen{};
    green::fiber* f = h->spawn(
        [](void* p) {
            auto* s = static_cast<seen_t*>(p);
            hub* me = hub::current();
            green::fiber* self = me->running();
            s->own_at_start = self->sigmask;
            me->set_signal_mask(self, self->sigmask & ~usr1);
            s->kernel_after_open = kernel_mask();
            me->set_signal_mask(self, self->sigmask | usr1 | usr2);
            s->kernel_after_block = kernel_mask();
        },
        &seen);
    h->join(f);
    CHECK((seen.own_at_start & usr1) != 0);
    CHECK((seen.kernel_after_open & usr1) == 0);   // the fiber leaves it open
    CHECK((seen.kernel_after_block & usr1) != 0);  // both block it again
    CHECK((seen.kernel_after_block & usr2) == 0);  // only the fiber blocks SIGUSR2
    CHECK((kernel_mask() & usr1) != 0);            // the fiber left the census
    h->set_signal_mask(root, root_before);
    CHECK((kernel_mask() & usr1) == (root_before & usr1));
}

TEST_CASE("a signal handed to a fiber that blocks it waits until it is taken", "[signal_mask]")
{
    hub* h = hub::for_this_thread();
    green::fiber* root = h->root();
    sigbits before = root->sigmask;
    h->set_signal_mask(root, before | usr1);
    sigval value{};
    value.sival_int = 7;
    REQUIRE(green::keep_queued_value(root, SIGUSR1, value));
    h->hand_signal_to(root, SIGUSR1);
    CHECK((root->sig_pending.load() & usr1) != 0);

    siginfo_t info{};
    CHECK_FALSE(h->take_pending_signal(root, usr2, info));  // not among those asked for
    REQUIRE(h->take_pending_signal(root, usr1, info));
    CHECK(info.si_signo == SIGUSR1);
    CHECK(info.si_code == SI_QUEUE);
    CHECK(info.si_value.sival_int == 7);
    CHECK(info.si_pid == getpid());
    CHECK((root->sig_pending.load() & usr1) == 0);
    CHECK_FALSE(h->take_pending_signal(root, usr1, info));  // taken once
    h->set_signal_mask(root, before);
}
