#include "offload.hpp"

#include "hub.hpp"
#include "internal.hpp"

#include <condition_variable>
#include <csignal>
#include <deque>
#include <mutex>
#include <pthread.h>
#include <thread>

namespace green::offload {
namespace {

struct job {
    void (*fn)(void*);
    void* arg;
    fiber* waiter;
    std::atomic<bool> done{false};
};

// std::mutex and std::condition_variable call the pthread functions libgreen may interpose;
// the fiber side holds them only inside internal_scope and the workers are native_only, so
// those calls always reach libc.
struct pool {
    std::mutex lock;
    std::condition_variable work;
    std::deque<job*> queue;
    int workers = 0;
    int idle = 0;
};

pool& the_pool()
{
    static pool* p = new pool();  // never destroyed: workers may outlive static destructors
    return *p;
}

void worker_main()
{
    tls.native_only = true;
    pool& p = the_pool();
    std::unique_lock<std::mutex> g(p.lock);
    for (;;) {
        ++p.idle;
        p.work.wait(g, [&] { return !p.queue.empty(); });
        --p.idle;
        job* j = p.queue.front();
        p.queue.pop_front();
        g.unlock();
        j->fn(j->arg);
        fiber* waiter = j->waiter;
        j->done.store(true, std::memory_order_seq_cst);
        hub::try_wake(waiter, wake_reason::ready);  // `j` may be gone once this succeeds
        g.lock();
    }
}

// Starts a worker with every asynchronous signal blocked (the faults stay deliverable): a signal
// sent to the process must reach one of the program's threads, as natively, where its handler
// interrupts the green call it was meant for. A worker that took it would run the program's
// handler on a thread the program never made, and no parked call would end (a SIGALRM meant
// to end a sleep or pause of the main thread, while a worker sits in a sendfile). The mask is
// set in the creator around the creation, so the new thread never runs without it.
void start_worker()
{
    sigset_t all, old;
    sigfillset(&all);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS})
        sigdelset(&all, sig);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    try {
        std::thread(worker_main).detach();
    } catch (...) {
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        throw;
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

}  // namespace

void run(void (*fn)(void*), void* arg)
{
    hub* h = may_park() ? hub::for_this_thread() : nullptr;
    if (!h) {
        fn(arg);
        return;
    }
    job j{fn, arg, tls.running};
    j.waiter->wake.store(int(wake_reason::waiting), std::memory_order_seq_cst);
    {
        internal_scope scope;
        pool& p = the_pool();
        std::lock_guard<std::mutex> g(p.lock);
        p.queue.push_back(&j);
        if (p.idle == 0 && p.workers < max_workers) {
            try {
                start_worker();
                ++p.workers;
            } catch (...) {
                // No new worker: the job waits for a busy one.
            }
        }
        p.work.notify_one();
    }
    for (;;) {
        h->park(no_deadline, interrupt_mode::never);
        if (j.done.load(std::memory_order_seq_cst))
            break;
        // Woken for another reason: wait again. If the worker finished meanwhile, exactly one
        // of us claims the wake-up: we do (and leave), or it did (and we park to consume it).
        j.waiter->wake.store(int(wake_reason::waiting), std::memory_order_seq_cst);
        int expected = int(wake_reason::waiting);
        if (j.done.load(std::memory_order_seq_cst) &&
            j.waiter->wake.compare_exchange_strong(expected, int(wake_reason::ready)))
            break;
    }
}

int workers()
{
    internal_scope scope;
    pool& p = the_pool();
    std::lock_guard<std::mutex> g(p.lock);
    return p.workers;
}

}  // namespace green::offload
