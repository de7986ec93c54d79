#include "init.hpp"

#include "blocked.hpp"
#include "config.hpp"
#include "fd_table.hpp"
#include "futex.hpp"
#include "hub.hpp"
#include "internal.hpp"
#include "keyed_lock.hpp"
#include "overflow.hpp"
#include "real.hpp"
#include "resolver.hpp"
#include "signals.hpp"
#include "tcb.hpp"
#include "thread.hpp"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

namespace green::preload {

std::atomic<int> init_state{0};
resolver_mode resolver = resolver_mode::ares;

namespace {

// Programs may close stderr before exit (coreutils does so in an atexit handler that runs
// before ours), so the stats line goes to a copy taken at start, hidden from the program.
int stats_fd = -1;

void print_stats()
{
    char line[1024];
    int n = std::snprintf(
        line, sizeof line,
        "libgreen: stats: hubs=%" PRIu64 " fibers=%" PRIu64 " parks=%" PRIu64
        " fd_waits=%" PRIu64 " sleeps=%" PRIu64 " futex_waits=%" PRIu64 " blocked=%" PRIu64 "\n",
        stats.hubs.load(), stats.hubs.load() + stats.fibers.load(), stats.parks.load(),
        stats.fd_waits.load(), stats.sleeps.load(), stats.futex_waits.load(), blocked::total());
    int fd = __atomic_load_n(&stats_fd, __ATOMIC_ACQUIRE);
    syscall(SYS_write, fd, line, n > 0 ? std::size_t(n) : 0);
    // The calls that blocked a hub thread, by name: what in the program is not green.
    blocked::entry calls[32];
    std::size_t count = blocked::snapshot(calls, 32);
    if (count == 0)
        return;
    std::size_t len = std::size_t(std::snprintf(line, sizeof line, "libgreen: blocked:"));
    for (std::size_t i = 0; i < count && i < 32; ++i) {
        int m = std::snprintf(line + len, sizeof line - len - 1, " %s=%" PRIu64, calls[i].call,
                              calls[i].count);
        if (m < 0 || std::size_t(m) >= sizeof line - len - 1)
            break;
        len += std::size_t(m);
    }
    line[len++] = '\n';
    syscall(SYS_write, fd, line, len);
}

void initialise()
{
    internal_scope scope;
    real::resolve_eagerly();
    config c = read_config();
    set_log_level(c.log);
    stats.enabled = c.stats;
    native_threads = c.native_threads;
    configure_stacks(stack_config{c.stack_size, c.stack_guard, 1024});
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // The sanitizers keep their own per-thread state in TLS that they set up only for the
    // threads they saw created: green threads share their OS thread's TCB under them.
    tcb::init(false);
#else
    tcb::init(true);
#endif
    hooks::install_signal_interposition();
    resolver = c.resolver;
    if (c.dns_servers && !resolver::configure({c.dns_servers}))
        reject("GREEN_DNS_SERVERS", c.dns_servers, "c-ares does not accept this server list");
    // Only the forking thread lives on in a child, and the hubs it inherited share their
    // epoll sets with the parent's: the child forgets them all and makes its own on first
    // need (hub.hpp). Registered first, so that this prepare handler runs last.
    pthread_atfork(&hub::before_fork, &hub::after_fork_in_parent, &forget_parent_hubs);
    if (c.stats) {
        stats_fd = fd_table::adopt_runtime_fd(fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0));
        fd_table::track_runtime_fd_slot(&stats_fd);
        std::atexit(print_stats);
    }
}

}  // namespace

void forget_parent_hubs()
{
    keyed_lock::forget_after_fork();
    resolver::abandon_after_fork();  // its channel lives in the hub
    futex::abandon_after_fork();
    hub::abandon_after_fork();
    // A green thread that forked is the child's thread now, on an OS thread of a new id.
    if (green_thread* t = green_thread::current())
        t->os_tid = int(syscall(SYS_gettid));
}

bool native_threads = false;

void ensure_init()
{
    int expected = 0;
    // Marked as started before it starts: a hook re-entered during start-up passes through.
    if (!init_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel))
        return;
    initialise();
    init_state.store(init_done, std::memory_order_release);
}

// Early, but hooks do not depend on it: whichever comes first, a hook or this, initialises.
__attribute__((constructor(101))) static void on_load()
{
    ensure_init();
}

}  // namespace green::preload
