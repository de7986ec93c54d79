// C++20 waits that libstdc++ makes on raw futexes (syscall(SYS_futex)): std::latch,
// std::barrier, std::counting_semaphore, std::atomic::wait/notify, std::future/promise,
// std::async, std::jthread with stop_token and condition_variable_any, std::shared_mutex.
//
// In every part several threads block, and what releases them happens only after a ticker
// thread has slept ten times: under libgreen (one hub thread) a wait that blocked the hub would
// stop the ticker and the test would never end. Threads record what they saw; main prints it
// after joining, so the transcript does not depend on the order threads ran in. Nothing here
// throws across a blocking call or keeps thread_local state.
#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <future>
#include <latch>
#include <mutex>
#include <semaphore>
#include <shared_mutex>
#include <stop_token>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr int waiters = 4;
std::atomic<int> ticks{0};

void tick_then(const std::function<void()>& release)
{
    ticks = 0;
    std::thread ticker([] {
        for (int i = 0; i < 10; i++) {
            std::this_thread::sleep_for(5ms);
            ticks++;
        }
    });
    ticker.join();
    release();
}

void say(const char* part, bool ok) { std::printf("%s: %s\n", part, ok ? "yes" : "no"); }

void latch_part()
{
    std::latch gate(waiters + 1);
    std::atomic<int> after{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < waiters; i++)
        ts.emplace_back([&] {
            gate.arrive_and_wait();
            after += ticks == 10;
        });
    tick_then([&] { gate.count_down(); });
    for (auto& t : ts)
        t.join();
    say("latch: 4 threads released after the ticker ran", after == waiters);
}

void barrier_part()
{
    int completions = 0;
    std::barrier sync(waiters, [&]() noexcept { completions++; });
    std::atomic<int> phases{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < waiters; i++)
        ts.emplace_back([&, i] {
            for (int phase = 0; phase < 3; phase++) {
                if (i == 0)
                    std::this_thread::sleep_for(10ms);  // the others block until it arrives
                sync.arrive_and_wait();
                phases++;
            }
        });
    for (auto& t : ts)
        t.join();
    std::printf("barrier: %d completions, %d phases passed\n", completions, phases.load());
}

void semaphore_part()
{
    std::counting_semaphore<waiters> sem(0);
    std::atomic<int> after{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < waiters; i++)
        ts.emplace_back([&] {
            sem.acquire();
            after += ticks == 10;
        });
    tick_then([&] { sem.release(waiters); });
    for (auto& t : ts)
        t.join();
    say("counting_semaphore: 4 acquirers released after the ticker ran", after == waiters);
    auto t0 = std::chrono::steady_clock::now();
    bool got = sem.try_acquire_for(30ms);
    say("counting_semaphore: try_acquire_for(30ms) on an empty semaphore fails",
        !got && std::chrono::steady_clock::now() - t0 >= 29ms);
}

void atomic_part()
{
    std::atomic<int> value{0};
    std::atomic<int> after{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < waiters; i++)
        ts.emplace_back([&] {
            value.wait(0);
            after += ticks == 10;
        });
    tick_then([&] {
        value = 1;
        value.notify_all();
    });
    for (auto& t : ts)
        t.join();
    say("atomic::wait: 4 waiters released by notify_all after the ticker ran", after == waiters);

    // notify_one, one waiter at a time: each hands the value on to the next.
    std::atomic<int> turn{0};
    std::vector<int> order;
    std::mutex order_lock;
    ts.clear();
    for (int i = 1; i <= waiters; i++)
        ts.emplace_back([&, i] {
            for (int seen = turn.load(); seen != i; seen = turn.load())
                turn.wait(seen);
            {
                std::lock_guard g(order_lock);
                order.push_back(i);
            }
            turn = i + 1;
            turn.notify_all();
        });
    tick_then([&] {
        turn = 1;
        turn.notify_one();
        turn.notify_all();
    });
    for (auto& t : ts)
        t.join();
    bool in_order = order.size() == waiters;
    for (int i = 0; in_order && i < waiters; i++)
        in_order = order[i] == i + 1;
    say("atomic::wait: 4 threads passed a turn along in order", in_order);
}

void future_part()
{
    std::promise<int> p;
    std::shared_future<int> f = p.get_future().share();
    std::atomic<int> sum{0}, after{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < waiters; i++)
        ts.emplace_back([&, f] {
            sum += f.get();
            after += ticks == 10;
        });
    tick_then([&] { p.set_value(10); });
    for (auto& t : ts)
        t.join();
    std::printf("future: 4 getters saw %d in all, after the ticker ran: %s\n", sum.load(),
                after == waiters ? "yes" : "no");

    std::promise<void> never;
    std::future<void> pending = never.get_future();
    auto t0 = std::chrono::steady_clock::now();
    bool timed_out = pending.wait_for(30ms) == std::future_status::timeout;
    say("future: wait_for(30ms) on an unset promise times out",
        timed_out && std::chrono::steady_clock::now() - t0 >= 29ms);
    auto until = std::chrono::system_clock::now() + 20ms;
    say("future: wait_until(system_clock + 20ms) times out",
        pending.wait_until(until) == std::future_status::timeout &&
            std::chrono::system_clock::now() >= until);
    never.set_value();
    pending.get();

    std::vector<std::future<int>> results;
    for (int i = 1; i <= waiters; i++)
        results.push_back(std::async(std::launch::async, [i] {
            std::this_thread::sleep_for(10ms);
            return i * i;
        }));
    int squares = 0;
    for (auto& r : results)
        squares += r.get();
    std::printf("async: 4 tasks returned %d\n", squares);
}

void jthread_part()
{
    std::mutex m;
    std::condition_variable_any cv;
    int items = 0;
    std::atomic<int> stopped{0}, callbacks{0}, consumed{0};
    // request_stop runs condition_variable_any's own callback (registered last, run first)
    // before ours; a thread that woke and returned in between would deregister ours unrun.
    // Each thread stays until every stop was requested, so all four callbacks run both ways.
    std::atomic<bool> all_requested{false};
    {
        std::vector<std::jthread> ts;
        for (int i = 0; i < waiters; i++)
            ts.emplace_back([&](std::stop_token st) {
                std::stop_callback cb(st, [&] { callbacks++; });
                std::unique_lock lock(m);
                for (;;) {
                    if (!cv.wait(lock, st, [&] { return items > 0; })) {
                        stopped += ticks == 10;
                        lock.unlock();
                        all_requested.wait(false);
                        return;
                    }
                    items--;
                    consumed++;
                }
            });
        std::this_thread::sleep_for(5ms);
        {
            std::lock_guard g(m);
            items = 2;
        }
        cv.notify_all();
        while (consumed != 2)
            std::this_thread::sleep_for(1ms);
        tick_then([&] {
            for (auto& t : ts)
                t.request_stop();
            all_requested = true;
            all_requested.notify_all();
        });
    }  // the jthreads join here
    std::printf("jthread: %d items consumed, %d stopped after the ticker ran, %d callbacks\n",
                consumed.load(), stopped.load(), callbacks.load());
}

void shared_mutex_part()
{
    std::shared_mutex rw;
    std::atomic<int> readers_after{0}, writer_after{0};
    std::vector<std::thread> ts;
    std::unique_lock writer(rw);
    for (int i = 0; i < waiters; i++)
        ts.emplace_back([&, i] {
            if (i == 0) {
                std::unique_lock w(rw);
                writer_after += ticks == 10;
            } else {
                std::shared_lock r(rw);
                readers_after += ticks == 10;
            }
        });
    tick_then([&] { writer.unlock(); });
    for (auto& t : ts)
        t.join();
    std::printf("shared_mutex: %d readers and %d writer got in after the ticker ran\n",
                readers_after.load(), writer_after.load());
}

}  // namespace

int main()
{
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    latch_part();
    barrier_part();
    semaphore_part();
    atomic_part();
    future_part();
    jthread_part();
    shared_mutex_part();
    return 0;
}
