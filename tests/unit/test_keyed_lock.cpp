// keyed_lock: a lock per address, recursive per flow, held across parks, gone when unused.
#include "hub.hpp"
#include "keyed_lock.hpp"

#include <catch2/catch.hpp>
#include <atomic>
#include <string>
#include <thread>

using green::hub;

namespace {

struct two_fibers {
    std::string order;
    int key_a = 0, key_b = 0;
};

void sleep_green(std::uint64_t ns)
{
    hub::current()->sleep_until(green::now_ns() + ns, green::interrupt_mode::never);
}

}  // namespace

TEST_CASE("keyed_lock: a second fiber waits for the key while the holder is parked", "[sync]")
{
    hub* h = hub::for_this_thread();
    two_fibers s;
    auto holder = [](void* p) {
        auto* s = static_cast<two_fibers*>(p);
        green::keyed_lock::lock(&s->key_a);
        green::keyed_lock::lock(&s->key_a);  // recursive for its holder
        s->order += "A1";
        sleep_green(20000000);  // parked, still holding
        s->order += "A2";
        green::keyed_lock::unlock(&s->key_a);
        s->order += "A3";
        green::keyed_lock::unlock(&s->key_a);
    };
    auto waiter = [](void* p) {
        auto* s = static_cast<two_fibers*>(p);
        green::keyed_lock::lock(&s->key_a);
        s->order += "B";
        green::keyed_lock::unlock(&s->key_a);
    };
    auto trier = [](void* p) {
        auto* s = static_cast<two_fibers*>(p);
        bool got = green::keyed_lock::try_lock(&s->key_a);  // the holder is parked with it
        s->order += got ? "T!" : "T";
        if (got)
            green::keyed_lock::unlock(&s->key_a);
    };
    auto other_key = [](void* p) {
        auto* s = static_cast<two_fibers*>(p);
        green::keyed_lock::guard g(&s->key_b);  // another address: never waits for key_a
        s->order += "C";
    };
    green::fiber* a = h->spawn(holder, &s);
    green::fiber* b = h->spawn(waiter, &s);
    green::fiber* t = h->spawn(trier, &s);
    green::fiber* c = h->spawn(other_key, &s);
    h->join(a);
    h->join(b);
    h->join(t);
    h->join(c);
    CHECK(s.order == "A1TCA2A3B");
    CHECK_FALSE(green::keyed_lock::busy(&s.key_a));
    CHECK_FALSE(green::keyed_lock::busy(&s.key_b));
}

TEST_CASE("keyed_lock: a native thread waits while a fiber holds the key", "[sync]")
{
    hub* h = hub::for_this_thread();
    int key = 0;
    std::atomic<int> stage{0};
    struct ctx {
        int* key;
        std::atomic<int>* stage;
    } c{&key, &stage};
    green::fiber* f = h->spawn(
        [](void* p) {
            auto* c = static_cast<ctx*>(p);
            green::keyed_lock::lock(c->key);
            c->stage->store(1);
            sleep_green(30000000);
            c->stage->store(2);
            green::keyed_lock::unlock(c->key);
        },
        &c);
    int seen = -1;
    std::thread t([&] {
        while (stage.load() == 0)
            std::this_thread::yield();
        green::keyed_lock::lock(&key);
        seen = stage.load();
        green::keyed_lock::unlock(&key);
    });
    h->join(f);
    t.join();
    CHECK(seen == 2);
    CHECK_FALSE(green::keyed_lock::busy(&key));
}

TEST_CASE("keyed_lock: owned says whether the calling flow holds the key", "[sync]")
{
    int key = 0;
    CHECK(!green::keyed_lock::owned(&key));
    green::keyed_lock::lock(&key);
    green::keyed_lock::lock(&key);
    CHECK(green::keyed_lock::owned(&key));
    std::atomic<bool> other_sees{true};
    std::thread([&] { other_sees = green::keyed_lock::owned(&key); }).join();
    CHECK(!other_sees);
    green::keyed_lock::unlock(&key);
    CHECK(green::keyed_lock::owned(&key));
    green::keyed_lock::unlock(&key);
    CHECK(!green::keyed_lock::owned(&key));
}
