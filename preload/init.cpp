#include "init.hpp"

#include "config.hpp"
#include "hub.hpp"
#include "internal.hpp"
#include "overflow.hpp"
#include "signals.hpp"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace green::preload {

std::atomic<int> init_state{0};

namespace {

void print_stats()
{
    char line[256];
    int n = std::snprintf(
        line, sizeof line,
        "libgreen: stats: hubs=%" PRIu64 " fibers=%" PRIu64 " parks=%" PRIu64
        " fd_waits=%" PRIu64 " sleeps=%" PRIu64 "\n",
        stats.hubs.load(), stats.hubs.load() + stats.fibers.load(), stats.parks.load(),
        stats.fd_waits.load(), stats.sleeps.load());
    syscall(SYS_write, 2, line, n > 0 ? std::size_t(n) : 0);
}

void initialise()
{
    internal_scope scope;
    config c = read_config();
    set_log_level(c.log);
    configure_stacks(stack_config{c.stack_size, c.stack_guard, 1024});
    hooks::install_signal_interposition();
    if (c.stats)
        std::atexit(print_stats);
}

}  // namespace

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
