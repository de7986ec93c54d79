#include "offload.hpp"

#include "hub.hpp"
#include "internal.hpp"

#include <condition_variable>
#include <csignal>
#include <deque>
#include <mutex>
#include <pthread.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

namespace green::offload {
namespace {

// The worker's wake-up must end one of the parks of run(), never a later park of the fiber (a
// wake-up not tied to its park would end an unrelated wait, or touch a fiber that has gone).
// So run() does not return until the worker is done with its wake-up: `woken` says whether
// try_wake succeeded, which happens only while the fiber is inside run() with its wake word
// armed, so that one of run()'s parks consumes it.
enum : int { waking = 0, woke = 1, not_woken = 2 };

struct job {
    void (*fn)(void*);
    void* arg;
    fiber* waiter;
    std::atomic<bool> done{false};    // fn has returned; the worker is about to wake
    std::atomic<int> woken{waking};   // the last the worker touches of the job
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
        j->done.store(true, std::memory_order_seq_cst);
        bool ok = hub::try_wake(j->waiter, wake_reason::ready);
        j->woken.store(ok ? woke : not_woken, std::memory_order_release);  // `j` may go now
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
    // The raw system call: the new thread inherits the OS thread's kernel mask, which a green
    // thread's own mask (signal_mask.hpp) is not.
    sigset_t all, old;
    sigfillset(&all);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS})
        sigdelset(&all, sig);
    auto set_mask = [](int how, const sigset_t* set, sigset_t* previous) {
        syscall(SYS_rt_sigprocmask, how, set, previous, _NSIG / 8);
    };
    set_mask(SIG_BLOCK, &all, &old);
    try {
        std::thread(worker_main).detach();
    } catch (...) {
        set_mask(SIG_SETMASK, &old, nullptr);
        throw;
    }
    set_mask(SIG_SETMASK, &old, nullptr);
}

// Waits for the worker to finish with the job: it is inside try_wake, a few instructions and
// at most one spinlock section, never a park.
int wait_for_waker(job& j)
{
    int w;
    for (unsigned spins = 0; (w = j.woken.load(std::memory_order_acquire)) == waking; ++spins) {
        if (spins < 64)
            __builtin_ia32_pause();
        else
            syscall(SYS_sched_yield);  // the worker was preempted; let it run
    }
    return w;
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
        if (j.done.load(std::memory_order_seq_cst)) {
            // Whatever ended this park, the worker is waking us or has: if its try_wake
            // succeeded, that was while the wake word was armed for a park of this loop, which
            // has consumed it (this one or an earlier one: a park ends with one wake-up only).
            wait_for_waker(j);
            return;
        }
        // Woken for another reason (a cancellation, a stale waker): wait again.
        j.waiter->wake.store(int(wake_reason::waiting), std::memory_order_seq_cst);
        if (j.done.load(std::memory_order_seq_cst)) {
            // The worker finished after the park ended. Its try_wake succeeds only if it
            // comes after the re-arming above; then the wake-up is owed to the next park.
            if (wait_for_waker(j) == woke)
                h->park(no_deadline, interrupt_mode::never);
            return;
        }
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
