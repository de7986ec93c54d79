// Runtime micro-benchmarks: each measure is taken green (the runtime, linked directly, no
// preload) and native (what a thread-per-task program does instead) in the same run.
//
// Output, on stdout, for tools/bench/run to assemble:
//   lines starting with "|"  : rows of the Markdown table (measure | native | green | ratio)
//   lines starting with "- " : notes printed under the table
// Progress goes to stderr. Nothing here passes or fails: it reports figures.
//
// Times are medians over several repetitions of a loop (each repetition gives a mean per
// operation); sleep figures are median and p90 over individual samples.

#include "context.hpp"
#include "fd_table.hpp"
#include "fiber.hpp"
#include "hub.hpp"
#include "internal.hpp"
#include "stack.hpp"
#include "tcb.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <pthread.h>
#include <sched.h>
#include <string>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <ucontext.h>
#include <unistd.h>
#include <vector>

namespace {

using green::now_ns;

constexpr int reps = 7;

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double percentile(std::vector<double> v, double p)
{
    std::sort(v.begin(), v.end());
    // Nearest rank.
    std::size_t rank = std::size_t(std::ceil(p / 100.0 * double(v.size())));
    return v[std::min(v.size() - 1, rank ? rank - 1 : 0)];
}

std::string fmt_time(double ns)
{
    char buf[64];
    if (ns < 1000)
        std::snprintf(buf, sizeof buf, "%.1f ns", ns);
    else if (ns < 1e6)
        std::snprintf(buf, sizeof buf, "%.2f µs", ns / 1e3);
    else
        std::snprintf(buf, sizeof buf, "%.2f ms", ns / 1e6);
    return buf;
}

std::string fmt_kib(double kib)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f KiB", kib);
    return buf;
}

std::string fmt_ratio(double green, double native)
{
    char buf[64];
    if (native <= 0)
        return "n/a";
    double r = green / native;
    if (r < 0.01)
        std::snprintf(buf, sizeof buf, "%.4f", r);
    else if (r < 0.1)
        std::snprintf(buf, sizeof buf, "%.3f", r);
    else
        std::snprintf(buf, sizeof buf, "%.2f", r);
    return buf;
}

void row(const std::string& measure, const std::string& native, const std::string& green,
         const std::string& ratio)
{
    std::printf("| %s | %s | %s | %s |\n", measure.c_str(), native.c_str(), green.c_str(),
                ratio.c_str());
    std::fflush(stdout);
}

void time_row(const std::string& measure, double native_ns, double green_ns)
{
    row(measure, fmt_time(native_ns), fmt_time(green_ns), fmt_ratio(green_ns, native_ns));
}

std::vector<std::string> notes;

template <class... A>
void note(const char* format, A... args)
{
    char buf[1024];
    std::snprintf(buf, sizeof buf, format, args...);
    notes.emplace_back(buf);
}

void progress(const char* what)
{
    std::fprintf(stderr, "bench_runtime: %s\n", what);
}

// Runs each body (returning ns per operation) `reps` times, interleaved so that the native and
// green figures see the same background load; the median of each.
std::vector<double> interleaved(const std::vector<std::function<double()>>& bodies)
{
    std::vector<std::vector<double>> v(bodies.size());
    for (int r = 0; r < reps; ++r)
        for (std::size_t i = 0; i < bodies.size(); ++i)
            v[i].push_back(bodies[i]());
    std::vector<double> out;
    for (auto& x : v)
        out.push_back(median(x));
    return out;
}

void pin_to_cpu0(pthread_t t)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    pthread_setaffinity_np(t, sizeof set, &set);
}

cpu_set_t saved_affinity;
void save_affinity() { sched_getaffinity(0, sizeof saved_affinity, &saved_affinity); }
void restore_affinity() { sched_setaffinity(0, sizeof saved_affinity, &saved_affinity); }

// ---------------------------------------------------------------- 1. context switch

struct raw_switch {
    green::context main_ctx;
    green::context co_ctx;
    char* main_tp = nullptr;  // with TCBs: each side's thread pointer
    char* co_tp = nullptr;
};

void raw_co_entry(void* arg, void*)
{
    auto* s = static_cast<raw_switch*>(arg);
    for (;;)
        green::switch_context(s->co_ctx, s->main_ctx, nullptr, s->main_tp);
}

ucontext_t uc_main, uc_co;

void uc_co_entry()
{
    for (;;)
        swapcontext(&uc_co, &uc_main);
}

void bench_context_switch()
{
    progress("context switch");
    constexpr std::size_t stack_bytes = 64 * 1024;
    void* stk = mmap(nullptr, stack_bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

    raw_switch s;
    s.co_ctx = green::make_context(static_cast<char*>(stk) + stack_bytes, &raw_co_entry, &s);
    constexpr long green_round_trips = 1000000;
    for (int i = 0; i < 1000; ++i)
        green::switch_context(s.main_ctx, s.co_ctx);

    void* ustk = mmap(nullptr, stack_bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    getcontext(&uc_co);
    uc_co.uc_stack.ss_sp = ustk;
    uc_co.uc_stack.ss_size = stack_bytes;
    uc_co.uc_link = nullptr;
    makecontext(&uc_co, &uc_co_entry, 0);
    constexpr long uc_round_trips = 100000;
    for (int i = 0; i < 1000; ++i)
        swapcontext(&uc_main, &uc_co);

    // The same raw switch between two TCBs, when the runtime has them: the FS base changes with
    // the stack, as between green threads that have TCBs of their own (wrfsbase, or arch_prctl
    // without FSGSBASE).
    raw_switch t;
    std::vector<std::function<double()>> bodies{
        [&] {
            std::uint64_t t0 = now_ns();
            for (long i = 0; i < uc_round_trips; ++i)
                swapcontext(&uc_main, &uc_co);
            return double(now_ns() - t0) / (2.0 * uc_round_trips);
        },
        [&] {
            std::uint64_t t0 = now_ns();
            for (long i = 0; i < green_round_trips; ++i)
                green::switch_context(s.main_ctx, s.co_ctx);
            return double(now_ns() - t0) / (2.0 * green_round_trips);
        },
    };
    if (green::tcb::enabled()) {
        void* stk2 = mmap(nullptr, stack_bytes, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        t.main_tp = green::tcb::current();
        t.co_tp = green::tcb::acquire(int(syscall(SYS_gettid)));
        t.co_ctx = green::make_context(static_cast<char*>(stk2) + stack_bytes, &raw_co_entry, &t);
        bodies.push_back([&] {
            std::uint64_t t0 = now_ns();
            for (long i = 0; i < green_round_trips; ++i)
                green::switch_context(t.main_ctx, t.co_ctx, nullptr, t.co_tp);
            return double(now_ns() - t0) / (2.0 * green_round_trips);
        });
    }
    auto m = interleaved(bodies);
    time_row("context switch, one direction (native: `swapcontext`; green: `green::switch_context`)",
             m[0], m[1]);
    if (m.size() > 2)
        time_row(green_fsgsbase_usable
                     ? "context switch with the FS base, one direction (green: `wrfsbase`)"
                     : "context switch with the FS base, one direction (green: `arch_prctl`)",
                 m[0], m[2]);
    // The coroutines never finish: their stacks are simply left mapped.
}

// ---------------------------------------------------------------- 2. spawn + join

void empty_fiber(void*) {}
void* empty_thread(void*) { return nullptr; }

double native_spawn_join(long n)
{
    std::uint64_t t0 = now_ns();
    for (long i = 0; i < n; ++i) {
        pthread_t t;
        pthread_create(&t, nullptr, &empty_thread, nullptr);
        pthread_join(t, nullptr);
    }
    return double(now_ns() - t0) / double(n);
}

void bench_spawn_join(green::hub* h)
{
    progress("spawn + join");
    constexpr long green_n = 20000;
    constexpr long native_n = 2000;
    for (int i = 0; i < 100; ++i)
        h->join(h->spawn(&empty_fiber, nullptr));
    native_spawn_join(20);
    save_affinity();
    auto m = interleaved({
        [&] { return native_spawn_join(native_n); },
        [&] {
            pin_to_cpu0(pthread_self());
            double ns = native_spawn_join(native_n);
            restore_affinity();
            return ns;
        },
        [&] {
            std::uint64_t t0 = now_ns();
            for (long i = 0; i < green_n; ++i)
                h->join(h->spawn(&empty_fiber, nullptr));
            return double(now_ns() - t0) / double(green_n);
        },
    });
    time_row("spawn + join (native: `pthread_create`+`pthread_join`, 2 CPUs; green: "
             "`hub::spawn`+`hub::join`, stack pool warm)",
             m[0], m[2]);
    time_row("spawn + join (native pinned to 1 CPU)", m[1], m[2]);
}

// ---------------------------------------------------------------- 3. ping-pong

struct yield_args {
    green::hub* h;
    long n;
};

void yielder(void* arg)
{
    auto* a = static_cast<yield_args*>(arg);
    for (long i = 0; i < a->n; ++i)
        a->h->yield();
}

struct pingpong {
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv[2] = {PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER};
    int turn = 0;
    long n = 0;
};

struct pingpong_side {
    pingpong* p;
    int me;
};

void* pingpong_thread(void* arg)
{
    auto* side = static_cast<pingpong_side*>(arg);
    pingpong* p = side->p;
    int me = side->me;
    pthread_mutex_lock(&p->mu);
    for (long i = 0; i < p->n; ++i) {
        while (p->turn != me)
            pthread_cond_wait(&p->cv[me], &p->mu);
        p->turn = 1 - me;
        pthread_cond_signal(&p->cv[1 - me]);
    }
    pthread_mutex_unlock(&p->mu);
    return nullptr;
}

// ns per round trip (A hands to B, B hands back to A).
double native_pingpong(long n, bool pinned)
{
    pingpong p;
    p.n = n;
    pingpong_side a{&p, 0}, b{&p, 1};
    pthread_t ta, tb;
    pthread_create(&ta, nullptr, &pingpong_thread, &a);
    pthread_create(&tb, nullptr, &pingpong_thread, &b);
    if (pinned) {
        pin_to_cpu0(ta);
        pin_to_cpu0(tb);
    }
    // Timed from the creation: the two creations (~60 µs) are < 1% of the run.
    std::uint64_t t0 = now_ns();
    pthread_join(ta, nullptr);
    pthread_join(tb, nullptr);
    return double(now_ns() - t0) / double(n);
}

struct yield_crowd {
    pthread_barrier_t start;
    long n;
};

void* sched_yielder(void* arg)
{
    auto* c = static_cast<yield_crowd*>(arg);
    pthread_barrier_wait(&c->start);
    for (long i = 0; i < c->n; ++i)
        sched_yield();
    return nullptr;
}

// ns per sched_yield, `k` threads pinned to one CPU yielding to each other.
double native_yield_crowd(int k, long n)
{
    yield_crowd c;
    c.n = n;
    pthread_barrier_init(&c.start, nullptr, unsigned(k + 1));
    std::vector<pthread_t> threads(static_cast<std::size_t>(k));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    pthread_attr_setaffinity_np(&attr, sizeof set, &set);
    for (auto& t : threads)
        pthread_create(&t, &attr, &sched_yielder, &c);
    pthread_attr_destroy(&attr);
    pthread_barrier_wait(&c.start);
    std::uint64_t t0 = now_ns();
    for (auto& t : threads)
        pthread_join(t, nullptr);
    double ns = double(now_ns() - t0) / double(n * k);
    pthread_barrier_destroy(&c.start);
    return ns;
}

double green_yield_crowd(green::hub* h, int k, long n)
{
    yield_args a{h, n};
    std::vector<green::fiber*> fibers;
    std::uint64_t t0 = now_ns();
    for (int i = 0; i < k; ++i)
        fibers.push_back(h->spawn(&yielder, &a));
    for (green::fiber* f : fibers)
        h->join(f);
    return double(now_ns() - t0) / double(n * k);
}

// Reference costs that explain the green figures: one non-blocking turn of a libuv loop (what
// the hub does between batches of ready fibers) and the epoll_wait(0) inside it.
void loop_reference(double& uv_run_ns, double& epoll_ns)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    int fds[2];
    if (pipe(fds) != 0)
        return;
    uv_poll_t p;
    uv_poll_init(&loop, &p, fds[0]);
    uv_poll_start(&p, UV_READABLE, [](uv_poll_t*, int, int) {});
    constexpr int n = 100000;
    std::vector<double> a, b;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int r = 0; r < reps; ++r) {
        std::uint64_t t0 = now_ns();
        for (int i = 0; i < n; ++i)
            uv_run(&loop, UV_RUN_NOWAIT);
        a.push_back(double(now_ns() - t0) / n);
        epoll_event ev[8];
        t0 = now_ns();
        for (int i = 0; i < n; ++i)
            epoll_wait(ep, ev, 8, 0);
        b.push_back(double(now_ns() - t0) / n);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&p), nullptr);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    close(ep);
    close(fds[0]);
    close(fds[1]);
    uv_run_ns = median(a);
    epoll_ns = median(b);
}

void bench_pingpong(green::hub* h)
{
    progress("ping-pong");
    constexpr long green_n = 200000;
    constexpr long native_n = 10000;
    constexpr int crowd = 100;
    auto m = interleaved({
        [&] { return native_pingpong(native_n, false); },
        [&] { return native_pingpong(native_n, true); },
        [&] {
            yield_args a{h, green_n};
            std::uint64_t t0 = now_ns();
            green::fiber* f1 = h->spawn(&yielder, &a);
            green::fiber* f2 = h->spawn(&yielder, &a);
            h->join(f1);
            h->join(f2);
            return double(now_ns() - t0) / double(green_n);
        },
        [&] { return native_yield_crowd(crowd, 500); },
        [&] { return green_yield_crowd(h, crowd, 2000); },
        [&] {
            yield_args a{h, green_n};
            green::spawn_options own;
            own.own_tcb = true;
            std::uint64_t t0 = now_ns();
            green::fiber* f1 = h->spawn(&yielder, &a, own);
            green::fiber* f2 = h->spawn(&yielder, &a, own);
            h->join(f1);
            h->join(f2);
            return double(now_ns() - t0) / double(green_n);
        },
    });
    time_row("ping-pong round trip (native: mutex+condvar, 2 threads, 2 CPUs; green: 2 fibers "
             "`yield`)",
             m[0], m[2]);
    time_row("ping-pong round trip (native threads pinned to 1 CPU)", m[1], m[2]);
    time_row("ping-pong, per hand-off (half a round trip; native pinned)", m[1] / 2, m[2] / 2);
    if (green::tcb::enabled())
        time_row("ping-pong round trip, fibers with TCBs of their own (native pinned)", m[1], m[5]);
    time_row("yield among 100 (native: `sched_yield`, 100 threads on 1 CPU; green: 100 fibers "
             "`yield`), per yield",
             m[3], m[4]);
    double uv_ns = 0, epoll_ns = 0;
    loop_reference(uv_ns, epoll_ns);
    note("Hub overhead: a fiber that parks or yields switches straight to the next ready fiber "
         "(one raw switch); after 16 batches begun that way, or when none is ready, it switches "
         "to the hub context, which turns its libuv loop without blocking once 20 µs have passed "
         "since the last turn (`uv_run(UV_RUN_NOWAIT)`: %.0f ns here on an idle loop, of which "
         "`epoll_wait(0)` is %.0f ns), or blocks in it when no fiber is ready.",
         uv_ns, epoll_ns);
}

// ---------------------------------------------------------------- 3b. time slices

struct slice_args {
    long n;
    bool counted;
    double ns_per_call;
};

// The part of a hooked call that does not park which belongs to the time slice: a counter per
// call, a clock read per slice_check_calls calls, a yield through the hub context per slice.
// The loop body stands for the call (an empty asm barrier); the root fiber is parked in join,
// so a slice that ends does yield, as in a program with more than one green thread.
void slice_loop(void* arg)
{
    auto* a = static_cast<slice_args*>(arg);
    std::uint64_t t0 = now_ns();
    for (long i = 0; i < a->n; ++i) {
        if (a->counted)
            green::count_call();
        asm volatile("" ::: "memory");
    }
    a->ns_per_call = double(now_ns() - t0) / double(a->n);
}

void bench_slice(green::hub* h)
{
    progress("time slices");
    constexpr long n = 20000000;
    auto run = [h](bool counted) {
        slice_args a{n, counted, 0};
        h->join(h->spawn(&slice_loop, &a));
        return a.ns_per_call;
    };
    auto m = interleaved({[&] { return run(false); }, [&] { return run(true); }});
    time_row("time-slice bookkeeping per hooked call that does not park (native: an empty loop; "
             "green: the same loop counting each iteration toward the slice)",
             m[0], m[1]);
    note("Time slices: every hooked call that may return without parking decrements a "
         "per-thread counter; every %u calls the clock is read, and a green thread that has run "
         "%.0f ms without parking yields, so that the hub polls its loop (timers, I/O) and other "
         "green threads run. The row above is that cost alone, %.2f ns per call here (a ready "
         "read() costs some hundreds of ns).",
         green::slice_check_calls, double(green::slice_ns) / 1e6, m[1] - m[0]);
}

// ---------------------------------------------------------------- 4. memory per parked flow

struct mem_sample {
    double rss_kib = 0;    // VmRSS, this process
    double pte_kib = 0;    // VmPTE, this process's page tables
    double meminfo_pt_kib = 0;      // PageTables, /proc/meminfo (whole machine)
    double meminfo_kstack_kib = 0;  // KernelStack, /proc/meminfo (whole machine)
    double meminfo_slab_kib = 0;    // Slab, /proc/meminfo (whole machine)
};

double read_field_kib(const char* path, const char* field)
{
    FILE* f = std::fopen(path, "re");
    if (!f)
        return 0;
    char line[256];
    double value = 0;
    std::size_t len = std::strlen(field);
    while (std::fgets(line, sizeof line, f)) {
        if (std::strncmp(line, field, len) == 0 && line[len] == ':') {
            value = std::strtod(line + len + 1, nullptr);
            break;
        }
    }
    std::fclose(f);
    return value;
}

mem_sample sample_memory()
{
    mem_sample m;
    m.rss_kib = read_field_kib("/proc/self/status", "VmRSS");
    m.pte_kib = read_field_kib("/proc/self/status", "VmPTE");
    m.meminfo_pt_kib = read_field_kib("/proc/meminfo", "PageTables");
    m.meminfo_kstack_kib = read_field_kib("/proc/meminfo", "KernelStack");
    m.meminfo_slab_kib = read_field_kib("/proc/meminfo", "Slab");
    return m;
}

struct mem_result {
    long n = 0;
    double rss = 0, pte = 0, meminfo_pt = 0, kstack = 0, slab = 0;  // KiB per flow
    double setup_ns = 0, teardown_ns = 0;                            // whole phases
    std::size_t guarded = 0;
};

mem_result per_flow(const mem_sample& before, const mem_sample& after, long n)
{
    mem_result r;
    r.n = n;
    r.rss = (after.rss_kib - before.rss_kib) / double(n);
    r.pte = (after.pte_kib - before.pte_kib) / double(n);
    r.meminfo_pt = (after.meminfo_pt_kib - before.meminfo_pt_kib) / double(n);
    r.kstack = (after.meminfo_kstack_kib - before.meminfo_kstack_kib) / double(n);
    r.slab = (after.meminfo_slab_kib - before.meminfo_slab_kib) / double(n);
    return r;
}

void fresh_stack_pool(std::size_t stack_size = 0)
{
    // Unmaps the pooled (already touched) stacks so that every stack of the run is new.
    green::configure_stacks({stack_size, green::guard_policy::automatic, 1024});
}

void sleeping_fiber(void*)
{
    green::hub* h = green::hub::current();
    // Far in the future: it is woken by hub::try_wake, not by its timer.
    h->sleep_until(now_ns() + 3600ull * 1000000000ull, green::interrupt_mode::always);
}

mem_result green_parked_sleep(green::hub* h, long n, std::size_t stack_size = 0)
{
    fresh_stack_pool(stack_size);
    std::vector<green::fiber*> fibers;
    fibers.reserve(std::size_t(n));
    mem_sample before = sample_memory();
    std::uint64_t t0 = now_ns();
    for (long i = 0; i < n; ++i) {
        green::fiber* f = h->spawn(&sleeping_fiber, nullptr);
        if (!f) {
            std::fprintf(stderr, "bench_runtime: spawn %ld failed: %s\n", i, std::strerror(errno));
            std::exit(1);
        }
        fibers.push_back(f);
    }
    h->yield();  // every new fiber runs once, up to its sleep; the root runs after them
    std::uint64_t t1 = now_ns();
    mem_sample after = sample_memory();
    mem_result r = per_flow(before, after, n);
    r.guarded = green::guarded_stack_count();
    r.setup_ns = double(t1 - t0);
    std::uint64_t t2 = now_ns();
    for (green::fiber* f : fibers)
        green::hub::try_wake(f, green::wake_reason::ready);
    for (green::fiber* f : fibers)
        h->join(f);
    r.teardown_ns = double(now_ns() - t2);
    return r;
}

struct socket_fiber_args {
    int fd;
};

void socket_fiber(void* arg)
{
    int fd = static_cast<socket_fiber_args*>(arg)->fd;
    green::fd_info info = green::fd_table::lookup(fd);
    auto r = green::fd_table::wait(fd, info.generation, EPOLLIN, green::no_deadline,
                                   green::interrupt_mode::unless_restart);
    if (r != green::fd_wait_result::ready)
        std::fprintf(stderr, "bench_runtime: socket wait ended with %d\n", int(r));
    char c;
    if (recv(fd, &c, 1, MSG_DONTWAIT) != 1)
        std::fprintf(stderr, "bench_runtime: socket fiber read nothing\n");
}

mem_result green_parked_socket(green::hub* h, long n)
{
    fresh_stack_pool();
    std::vector<int> fds(2 * std::size_t(n));
    std::vector<socket_fiber_args> args(static_cast<std::size_t>(n));
    std::vector<green::fiber*> fibers;
    fibers.reserve(std::size_t(n));
    for (long i = 0; i < n; ++i) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, &fds[std::size_t(2 * i)]) != 0) {
            std::fprintf(stderr, "bench_runtime: socketpair %ld: %s\n", i, std::strerror(errno));
            std::exit(1);
        }
        args[std::size_t(i)].fd = fds[std::size_t(2 * i)];
    }
    // The socket pairs exist before the baseline: this counts what parking on them costs.
    mem_sample before = sample_memory();
    std::uint64_t t0 = now_ns();
    for (long i = 0; i < n; ++i)
        fibers.push_back(h->spawn(&socket_fiber, &args[std::size_t(i)]));
    h->yield();
    std::uint64_t t1 = now_ns();
    mem_sample after = sample_memory();
    mem_result r = per_flow(before, after, n);
    r.guarded = green::guarded_stack_count();
    r.setup_ns = double(t1 - t0);
    std::uint64_t t2 = now_ns();
    for (long i = 0; i < n; ++i) {
        char c = 'x';
        if (write(fds[std::size_t(2 * i + 1)], &c, 1) != 1)
            std::fprintf(stderr, "bench_runtime: wake write failed\n");
    }
    for (green::fiber* f : fibers)
        h->join(f);
    r.teardown_ns = double(now_ns() - t2);
    for (int fd : fds)
        close(fd);  // (the fd table still holds the registrations' slots; they are tiny)
    return r;
}

struct blocked_threads {
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    pthread_cond_t all_waiting = PTHREAD_COND_INITIALIZER;
    long waiting = 0;
    bool release = false;
};

void* blocked_thread(void* arg)
{
    auto* b = static_cast<blocked_threads*>(arg);
    pthread_mutex_lock(&b->mu);
    ++b->waiting;
    pthread_cond_signal(&b->all_waiting);
    while (!b->release)
        pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
    return nullptr;
}

mem_result native_blocked(long n)
{
    blocked_threads b;
    std::vector<pthread_t> threads(static_cast<std::size_t>(n));
    mem_sample before = sample_memory();
    std::uint64_t t0 = now_ns();
    long made = 0;
    for (; made < n; ++made) {
        int e = pthread_create(&threads[std::size_t(made)], nullptr, &blocked_thread, &b);
        if (e != 0) {
            std::fprintf(stderr, "bench_runtime: pthread_create %ld: %s\n", made, std::strerror(e));
            break;
        }
    }
    pthread_mutex_lock(&b.mu);
    while (b.waiting < made)
        pthread_cond_wait(&b.all_waiting, &b.mu);
    pthread_mutex_unlock(&b.mu);
    std::uint64_t t1 = now_ns();
    mem_sample after = sample_memory();
    mem_result r = per_flow(before, after, made);
    r.setup_ns = double(t1 - t0);
    std::uint64_t t2 = now_ns();
    pthread_mutex_lock(&b.mu);
    b.release = true;
    pthread_cond_broadcast(&b.cv);
    pthread_mutex_unlock(&b.mu);
    for (long i = 0; i < made; ++i)
        pthread_join(threads[std::size_t(i)], nullptr);
    r.teardown_ns = double(now_ns() - t2);
    return r;
}

void raise_nofile()
{
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

long read_long(const char* path)
{
    long v = -1;
    if (FILE* f = std::fopen(path, "re")) {
        if (std::fscanf(f, "%ld", &v) != 1)
            v = -1;
        std::fclose(f);
    }
    return v;
}

void bench_memory(green::hub* h)
{
    constexpr double kernel_stack_estimate_kib = 16;

    progress("memory: 10,000 native threads blocked in a condvar wait");
    mem_result native = native_blocked(10000);
    progress("memory: 10,000 fibers parked in sleep_until");
    mem_result g10k = green_parked_sleep(h, 10000);
    progress("memory: 100,000 fibers parked in sleep_until");
    mem_result g100k = green_parked_sleep(h, 100000);
    progress("memory: 100,000 fibers parked in sleep_until, 64 KiB stacks");
    mem_result g100k_small = green_parked_sleep(h, 100000, 64 * 1024);
    fresh_stack_pool();

    double native_total = native.rss + native.pte + kernel_stack_estimate_kib;
    auto green_total = [](const mem_result& r) { return r.rss + r.pte; };

    char label[256];
    std::snprintf(label, sizeof label,
                  "RSS per parked flow, N=%ld (native: threads in a condvar wait; green: fibers in "
                  "`sleep_until`)",
                  native.n);
    row(label, fmt_kib(native.rss), fmt_kib(g10k.rss), fmt_ratio(g10k.rss, native.rss));
    row("page tables per parked flow, N=10,000 (VmPTE delta / N)", fmt_kib(native.pte),
        fmt_kib(g10k.pte), fmt_ratio(g10k.pte, native.pte));
    row("kernel stack per parked flow (native: 16 KiB, an ESTIMATE; fibers have none)",
        fmt_kib(kernel_stack_estimate_kib) + " (est.)", fmt_kib(0), "0");
    row("**total per parked flow, N=10,000** (RSS + page tables + kernel stack)",
        fmt_kib(native_total), fmt_kib(green_total(g10k)),
        fmt_ratio(green_total(g10k), native_total));
    row("RSS + page tables per parked fiber, N=100,000 (native: the N=10,000 total)",
        fmt_kib(native_total), fmt_kib(g100k.rss) + " + " + fmt_kib(g100k.pte) + " = " +
                                   fmt_kib(green_total(g100k)),
        fmt_ratio(green_total(g100k), native_total));
    row("same, N=100,000 with 64 KiB stacks (`configure_stacks`)", fmt_kib(native_total),
        fmt_kib(g100k_small.rss) + " + " + fmt_kib(g100k_small.pte) + " = " +
            fmt_kib(green_total(g100k_small)),
        fmt_ratio(green_total(g100k_small), native_total));
    time_row("time to start N=10,000 parked flows and see them all parked", native.setup_ns,
             g10k.setup_ns);
    time_row("time to wake and join N=10,000 parked flows (native: one `pthread_cond_broadcast`, "
             "all 10,000 then contend for its mutex)",
             native.teardown_ns, g10k.teardown_ns);

    note("Memory: per-flow figures are (after − before)/N with all N parked. RSS is VmRSS and page "
         "tables VmPTE, both from /proc/self/status (this process only). /proc/meminfo PageTables "
         "is machine-wide and moves with other processes; its delta/N was: native %.2f KiB, green "
         "N=10k %.2f KiB, green N=100k %.2f KiB (compare with VmPTE: %.2f, %.2f, %.2f).",
         native.meminfo_pt, g10k.meminfo_pt, g100k.meminfo_pt, native.pte, g10k.pte, g100k.pte);
    note("Kernel stack: the table uses an estimate of 16 KiB per native thread (x86-64 THREAD_SIZE). "
         "Measured machine-wide, /proc/meminfo KernelStack delta/N was %.2f KiB per thread (green: "
         "%.2f); Slab delta/N (task_struct and friends, also machine-wide, not in the table) was "
         "%.2f KiB per thread (green: %.2f).",
         native.kstack, g10k.kstack, native.slab, g10k.slab);
    note("Stacks: default size %zu KiB virtual for fibers (MAP_NORESERVE) and threads alike; "
         "vm.max_map_count = %ld, so with guard_policy::automatic at most %ld fibers get a guard "
         "page (2 VMAs each); the N=100,000 run had %zu guarded stacks, the rest unguarded "
         "(checked at each switch). A parked fiber touches about one stack page, but an 8 MiB "
         "stack sits alone in its 2 MiB page-table range, so it also needs a page-table page of "
         "its own: page tables were %.0f%% of the N=100,000 figure; with 64 KiB stacks ~30 stacks "
         "share one and page tables fall to %.2f KiB per fiber.",
         green::default_stack_size() / 1024, read_long("/proc/sys/vm/max_map_count"),
         read_long("/proc/sys/vm/max_map_count") / 4, g100k.guarded,
         100.0 * g100k.pte / green_total(g100k), g100k_small.pte);
    note("Setup/teardown of N=100,000 fibers: %.0f ms to spawn and park, %.0f ms to wake and join.",
         g100k.setup_ns / 1e6, g100k.teardown_ns / 1e6);

    // Socket variant: each fiber parked in fd_table::wait on its own socket pair.
    rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    long max_pairs = (long(rl.rlim_cur) - 64) / 2;
    long n_sock = std::min(10000L, max_pairs);
    if (n_sock >= 1000) {
        std::snprintf(label, sizeof label, "memory: %ld fibers parked on socket pairs", n_sock);
        progress(label);
        mem_result gs = green_parked_socket(h, n_sock);
        std::snprintf(label, sizeof label,
                      "RSS + page tables per fiber parked in `fd_table::wait` on its own socket "
                      "pair, N=%ld (native: the N=10,000 total)",
                      n_sock);
        row(label, fmt_kib(native_total),
            fmt_kib(gs.rss) + " + " + fmt_kib(gs.pte) + " = " + fmt_kib(green_total(gs)),
            fmt_ratio(green_total(gs), native_total));
        note("Socket variant: N=%ld, not 10,000, because RLIMIT_NOFILE's hard limit is %lu (two fds "
             "per pair). The socket pairs are made before the baseline, so the figure is what "
             "parking costs (registration with the hub's epoll set included; the epoll item is "
             "kernel slab, not RSS: machine-wide Slab delta/N was %.2f KiB).",
             n_sock, static_cast<unsigned long>(rl.rlim_max), gs.slab);
    }
}

// ---------------------------------------------------------------- 5. sleep accuracy

constexpr int sleep_samples = 200;

std::vector<double> native_sleeps(long usec)
{
    std::vector<double> v;
    timespec req{0, usec * 1000};
    for (int i = 0; i < sleep_samples + 5; ++i) {
        std::uint64_t t0 = now_ns();
        nanosleep(&req, nullptr);
        std::uint64_t t1 = now_ns();
        if (i >= 5)
            v.push_back(double(t1 - t0));
    }
    return v;
}

struct green_sleep_args {
    long usec;
    std::vector<double> samples;
};

void green_sleeper(void* arg)
{
    auto* a = static_cast<green_sleep_args*>(arg);
    green::hub* h = green::hub::current();
    for (int i = 0; i < sleep_samples + 5; ++i) {
        std::uint64_t t0 = now_ns();
        h->sleep_until(t0 + std::uint64_t(a->usec) * 1000, green::interrupt_mode::always);
        std::uint64_t t1 = now_ns();
        if (i >= 5)
            a->samples.push_back(double(t1 - t0));
    }
}

void bench_sleep(green::hub* h)
{
    for (long usec : {100L, 1000L}) {
        char label[200];
        std::snprintf(label, sizeof label, "sleep %ld µs", usec);
        progress(label);
        std::vector<double> native = native_sleeps(usec);
        long slack = read_long("/proc/self/timerslack_ns");
        prctl(PR_SET_TIMERSLACK, 1UL);
        std::vector<double> native_tight = native_sleeps(usec);
        prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(slack));
        green_sleep_args a{usec, {}};
        h->join(h->spawn(&green_sleeper, &a));
        std::snprintf(label, sizeof label,
                      "sleep %ld µs, median of %d (native: `nanosleep`; green: `hub::sleep_until` "
                      "in a fiber)",
                      usec, sleep_samples);
        time_row(label, median(native), median(a.samples));
        std::snprintf(label, sizeof label, "sleep %ld µs, p90", usec);
        time_row(label, percentile(native, 90), percentile(a.samples, 90));
        std::snprintf(label, sizeof label,
                      "sleep %ld µs, median, native with timer slack 1 ns (`PR_SET_TIMERSLACK`)",
                      usec);
        time_row(label, median(native_tight), median(a.samples));
    }
    note("Sleeps: this process's timer slack is %ld ns (/proc/self/timerslack_ns). The kernel "
         "lets a `nanosleep` (and an `epoll_wait` timeout) end up to that much late; the hub waits "
         "on an absolute timerfd, whose expiry has no slack, so green sleeps end earlier than "
         "native ones. With the slack set to 1 ns the native figures match the green ones (rows "
         "above): the difference is slack, not precision.",
         read_long("/proc/self/timerslack_ns"));
}

}  // namespace

int main()
{
    raise_nofile();
    green::configure_stacks({0, green::guard_policy::automatic, 1024});
    green::tcb::init(true);
    green::hub* h = green::hub::for_this_thread();
    if (!h) {
        std::fprintf(stderr, "bench_runtime: cannot make a hub: %s\n", std::strerror(errno));
        return 1;
    }
    std::uint64_t t0 = now_ns();
    bench_context_switch();
    bench_spawn_join(h);
    bench_pingpong(h);
    bench_slice(h);
    bench_memory(h);
    bench_sleep(h);
    note("Times are medians of %d repetitions (each the mean of a loop), sleeps median/p90 of "
         "single samples; ratio = green / native (below 1: green is cheaper or faster). "
         "bench_runtime ran %.1f s.",
         reps, double(now_ns() - t0) / 1e9);
    for (const std::string& n : notes)
        std::printf("- %s\n", n.c_str());
    return 0;
}
