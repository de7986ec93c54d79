#include "init.hpp"

#include "config.hpp"
#include "fd_table.hpp"
#include "hub.hpp"
#include "internal.hpp"
#include "keyed_lock.hpp"
#include "overflow.hpp"
#include "resolver.hpp"
#include "signals.hpp"

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
    char line[256];
    int n = std::snprintf(
        line, sizeof line,
        "libgreen: stats: hubs=%" PRIu64 " fibers=%" PRIu64 " parks=%" PRIu64
        " fd_waits=%" PRIu64 " sleeps=%" PRIu64 "\n",
        stats.hubs.load(), stats.hubs.load() + stats.fibers.load(), stats.parks.load(),
        stats.fd_waits.load(), stats.sleeps.load());
    syscall(SYS_write, __atomic_load_n(&stats_fd, __ATOMIC_ACQUIRE), line,
            n > 0 ? std::size_t(n) : 0);
}

void initialise()
{
    internal_scope scope;
    config c = read_config();
    set_log_level(c.log);
    stats.enabled = c.stats;
    native_threads = c.native_threads;
    configure_stacks(stack_config{c.stack_size, c.stack_guard, 1024});
    hooks::install_signal_interposition();
    resolver = c.resolver;
    if (c.dns_servers && !resolver::configure({c.dns_servers}))
        reject("GREEN_DNS_SERVERS", c.dns_servers, "c-ares does not accept this server list");
    // Only the forking thread lives on in a child, and the hub it inherited shares its epoll
    // sets with the parent's: the child makes its own on first need.
    pthread_atfork(nullptr, nullptr, [] {
        keyed_lock::forget_after_fork();
        resolver::abandon_after_fork();
        hub::abandon_after_fork();
    });
    if (c.stats) {
        stats_fd = fd_table::adopt_runtime_fd(fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0));
        fd_table::track_runtime_fd_slot(&stats_fd);
        std::atexit(print_stats);
    }
}

}  // namespace

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
