// The hub: spawning, joining, yielding, timers and cross-thread wake-ups.
#include "hub.hpp"
#include "timer_queue.hpp"

#include <catch2/catch.hpp>
#include <atomic>
#include <csignal>
#include <sys/timerfd.h>
#include <thread>
#include <vector>

using green::hub;

namespace {

std::uint64_t ms(std::uint64_t n) { return n * 1000000u; }

}  // namespace

TEST_CASE("spawned fibers run and are joined", "[hub]")
{
    hub* h = hub::for_this_thread();
    REQUIRE(h);
    int ran = 0;
    std::vector<green::fiber*> fibers;
    for (int i = 0; i < 100; ++i)
        fibers.push_back(h->spawn([](void* arg) { ++*static_cast<int*>(arg); }, &ran));
    for (auto* f : fibers)
        h->join(f);
    CHECK(ran == 100);
    CHECK(h->live_fibers() == 1);
}

TEST_CASE("yield interleaves fibers in order", "[hub]")
{
    hub* h = hub::for_this_thread();
    std::vector<int> order;
    struct arg_t { std::vector<int>* order; int id; };
    arg_t a{&order, 1}, b{&order, 2};
    auto body = [](void* p) {
        auto* arg = static_cast<arg_t*>(p);
        for (int i = 0; i < 3; ++i) {
            arg->order->push_back(arg->id);
            hub::current()->yield();
        }
    };
    auto* fa = h->spawn(body, &a);
    auto* fb = h->spawn(body, &b);
    h->join(fa);
    h->join(fb);
    CHECK(order == std::vector<int>{1, 2, 1, 2, 1, 2});
}

TEST_CASE("errno belongs to each fiber across switches", "[hub]")
{
    hub* h = hub::for_this_thread();
    std::atomic<bool> ok{true};
    auto body = [](void* p) {
        int mine = int(reinterpret_cast<std::uintptr_t>(p));
        errno = mine;
        for (int i = 0; i < 10; ++i) {
            hub::current()->yield();
            if (errno != mine)
                errno = -1;
        }
        REQUIRE(errno == mine);
    };
    auto* a = h->spawn(body, reinterpret_cast<void*>(11));
    auto* b = h->spawn(body, reinterpret_cast<void*>(22));
    errno = 33;
    h->join(a);
    h->join(b);
    CHECK(errno == 33);
}

TEST_CASE("ten thousand sleeping fibers all wake, earliest deadline first", "[hub][timer]")
{
    hub* h = hub::for_this_thread();
    constexpr int n = 10000;
    std::vector<int> woke;
    woke.reserve(n);
    struct arg_t { std::vector<int>* woke; int id; };
    std::vector<arg_t> args(n);
    std::vector<green::fiber*> fibers;
    std::uint64_t start = green::now_ns();
    for (int i = 0; i < n; ++i) {
        // Deadlines in reverse spawn order, 2 µs apart: wake order must follow deadlines.
        args[i] = {&woke, i};
        fibers.push_back(h->spawn(
            [](void* p) {
                auto* a = static_cast<arg_t*>(p);
                std::uint64_t deadline = 0;
                static std::uint64_t base = green::now_ns() + 50000000u;  // 50 ms
                deadline = base + std::uint64_t(10000 - a->id) * 2000u;
                auto r = hub::current()->sleep_until(deadline, green::interrupt_mode::always);
                REQUIRE(r == green::wake_reason::timed_out);
                REQUIRE(green::now_ns() >= deadline);
                a->woke->push_back(a->id);
            },
            &args[i]));
    }
    for (auto* f : fibers)
        h->join(f);
    REQUIRE(woke.size() == n);
    for (int i = 0; i < n; ++i)
        REQUIRE(woke[i] == n - 1 - i);
    CHECK(green::now_ns() - start >= ms(50));
}

TEST_CASE("timers arm the timerfd to the nanosecond, earliest deadline first", "[hub][timer]")
{
    // libuv's own timers count whole milliseconds, which would turn a 100 µs sleep into one of
    // 1 ms or more. The hub's timers arm an absolute timerfd at the exact deadline instead: what
    // is left on the timer can never exceed the delay asked for. (How long sleeps really take
    // is measured against native by tools/bench, not asserted here.)
    green::timer_queue timers;
    REQUIRE(timers.open() >= 0);
    green::fiber late, early;
    auto left_on_timer = [&] {
        itimerspec spec{};
        REQUIRE(timerfd_gettime(timers.fd(), &spec) == 0);
        return green::timespec_to_ns(spec.it_value);
    };
    constexpr std::uint64_t late_delay = 1234567, early_delay = 345678;
    timers.add(&late, green::now_ns() + late_delay);
    std::uint64_t left = left_on_timer();
    CHECK(left > 0);
    CHECK(left <= late_delay);
    timers.add(&early, green::now_ns() + early_delay);  // an earlier deadline re-arms
    left = left_on_timer();
    CHECK(left > 0);
    CHECK(left <= early_delay);
    timers.remove(&early);
    timers.remove(&late);
    CHECK(timers.empty());
}

TEST_CASE("a native thread wakes a parked fiber", "[hub][wakeup]")
{
    hub* h = hub::for_this_thread();
    green::fiber* self = green::tls.running;
    self->wake.store(int(green::wake_reason::waiting));
    std::thread waker([self] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        hub::try_wake(self, green::wake_reason::ready);
    });
    auto r = h->park(green::no_deadline, green::interrupt_mode::never);
    waker.join();
    CHECK(r == green::wake_reason::ready);
}

TEST_CASE("a parked fiber wakes with its deadline", "[hub][timer]")
{
    hub* h = hub::for_this_thread();
    green::tls.running->wake.store(int(green::wake_reason::waiting));
    std::uint64_t deadline = green::now_ns() + ms(5);
    auto r = h->park(deadline, green::interrupt_mode::never);
    CHECK(r == green::wake_reason::timed_out);
    CHECK(green::now_ns() >= deadline);
}

namespace {
void on_alarm(int)
{
    if (hub* h = hub::current(); h && green::tls.running && green::tls.running->is_hub)
        h->note_signal(SIGALRM, false);
}
}  // namespace

TEST_CASE("a signal handler interrupts a parked sleep", "[hub][signal]")
{
    hub* h = hub::for_this_thread();
    struct sigaction sa{};
    sa.sa_handler = &on_alarm;
    sigaction(SIGALRM, &sa, nullptr);
    itimerval it{};
    it.it_value.tv_usec = 20000;
    setitimer(ITIMER_REAL, &it, nullptr);
    auto r = h->sleep_until(green::now_ns() + ms(2000), green::interrupt_mode::always);
    CHECK(r == green::wake_reason::interrupted);
    signal(SIGALRM, SIG_DFL);
}

namespace {
std::atomic<bool> handler_restarts{false};
void on_usr1_in_call(int)
{
    if (hub* h = hub::current(); h && green::tls.running && !green::tls.running->is_hub)
        h->note_handler_in_call(green::tls.running, handler_restarts.load());
}
}  // namespace

TEST_CASE("a handler that ran inside a blocking call ends its park, as it ends the system call",
          "[hub][signal]")
{
    hub* h = hub::for_this_thread();
    REQUIRE(h);
    struct sigaction sa{};
    sa.sa_handler = &on_usr1_in_call;
    REQUIRE(sigaction(SIGUSR1, &sa, nullptr) == 0);
    auto park_after_signal = [&](bool restart, green::interrupt_mode mode, bool in_call) {
        handler_restarts = restart;
        green::tls.running->wake.store(int(green::wake_reason::waiting));
        green::wake_reason r;
        if (in_call) {
            green::blocking_call_scope call;
            raise(SIGUSR1);  // the handler runs here, on the caller's context, before the park
            r = h->park(green::now_ns() + ms(50), mode);
        } else {
            raise(SIGUSR1);  // before the call began: natively it would not end the call
            green::blocking_call_scope call;
            r = h->park(green::now_ns() + ms(50), mode);
        }
        return r;
    };
    using green::interrupt_mode;
    using green::wake_reason;
    CHECK(park_after_signal(false, interrupt_mode::unless_restart, true) == wake_reason::interrupted);
    CHECK(park_after_signal(false, interrupt_mode::always, true) == wake_reason::interrupted);
    // SA_RESTART: the call goes on, unless it is one that always ends (a socket timeout).
    CHECK(park_after_signal(true, interrupt_mode::unless_restart, true) == wake_reason::timed_out);
    CHECK(park_after_signal(true, interrupt_mode::always, true) == wake_reason::interrupted);
    CHECK(park_after_signal(false, interrupt_mode::never, true) == wake_reason::timed_out);
    CHECK(park_after_signal(false, interrupt_mode::unless_restart, false) == wake_reason::timed_out);
    signal(SIGUSR1, SIG_DFL);
}

TEST_CASE("a fiber that never parks yields once its time slice is used up", "[hub][slice]")
{
    // The sleeper's timer can only fire when the hub polls its loop, and only the spinner's
    // slice ending lets it: the spinner counts calls (as the hooks do) until the sleeper ran.
    hub* h = hub::for_this_thread();
    struct shared_t {
        hub* h;
        std::atomic<bool> slept{false};
        long spins = 0;
    } s{h};
    green::fiber* sleeper = h->spawn(
        [](void* p) {
            auto* s = static_cast<shared_t*>(p);
            s->h->sleep_until(green::now_ns() + ms(5), green::interrupt_mode::never);
            s->slept = true;
        },
        &s);
    green::fiber* spinner = h->spawn(
        [](void* p) {
            auto* s = static_cast<shared_t*>(p);
            while (!s->slept.load()) {
                green::count_call();
                ++s->spins;
            }
        },
        &s);
    // Without slices the join never returns (the test's timeout).
    h->join(spinner);
    h->join(sleeper);
    CHECK(s.slept.load());
    CHECK(s.spins > 0);
}
