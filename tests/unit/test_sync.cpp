// Green synchronisation primitives among fibers of one hub, fibers of several hubs and native
// threads without a hub. Catch2 is not thread-safe, and REQUIRE must not throw across a context
// switch, so fibers and threads record outcomes in plain variables that the test checks after.
#include "hub.hpp"
#include "sync.hpp"

#include <catch2/catch.hpp>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <pthread.h>
#include <semaphore.h>
#include <thread>
#include <vector>

using green::hub;

namespace {

constexpr std::uint64_t ms(std::uint64_t n) { return n * 1000000u; }

// Fibers on the calling thread's hub running closures; join_all parks the calling flow.
class fiber_group {
public:
    fiber_group() : hub_(hub::for_this_thread()) {}
    ~fiber_group() { join_all(); }

    void spawn(std::function<void()> body)
    {
        bodies_.push_back(std::make_unique<std::function<void()>>(std::move(body)));
        fibers_.push_back(hub_->spawn(
            [](void* p) { (*static_cast<std::function<void()>*>(p))(); }, bodies_.back().get()));
    }
    void join_all()
    {
        for (green::fiber* f : fibers_)
            hub_->join(f);
        fibers_.clear();
    }

private:
    hub* hub_;
    std::vector<std::unique_ptr<std::function<void()>>> bodies_;
    std::vector<green::fiber*> fibers_;
};

void yield() { hub::current()->yield(); }

// Sleeps the calling flow without holding its hub: parks a fiber, sleeps a native thread.
void pause_for(std::uint64_t ns)
{
    if (green::tls.running && !green::tls.running->is_hub)
        hub::current()->sleep_until(green::now_ns() + ns, green::interrupt_mode::never);
    else
        std::this_thread::sleep_for(std::chrono::nanoseconds(ns));
}

// A bounded queue guarded by a green mutex and two condvars: the classic producer/consumer.
struct bounded_queue {
    green::mutex m;
    green::condvar not_full, not_empty;
    std::deque<long> items;
    std::size_t capacity;

    explicit bounded_queue(std::size_t cap) : capacity(cap) {}
    void put(long v)
    {
        m.lock();
        while (items.size() == capacity)
            not_full.wait(m);
        items.push_back(v);
        not_empty.signal();
        m.unlock();
    }
    long take()
    {
        m.lock();
        while (items.empty())
            not_empty.wait(m);
        long v = items.front();
        items.pop_front();
        not_full.signal();
        m.unlock();
        return v;
    }
};

}  // namespace

TEST_CASE("sync objects fit in the pthread objects they stand for", "[sync]")
{
    CHECK(sizeof(green::mutex) <= sizeof(pthread_mutex_t));
    CHECK(sizeof(green::condvar) <= sizeof(pthread_cond_t));
    CHECK(sizeof(green::rwlock) <= sizeof(pthread_rwlock_t));
    CHECK(sizeof(green::semaphore) <= sizeof(sem_t));
    CHECK(sizeof(green::barrier) <= sizeof(pthread_barrier_t));
}

namespace {

std::uint32_t word_at(const void* object, std::size_t offset)
{
    std::uint32_t w;
    std::memcpy(&w, static_cast<const char*>(object) + offset, sizeof w);
    return w;
}

}  // namespace

TEST_CASE("green objects keep clear the words where glibc marks process-shared ones", "[sync]")
{
    // The hooks tell glibc's objects (made by another process, say) from green ones by these
    // words: glibc's mutex __kind, condvar __wrefs bit 0, rwlock __shared, and the futex flag
    // of semaphores and barriers. They must hold while fibers wait, too.
    hub* h = hub::for_this_thread();
    REQUIRE(h);
    alignas(pthread_rwlock_t) unsigned char lock_bytes[sizeof(pthread_rwlock_t)] = {};
    alignas(sem_t) unsigned char sem_bytes[sizeof(sem_t)] = {};
    alignas(pthread_barrier_t) unsigned char barrier_bytes[sizeof(pthread_barrier_t)] = {};
    alignas(pthread_mutex_t) unsigned char mutex_bytes[sizeof(pthread_mutex_t)] = {};
    auto* l = new (lock_bytes) green::rwlock(green::rwlock::preference::writer);
    auto* sem = new (sem_bytes) green::semaphore(0);
    auto* b = new (barrier_bytes) green::barrier(3);
    auto* m = new (mutex_bytes) green::mutex(green::mutex::kind::error_check);
    struct objects {
        green::rwlock* l;
        green::semaphore* sem;
        green::barrier* b;
    } o{l, sem, b};
    REQUIRE(l->wrlock() == 0);
    std::vector<green::fiber*> fibers;
    for (int i = 0; i < 2; ++i) {
        fibers.push_back(h->spawn([](void* p) {
            auto* o = static_cast<objects*>(p);
            o->l->rdlock();
            o->l->unlock();
        }, &o));
        fibers.push_back(h->spawn([](void* p) {
            auto* o = static_cast<objects*>(p);
            o->l->wrlock();
            o->l->unlock();
        }, &o));
        fibers.push_back(h->spawn([](void* p) { static_cast<objects*>(p)->sem->wait(); }, &o));
        fibers.push_back(h->spawn([](void* p) { static_cast<objects*>(p)->b->wait(); }, &o));
    }
    h->yield();  // every fiber queued now
    CHECK(word_at(lock_bytes, offsetof(__pthread_rwlock_arch_t, __shared)) == 0);
    CHECK(word_at(lock_bytes, offsetof(__pthread_rwlock_arch_t, __flags)) ==
          PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    CHECK(word_at(sem_bytes, 8) == green::semaphore::signature);
    CHECK(word_at(barrier_bytes, 12) == green::barrier::signature);
    CHECK(word_at(mutex_bytes, offsetof(__pthread_mutex_s, __kind)) == PTHREAD_MUTEX_ERRORCHECK);
    CHECK(l->unlock() == 0);
    sem->post();
    sem->post();
    b->wait();
    for (auto* f : fibers)
        h->join(f);
    m->~mutex();
}

TEST_CASE("100 fibers yielding inside a mutex count exactly", "[sync][mutex]")
{
    green::mutex m;
    long counter = 0;
    int inside = 0, most_inside = 0;
    {
        fiber_group g;
        for (int i = 0; i < 100; ++i)
            g.spawn([&] {
                for (int k = 0; k < 50; ++k) {
                    m.lock();
                    most_inside = std::max(most_inside, ++inside);
                    long seen = counter;
                    yield();  // every other fiber runs now, and must park on the mutex
                    counter = seen + 1;
                    --inside;
                    m.unlock();
                }
            });
    }
    CHECK(counter == 100 * 50);
    CHECK(most_inside == 1);
}

TEST_CASE("mutex hand-over is FIFO: a relocking fiber does not starve the waiters", "[sync][mutex]")
{
    green::mutex m;
    std::vector<int> order;
    fiber_group g;
    m.lock();
    for (int i = 0; i < 5; ++i)
        g.spawn([&, i] {
            m.lock();
            order.push_back(i);
            m.unlock();
        });
    yield();  // all five queue up, in spawn order
    m.unlock();
    m.lock();  // queues behind them: they were handed the mutex one by one
    order.push_back(99);
    m.unlock();
    g.join_all();
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 99});
}

TEST_CASE("recursive mutex: the owner relocks, others get EPERM and EBUSY", "[sync][mutex]")
{
    green::mutex m(green::mutex::kind::recursive);
    CHECK(m.lock(7) == 0);
    CHECK(m.lock(7) == 0);
    CHECK(m.try_lock(7) == 0);
    CHECK(m.try_lock(8) == EBUSY);
    CHECK(m.unlock(8) == EPERM);
    CHECK(m.timed_lock(green::now_ns() + ms(1), 8) == ETIMEDOUT);
    CHECK(m.unlock(7) == 0);
    CHECK(m.unlock(7) == 0);
    CHECK(m.try_lock(8) == EBUSY);  // still held once
    CHECK(m.unlock(7) == 0);
    CHECK(m.unlock(7) == EPERM);  // no longer held
    CHECK(m.try_lock(8) == 0);
    CHECK(m.unlock(8) == 0);

    // The default owner is the calling flow.
    CHECK(m.lock() == 0);
    CHECK(m.lock() == 0);
    int other_unlock = -1;
    std::thread([&] { other_unlock = m.unlock(); }).join();
    CHECK(other_unlock == EPERM);
    CHECK(m.unlock() == 0);
    CHECK(m.unlock() == 0);
}

TEST_CASE("error-checking mutex: EDEADLK, EBUSY and EPERM", "[sync][mutex]")
{
    green::mutex m(green::mutex::kind::error_check);
    CHECK(m.unlock() == EPERM);
    CHECK(m.lock() == 0);
    CHECK(m.lock() == EDEADLK);
    CHECK(m.try_lock() == EBUSY);
    CHECK(m.timed_lock(green::now_ns() + ms(1)) == EDEADLK);

    int fiber_unlock = -1, fiber_trylock = -1;
    {
        fiber_group g;  // a fiber is a different owner from its thread's own flow
        g.spawn([&] {
            fiber_unlock = m.unlock();
            fiber_trylock = m.try_lock();
        });
    }
    CHECK(fiber_unlock == EPERM);
    CHECK(fiber_trylock == EBUSY);
    CHECK(m.unlock() == 0);
    CHECK(m.unlock() == EPERM);

    green::mutex normal;
    CHECK(normal.try_lock() == 0);
    CHECK(normal.try_lock() == EBUSY);
    CHECK(normal.unlock() == 0);
}

TEST_CASE("condvar producer/consumer among fibers over a bounded queue", "[sync][condvar]")
{
    bounded_queue q(3);
    constexpr int producers = 4, consumers = 3, per_producer = 500;
    long consumed_sum = 0;
    int consumed = 0;
    {
        fiber_group g;
        for (int p = 0; p < producers; ++p)
            g.spawn([&, p] {
                for (int i = 1; i <= per_producer; ++i) {
                    q.put(p * 100000L + i);
                    if (i % 7 == 0)
                        yield();
                }
            });
        for (int c = 0; c < consumers; ++c)
            g.spawn([&] {
                for (;;) {
                    long v = q.take();
                    if (v < 0)
                        return;
                    consumed_sum += v;
                    ++consumed;
                }
            });
        // Poison pills once everything is produced: joined producers first.
        fiber_group stopper;
        stopper.spawn([&] {
            while (consumed < producers * per_producer)
                yield();
            for (int c = 0; c < consumers; ++c)
                q.put(-1);
        });
    }
    long expected = 0;
    for (int p = 0; p < producers; ++p)
        for (int i = 1; i <= per_producer; ++i)
            expected += p * 100000L + i;
    CHECK(consumed == producers * per_producer);
    CHECK(consumed_sum == expected);
}

TEST_CASE("condvar wait re-acquires a recursive mutex at its depth", "[sync][condvar]")
{
    green::mutex m(green::mutex::kind::recursive);
    green::condvar cv;
    bool ready = false;
    int wait_result = -1, unlocks_after = 0;
    {
        fiber_group g;
        g.spawn([&] {
            m.lock();
            m.lock();
            while (!ready)
                wait_result = cv.wait(m);
            while (m.unlock() == 0)
                ++unlocks_after;
        });
        g.spawn([&] {
            m.lock();  // possible only because the waiter released both levels
            ready = true;
            cv.signal();
            m.unlock();
        });
    }
    CHECK(wait_result == 0);
    CHECK(unlocks_after == 2);
    green::condvar other;
    CHECK(other.wait(m) == EPERM);  // not held
}

TEST_CASE("timed waits end at their deadline, never before", "[sync][timed]")
{
    green::mutex m;
    green::condvar cv;
    green::rwlock rw(green::rwlock::preference::writer);
    green::semaphore sem;

    auto all_time_out = [&](int* failures) {
        auto expect = [&](int got, std::uint64_t deadline) {
            if (got != ETIMEDOUT || green::now_ns() < deadline)
                ++*failures;
        };
        std::uint64_t d = green::now_ns() + ms(5);
        expect(m.timed_lock(d), d);
        d = green::now_ns() + ms(5);
        expect(rw.timed_wrlock(d), d);
        d = green::now_ns() + ms(5);
        expect(rw.timed_rdlock(d), d);
        d = green::now_ns() + ms(5);
        expect(sem.timed_wait(d), d);
        // A past deadline fails at once; a deadline on the realtime clock is converted.
        expect(m.timed_lock(green::now_ns() - 1), 0);
        timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        rt.tv_nsec += 5000000;
        if (rt.tv_nsec >= 1000000000) {
            rt.tv_nsec -= 1000000000;
            ++rt.tv_sec;
        }
        d = green::monotonic_deadline(CLOCK_REALTIME, rt);
        expect(sem.timed_wait(d), d);
        green::mutex cv_mutex;
        cv_mutex.lock();
        d = green::now_ns() + ms(5);
        expect(cv.wait(cv_mutex, d), d);
        if (cv_mutex.try_lock() != EBUSY)  // re-acquired after the timeout
            ++*failures;
        cv_mutex.unlock();
    };

    m.lock();
    rw.wrlock(1);
    int fiber_failures = 0, native_failures = 0;
    {
        fiber_group g;
        g.spawn([&] { all_time_out(&fiber_failures); });
    }
    std::thread([&] { all_time_out(&native_failures); }).join();
    CHECK(fiber_failures == 0);
    CHECK(native_failures == 0);
    m.unlock();
    rw.unlock();
}

TEST_CASE("rwlock: readers share, a writer is alone, waiting writers hold readers back",
          "[sync][rwlock]")
{
    green::rwlock rw(green::rwlock::preference::writer);
    int readers_in = 0, most_readers = 0, writers_in = 0, violations = 0;
    {
        fiber_group g;
        for (int i = 0; i < 8; ++i)
            g.spawn([&, i] {
                for (int k = 0; k < 30; ++k) {
                    if ((i + k) % 4 == 0) {
                        rw.wrlock();
                        if (++writers_in != 1 || readers_in != 0)
                            ++violations;
                        yield();
                        --writers_in;
                        rw.unlock();
                    } else {
                        rw.rdlock();
                        ++readers_in;
                        most_readers = std::max(most_readers, readers_in);
                        if (writers_in != 0)
                            ++violations;
                        yield();
                        --readers_in;
                        rw.unlock();
                    }
                    yield();
                }
            });
    }
    CHECK(violations == 0);
    CHECK(most_readers > 1);

    // Writer preference: with a reader in and a writer waiting, a new reader waits too.
    CHECK(rw.rdlock() == 0);
    int late_reader = -1;
    {
        fiber_group g;
        g.spawn([&] { rw.wrlock(); rw.unlock(); });
        g.spawn([&] { late_reader = rw.try_rdlock(); });
        g.spawn([&] { rw.unlock(); });  // the main flow's read lock, released by a fiber
    }
    CHECK(late_reader == EBUSY);

    CHECK(rw.wrlock() == 0);
    CHECK(rw.wrlock() == EDEADLK);
    CHECK(rw.rdlock() == EDEADLK);
    CHECK(rw.try_rdlock(12345) == EBUSY);
    CHECK(rw.unlock() == 0);
    CHECK(rw.unlock() == EPERM);

    green::rwlock readers_first(green::rwlock::preference::reader);
    CHECK(readers_first.rdlock() == 0);
    int second_reader = -1;
    {
        fiber_group g;
        g.spawn([&] { readers_first.wrlock(); readers_first.unlock(); });
        g.spawn([&] {
            second_reader = readers_first.try_rdlock();
            readers_first.unlock();
            readers_first.unlock();
        });
    }
    CHECK(second_reader == 0);
}

TEST_CASE("a writer that times out lets the readers it held back in", "[sync][rwlock]")
{
    green::rwlock rw(green::rwlock::preference::writer);
    CHECK(rw.rdlock(1) == 0);
    int writer = -1, reader = -1;
    {
        fiber_group g;
        g.spawn([&] { writer = rw.timed_wrlock(green::now_ns() + ms(20)); });
        g.spawn([&] {
            reader = rw.rdlock();  // queued behind the writer
            rw.unlock();
        });
    }
    CHECK(writer == ETIMEDOUT);
    CHECK(reader == 0);
    CHECK(rw.unlock() == 0);
}

TEST_CASE("semaphore counts, hands units to waiters and reports EAGAIN", "[sync][semaphore]")
{
    green::semaphore sem(2);
    CHECK(sem.try_wait() == 0);
    CHECK(sem.try_wait() == 0);
    CHECK(sem.try_wait() == EAGAIN);
    CHECK(sem.value() == 0);

    int taken = 0;
    {
        fiber_group g;
        for (int i = 0; i < 10; ++i)
            g.spawn([&] {
                for (int k = 0; k < 20; ++k) {
                    sem.wait();
                    ++taken;
                }
            });
        std::thread poster([&] {
            for (int i = 0; i < 200; ++i)
                sem.post();
        });
        g.join_all();
        poster.join();
    }
    CHECK(taken == 200);
    CHECK(sem.value() == 0);
    CHECK(sem.post() == 0);
    CHECK(sem.value() == 1);

    green::semaphore full(green::semaphore::max_value);
    CHECK(full.post() == EOVERFLOW);
}

TEST_CASE("a semaphore wait ends with EINTR after a handler without SA_RESTART",
          "[sync][semaphore]")
{
    hub* h = hub::for_this_thread();
    green::semaphore sem;
    int result = -1;
    bool survived_restart = false;
    {
        fiber_group g;
        g.spawn([&] { result = sem.wait(); });
        g.spawn([&] {
            h->note_signal(SIGUSR1, true);  // what the hub hears when an SA_RESTART handler ran
            pause_for(ms(5));
            survived_restart = result == -1;
            h->note_signal(SIGUSR1, false);
        });
    }
    CHECK(survived_restart);
    CHECK(result == EINTR);
    CHECK(sem.post() == 0);  // the interrupted waiter left the queue: the unit is counted
    CHECK(sem.value() == 1);
}

TEST_CASE("barrier rounds: one serial waiter per round, reusable at once", "[sync][barrier]")
{
    constexpr int fibers = 5, natives = 2, rounds = 200;
    green::barrier b(fibers + natives);
    std::atomic<int> serials{0}, passes{0};
    std::atomic<int> phase_errors{0};
    std::atomic<int> arrived[rounds] = {};
    auto body = [&] {
        for (int r = 0; r < rounds; ++r) {
            arrived[r].fetch_add(1);
            if (b.wait())
                serials.fetch_add(1);
            // Nobody leaves round r before everyone has arrived in it.
            if (arrived[r].load() != fibers + natives)
                phase_errors.fetch_add(1);
            passes.fetch_add(1);
        }
    };
    {
        fiber_group g;
        for (int i = 0; i < fibers; ++i)
            g.spawn(body);
        std::thread t1(body), t2(body);
        g.join_all();
        t1.join();
        t2.join();
    }
    CHECK(serials == rounds);
    CHECK(passes == rounds * (fibers + natives));
    CHECK(phase_errors == 0);
}

TEST_CASE("mixed: native threads and fibers contend on one mutex", "[sync][mixed]")
{
    green::mutex m;
    long counter = 0;
    constexpr int native_iters = 20000, fiber_iters = 2000, fibers = 8;
    {
        fiber_group g;
        for (int i = 0; i < fibers; ++i)
            g.spawn([&] {
                for (int k = 0; k < fiber_iters; ++k) {
                    m.lock();
                    long seen = counter;
                    if (k % 16 == 0)
                        yield();
                    counter = seen + 1;
                    m.unlock();
                }
            });
        auto native = [&] {
            for (int k = 0; k < native_iters; ++k) {
                m.lock();
                ++counter;
                m.unlock();
            }
        };
        std::thread t1(native), t2(native);
        g.join_all();
        t1.join();
        t2.join();
    }
    CHECK(counter == 2L * native_iters + long(fibers) * fiber_iters);
}

TEST_CASE("mixed: native threads and fibers share a mutex and condvars", "[sync][mixed]")
{
    bounded_queue q(2);
    constexpr int per_flow = 3000;
    std::atomic<long> consumed_sum{0};
    std::atomic<int> consumed{0};
    auto producer = [&](long base) {
        for (int i = 1; i <= per_flow; ++i)
            q.put(base + i);
    };
    auto consumer = [&] {
        for (int i = 0; i < per_flow; ++i) {
            consumed_sum.fetch_add(q.take());
            consumed.fetch_add(1);
        }
    };
    {
        // Two producers and two consumers of each kind: every wake-up crosses between the
        // kinds at some point.
        fiber_group g;
        g.spawn([&] { producer(1000000); });
        g.spawn([&] { producer(2000000); });
        g.spawn(consumer);
        g.spawn(consumer);
        std::thread t1([&] { producer(3000000); }), t2(consumer), t3([&] { producer(4000000); }),
            t4(consumer);
        g.join_all();
        t1.join();
        t2.join();
        t3.join();
        t4.join();
    }
    long expected = 0;
    for (long base : {1000000L, 2000000L, 3000000L, 4000000L})
        for (int i = 1; i <= per_flow; ++i)
            expected += base + i;
    CHECK(consumed == 4 * per_flow);
    CHECK(consumed_sum == expected);
}

TEST_CASE("mixed: a broadcast turn-taking ring of fibers and native threads", "[sync][mixed]")
{
    green::mutex m;
    green::condvar cv;
    constexpr int flows = 6, laps = 300;  // even: fibers, odd: native threads
    int turn = 0;
    int out_of_turn = 0;
    auto body = [&](int me) {
        for (int lap = 0; lap < laps; ++lap) {
            m.lock();
            while (turn % flows != me)
                cv.wait(m);
            if (turn % flows != me)
                ++out_of_turn;
            ++turn;
            cv.broadcast();
            m.unlock();
        }
    };
    {
        fiber_group g;
        std::vector<std::thread> natives;
        for (int i = 0; i < flows; ++i) {
            if (i % 2 == 0)
                g.spawn([&, i] { body(i); });
            else
                natives.emplace_back(body, i);
        }
        g.join_all();
        for (auto& t : natives)
            t.join();
    }
    CHECK(turn == flows * laps);
    CHECK(out_of_turn == 0);
}

TEST_CASE("mixed: a fiber parked on a mutex is woken by a native thread's unlock", "[sync][mixed]")
{
    green::mutex m;
    std::atomic<bool> held{false};
    int fiber_lock = -1;
    std::uint64_t released_at = 0, acquired_at = 0;
    std::thread holder([&] {
        m.lock();
        held = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        released_at = green::now_ns();
        m.unlock();
    });
    {
        fiber_group g;
        g.spawn([&] {
            while (!held)
                pause_for(ms(1));
            fiber_lock = m.lock();
            acquired_at = green::now_ns();
            m.unlock();
        });
    }
    holder.join();
    CHECK(fiber_lock == 0);
    CHECK(acquired_at >= released_at);
}

TEST_CASE("mixed: a native thread on a condvar is woken by a fiber's signal", "[sync][mixed]")
{
    green::mutex m;
    green::condvar cv;
    bool ready = false;
    std::atomic<bool> waiting{false};
    int native_wait = -1;
    std::thread waiter([&] {
        m.lock();
        waiting = true;
        while (!ready)
            native_wait = cv.wait(m);
        m.unlock();
    });
    {
        fiber_group g;
        g.spawn([&] {
            while (!waiting)
                pause_for(ms(1));
            pause_for(ms(5));  // very likely blocked in the futex by now
            m.lock();
            ready = true;
            cv.signal();
            m.unlock();
        });
    }
    waiter.join();
    CHECK(native_wait == 0);
}

TEST_CASE("mixed: fibers of two hubs and a native thread on one mutex", "[sync][mixed]")
{
    green::mutex m;
    long counter = 0;
    constexpr int fibers_per_hub = 6, iters = 1500;
    auto hub_thread = [&] {
        fiber_group g;
        for (int i = 0; i < fibers_per_hub; ++i)
            g.spawn([&] {
                for (int k = 0; k < iters; ++k) {
                    m.lock();
                    long seen = counter;
                    if (k % 8 == 0)
                        yield();
                    counter = seen + 1;
                    m.unlock();
                }
            });
    };
    std::thread other_hub(hub_thread);
    std::thread native([&] {
        for (int k = 0; k < iters * 4; ++k) {
            m.lock();
            ++counter;
            m.unlock();
        }
    });
    hub_thread();
    other_hub.join();
    native.join();
    CHECK(counter == 2L * fibers_per_hub * iters + iters * 4L);
}

TEST_CASE("mixed: wake-ups racing with timeouts are passed on, never lost", "[sync][mixed]")
{
    // Waiters time out constantly while posts arrive: every unit posted must end up either
    // taken or still counted, whichever kind of waiter the racing post chose.
    green::semaphore sem;
    std::atomic<int> taken{0};
    std::atomic<bool> stop{false};
    constexpr int posts = 4000;
    auto taker = [&] {
        while (!stop.load()) {
            if (sem.timed_wait(green::now_ns() + 20000) == 0)
                taken.fetch_add(1);
        }
    };
    {
        fiber_group g;
        for (int i = 0; i < 4; ++i)
            g.spawn(taker);
        std::thread t1(taker), t2(taker);
        std::thread poster([&] {
            for (int i = 0; i < posts; ++i) {
                sem.post();
                if (i % 64 == 0)
                    std::this_thread::sleep_for(std::chrono::microseconds(50));
            }
        });
        poster.join();
        // Let the takers drain what is left, then stop them. A lost unit would keep `taken`
        // short for good: give up after a while rather than hang.
        std::uint64_t give_up = green::now_ns() + ms(10000);
        while (taken.load() < posts && green::now_ns() < give_up)
            pause_for(ms(1));
        stop = true;
        g.join_all();
        t1.join();
        t2.join();
    }
    CHECK(taken == posts);
    CHECK(sem.value() == 0);

    // The same with a condvar: every signal reaches a waiter that was still waiting.
    green::mutex m;
    green::condvar cv;
    int tokens = 0, got = 0;
    constexpr int signals = 3000;
    std::atomic<bool> done{false};
    auto waiter = [&] {
        m.lock();
        while (!done.load()) {
            if (tokens > 0) {
                --tokens;
                ++got;
                continue;
            }
            cv.wait(m, green::now_ns() + 30000);
        }
        m.unlock();
    };
    {
        fiber_group g;
        for (int i = 0; i < 3; ++i)
            g.spawn(waiter);
        std::thread t1(waiter), t2(waiter);
        std::thread signaller([&] {
            for (int i = 0; i < signals; ++i) {
                m.lock();
                ++tokens;
                cv.signal();
                m.unlock();
            }
        });
        signaller.join();
        std::uint64_t give_up = green::now_ns() + ms(10000);
        for (;;) {
            m.lock();
            bool drained = tokens == 0;
            m.unlock();
            if (drained || green::now_ns() > give_up)
                break;
            pause_for(ms(1));
        }
        done = true;
        m.lock();
        cv.broadcast();
        m.unlock();
        g.join_all();
        t1.join();
        t2.join();
    }
    CHECK(got == signals);
}
