// The futex registry (private futexes) and the helper waits (shared ones), without the preload.
// Fibers record outcomes in plain variables that the test checks after joining: REQUIRE must
// not throw across a context switch.
#include "futex.hpp"
#include "hub.hpp"

#include <catch2/catch.hpp>
#include <atomic>
#include <cerrno>
#include <climits>
#include <functional>
#include <csignal>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <thread>

using green::hub;
namespace futex = green::futex;

namespace {

constexpr std::uint64_t ms(std::uint64_t n) { return n * 1000000u; }

struct spawned {
    std::function<void()> body;
    green::fiber* f = nullptr;
};

green::fiber* spawn(hub* h, spawned& s)
{
    s.f = h->spawn([](void* p) { static_cast<spawned*>(p)->body(); }, &s);
    return s.f;
}

// Lets the other fibers of the hub run until `n` wait on `word`.
void until_registered(const std::uint32_t* word, std::size_t n)
{
    while (futex::registered(word) != n)
        hub::current()->yield();
}

long wait_forever(std::uint32_t* word, std::uint32_t val, std::uint32_t bitset = ~0u)
{
    return futex::registry_wait(word, val, bitset, green::no_deadline, true);
}

}  // namespace

TEST_CASE("a private wait whose word differs returns EAGAIN at once", "[futex]")
{
    hub::for_this_thread();
    std::uint32_t word = 1;
    CHECK(futex::registry_wait(&word, 0, ~0u, green::no_deadline, true) == -EAGAIN);
    CHECK(futex::registered(&word) == 0);
    CHECK(futex::registry_wake(&word, 1, ~0u) == 0);
}

TEST_CASE("a waiting fiber parks and another fiber of its hub wakes it", "[futex]")
{
    hub* h = hub::for_this_thread();
    std::uint32_t word = 0;
    long waited = 99, woke = 99;
    bool waker_ran_while_parked = false;
    spawned waiter{[&] { waited = wait_forever(&word, 0); }};
    spawned waker{[&] {
        until_registered(&word, 1);
        waker_ran_while_parked = true;
        __atomic_store_n(&word, 1, __ATOMIC_SEQ_CST);
        woke = futex::registry_wake(&word, 1, ~0u);
    }};
    spawn(h, waiter);
    spawn(h, waker);
    h->join(waiter.f);
    h->join(waker.f);
    CHECK(waker_ran_while_parked);
    CHECK(waited == 0);
    CHECK(woke == 1);
}

TEST_CASE("wake counts: at most n, and one when asked for none", "[futex]")
{
    hub* h = hub::for_this_thread();
    std::uint32_t word = 0;
    long results[3] = {9, 9, 9};
    spawned w[3];
    for (int i = 0; i < 3; i++) {
        w[i].body = [&, i] { results[i] = wait_forever(&word, 0); };
        spawn(h, w[i]);
    }
    until_registered(&word, 3);
    CHECK(futex::registry_wake(&word, 2, ~0u) == 2);
    CHECK(futex::registered(&word) == 1);
    CHECK(futex::registry_wake(&word, 0, ~0u) == 1);
    CHECK(futex::registry_wake(&word, INT_MAX, ~0u) == 0);
    for (auto& s : w)
        h->join(s.f);
    CHECK(results[0] == 0);
    CHECK(results[1] == 0);
    CHECK(results[2] == 0);
}

TEST_CASE("a wake meets only waiters whose bitset it shares", "[futex]")
{
    hub* h = hub::for_this_thread();
    std::uint32_t word = 0;
    long r1 = 9, r2 = 9;
    spawned one{[&] { r1 = wait_forever(&word, 0, 1); }};
    spawned two{[&] { r2 = wait_forever(&word, 0, 2); }};
    spawn(h, one);
    spawn(h, two);
    until_registered(&word, 2);
    CHECK(futex::registry_wake(&word, INT_MAX, 4) == 0);
    CHECK(futex::registry_wake(&word, INT_MAX, 2) == 1);
    h->join(two.f);
    CHECK(r2 == 0);
    CHECK(r1 == 9);
    CHECK(futex::registry_wake(&word, INT_MAX, 1) == 1);
    h->join(one.f);
    CHECK(r1 == 0);
}

TEST_CASE("a private wait times out and leaves the registry", "[futex]")
{
    hub::for_this_thread();
    std::uint32_t word = 0;
    std::uint64_t deadline = green::now_ns() + ms(5);
    CHECK(futex::registry_wait(&word, 0, ~0u, deadline, false) == -ETIMEDOUT);
    CHECK(green::now_ns() >= deadline);
    CHECK(futex::registered(&word) == 0);
}

TEST_CASE("requeue and cmp_requeue move waiters onto another word", "[futex]")
{
    hub* h = hub::for_this_thread();
    std::uint32_t a = 0, b = 0;
    long results[3] = {9, 9, 9};
    spawned w[3];
    for (int i = 0; i < 3; i++) {
        w[i].body = [&, i] { results[i] = wait_forever(&a, 0); };
        spawn(h, w[i]);
    }
    until_registered(&a, 3);
    CHECK(futex::registry_requeue(&a, &b, 1, 1, true, 7) == -EAGAIN);
    CHECK(futex::registry_requeue(&a, &b, -1, 1, false, 0) == -EINVAL);
    CHECK(futex::registry_requeue(&a, &a, 0, INT_MAX, true, 0) == 3);  // counts, moves nobody
    CHECK(futex::registry_requeue(&a, &b, 1, 1, true, 0) == 2);
    CHECK(futex::registered(&a) == 1);
    CHECK(futex::registered(&b) == 1);
    CHECK(futex::registry_requeue(&a, &b, 0, 5, false, 0) == 1);
    CHECK(futex::registered(&a) == 0);
    CHECK(futex::registered(&b) == 2);
    CHECK(futex::registry_wake(&a, INT_MAX, ~0u) == 0);
    CHECK(futex::registry_wake(&b, INT_MAX, ~0u) == 2);
    for (auto& s : w)
        h->join(s.f);
    CHECK((results[0] | results[1] | results[2]) == 0);
}

TEST_CASE("a requeued waiter that times out leaves its new word", "[futex]")
{
    hub* h = hub::for_this_thread();
    std::uint32_t a = 0, b = 0;
    long r = 9;
    spawned w{[&] { r = futex::registry_wait(&a, 0, ~0u, green::now_ns() + ms(20), false); }};
    spawn(h, w);
    until_registered(&a, 1);
    CHECK(futex::registry_requeue(&a, &b, 0, 1, false, 0) == 1);
    h->join(w.f);
    CHECK(r == -ETIMEDOUT);
    CHECK(futex::registered(&a) == 0);
    CHECK(futex::registered(&b) == 0);
}

TEST_CASE("wakes from other hubs and from threads without a hub", "[futex]")
{
    hub* h = hub::for_this_thread();
    std::uint32_t word = 0;
    long waited = 9;
    spawned waiter{[&] { waited = wait_forever(&word, 0); }};
    spawn(h, waiter);
    until_registered(&word, 1);
    long woke = 9;
    std::thread native([&] {  // no hub: a thread glibc or a library made
        __atomic_store_n(&word, 1, __ATOMIC_SEQ_CST);
        woke = futex::registry_wake(&word, 1, ~0u);
    });
    h->join(waiter.f);
    native.join();
    CHECK(waited == 0);
    CHECK(woke == 1);

    // A fiber of another thread's hub waits; this hub's root wakes it.
    word = 0;
    std::atomic<long> remote{9};
    std::thread other([&] {
        hub::for_this_thread();
        remote = wait_forever(&word, 0);
        hub::destroy_for_this_thread();
    });
    while (futex::registered(&word) != 1)
        h->yield();
    __atomic_store_n(&word, 1, __ATOMIC_SEQ_CST);
    CHECK(futex::registry_wake(&word, INT_MAX, ~0u) == 1);
    other.join();
    CHECK(remote == 0);
}

TEST_CASE("a waiter is counted by a wake exactly when it returns 0", "[futex]")
{
    // A waker on another thread races each short deadline: whichever wins, the wake's count
    // and the waiter's result must agree, as the kernel's do.
    hub::for_this_thread();
    std::uint32_t word = 0;
    std::atomic<int> round{0};
    std::atomic<long> woke{-1};
    std::atomic<bool> stop{false};
    std::thread waker([&] {
        int seen = 0;
        while (!stop.load()) {
            int r = round.load();
            if (r == seen)
                continue;
            seen = r;
            for (int spin = 0; spin < (r % 7) * 300; spin++)
                __builtin_ia32_pause();
            woke = futex::registry_wake(&word, 1, ~0u);
        }
    });
    int mismatches = 0, woken = 0, timed_out = 0;
    for (int i = 1; i <= 300; i++) {
        woke = -1;
        round = i;
        long r = futex::registry_wait(&word, 0, ~0u, green::now_ns() + 20000, false);
        while (woke.load() == -1)
            hub::current()->yield();
        if ((r == 0) != (woke.load() == 1))
            ++mismatches;
        (r == 0 ? woken : timed_out)++;
    }
    stop = true;
    waker.join();
    CHECK(mismatches == 0);
    CHECK(futex::registered(&word) == 0);
    INFO("woken " << woken << ", timed out " << timed_out);
    CHECK(woken + timed_out == 300);
}

namespace {
void on_alarm(int)
{
    if (hub* h = hub::current(); h && green::tls.running && green::tls.running->is_hub)
        h->note_signal(SIGALRM, false);
}
}  // namespace

TEST_CASE("a handler ends a private wait with EINTR", "[futex]")
{
    hub::for_this_thread();
    std::uint32_t word = 0;
    struct sigaction sa{};
    sa.sa_handler = &on_alarm;
    sigaction(SIGALRM, &sa, nullptr);
    itimerval it{};
    it.it_value.tv_usec = 20000;
    setitimer(ITIMER_REAL, &it, nullptr);
    CHECK(futex::registry_wait(&word, 0, ~0u, green::now_ns() + ms(2000), false) == -EINTR);
    CHECK(futex::registered(&word) == 0);
    signal(SIGALRM, SIG_DFL);
}

TEST_CASE("a shared wait on a MAP_SHARED word is the kernel's: a raw wake ends it", "[futex]")
{
    hub* h = hub::for_this_thread();
    void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(page != MAP_FAILED);
    std::uint32_t& word = *static_cast<std::uint32_t*>(page);
    long waited = 9, woke = 0;
    std::atomic<bool> other_ran{false};
    spawned waiter{[&] { waited = futex::call(&word, FUTEX_WAIT, 0, nullptr, nullptr, 0); }};
    spawned other{[&] { other_ran = true; }};
    spawn(h, waiter);
    spawn(h, other);
    std::thread native([&] {
        // The kernel counts the helper's wait as a waiter.
        while ((woke = futex::raw(&word, FUTEX_CMP_REQUEUE, 0,
                                  reinterpret_cast<void*>(std::uintptr_t(INT_MAX)), &word, 0)) < 1)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        __atomic_store_n(&word, 1, __ATOMIC_SEQ_CST);
        woke = futex::raw(&word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
    });
    h->join(waiter.f);
    h->join(other.f);
    native.join();
    CHECK(waited == 0);
    CHECK(woke == 1);
    CHECK(other_ran);
    CHECK(futex::helpers() >= 1);
    CHECK(futex::call(&word, FUTEX_WAIT, 0, nullptr, nullptr, 0) == -EAGAIN);
    timespec t{0, 5000000};
    CHECK(futex::call(&word, FUTEX_WAIT, 1, &t, nullptr, 0) == -ETIMEDOUT);
    munmap(page, 4096);
}

TEST_CASE("a shared wait on private memory uses the registry, apart from the private keys",
          "[futex]")
{
    hub* h = hub::for_this_thread();
    // The heap, a private mapping (as malloc's other arenas and stacks are) and a global.
    static std::uint32_t global;
    auto* heap = new std::uint32_t(0);
    void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(page != MAP_FAILED);
    std::uint32_t* words[] = {heap, static_cast<std::uint32_t*>(page), &global};
    for (std::uint32_t* word : words) {
        *word = 0;
        long waited = 9;
        spawned waiter{[&] { waited = futex::call(word, FUTEX_WAIT, 0, nullptr, nullptr, 0); }};
        spawn(h, waiter);
        for (int i = 0; i < 1000 && futex::registered(word, true) != 1; i++)
            h->yield();
        CHECK(futex::registered(word, true) == 1);
        CHECK(futex::registered(word) == 0);
        CHECK(futex::call(word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0) == 0);
        *word = 1;
        CHECK(futex::call(word, FUTEX_WAKE, 1, nullptr, nullptr, 0) == 1);
        h->join(waiter.f);
        CHECK(waited == 0);
    }
    munmap(page, 4096);
    delete heap;
}
