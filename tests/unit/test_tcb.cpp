// TCBs of their own for fibers: each sees its own __thread data, errno and thread pointer,
// across switches, and a TCB taken over by a later fiber starts from the TLS images again.
#include "hub.hpp"
#include "tcb.hpp"

#include <catch2/catch.hpp>
#include <cerrno>
#include <vector>

using green::hub;

namespace {

__thread int counter_tls = 42;

struct probe {
    int id;
    char* tp_first = nullptr;
    char* tp_later = nullptr;
    int counter_seen = 0;
    int counter_after = 0;
    int errno_after = 0;
    int* counter_address = nullptr;
};

void body(void* arg)
{
    auto* p = static_cast<probe*>(arg);
    p->tp_first = green::tcb::current();
    p->counter_seen = counter_tls;  // the image's value, whatever earlier fibers did
    p->counter_address = &counter_tls;
    counter_tls = 1000 + p->id;
    errno = 2000 + p->id;
    for (int i = 0; i < 3; ++i)
        hub::current()->yield();
    p->tp_later = green::tcb::current();
    p->counter_after = counter_tls;
    p->errno_after = errno;
}

}  // namespace

TEST_CASE("fibers with TCBs of their own keep their TLS across switches", "[tcb]")
{
    green::tcb::init(true);
    REQUIRE(green::tcb::enabled());
    hub* h = hub::for_this_thread();
    REQUIRE(h);
    char* main_tp = green::tcb::current();
    counter_tls = 7;
    errno = 0;

    for (int round = 0; round < 2; ++round) {  // the second round reuses the first's TCBs
        std::vector<probe> probes;
        for (int i = 0; i < 8; ++i)
            probes.push_back(probe{i});
        std::vector<green::fiber*> fibers;
        green::spawn_options own;
        own.own_tcb = true;
        for (auto& p : probes)
            fibers.push_back(h->spawn(&body, &p, own));
        for (auto* f : fibers)
            h->join(f);
        for (auto& p : probes) {
            CHECK(p.tp_first != main_tp);
            CHECK(p.tp_first == p.tp_later);
            CHECK(p.counter_seen == 42);
            CHECK(p.counter_after == 1000 + p.id);
            CHECK(p.errno_after == 2000 + p.id);
            CHECK(p.counter_address != &counter_tls);
        }
    }
    CHECK(green::tcb::current() == main_tp);
    CHECK(counter_tls == 7);
    CHECK(errno == 0);
    CHECK(green::tcb::made() == 8);  // the second round took the first round's TCBs
}
