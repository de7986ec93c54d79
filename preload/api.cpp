// The functions behind preload/include/green.h, which finds them with dlsym: the only names
// libgreen.so exports besides the libc ones it interposes, all prefixed green_api_.
#include "blocked.hpp"
#include "hub.hpp"
#include "init.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace {

// Mirrors struct green_stats in include/green.h; the header's copy is the contract.
struct api_stats {
    std::uint64_t hubs;
    std::uint64_t green_threads;
    std::uint64_t parks;
    std::uint64_t fd_waits;
    std::uint64_t sleeps;
    std::uint64_t blocked_calls;
    int counting;
};

}  // namespace

extern "C" __attribute__((visibility("default"))) int green_api_active()
{
    return green::preload::ready() ? 1 : 0;
}

// Fills at most `size` bytes of *out, so that a program built against an older, shorter
// struct still gets exactly the fields it knows.
extern "C" __attribute__((visibility("default"))) int green_api_read_stats(void* out,
                                                                            std::size_t size)
{
    using green::stats;
    api_stats s{};
    s.hubs = stats.hubs.load(std::memory_order_relaxed);
    s.green_threads = s.hubs + stats.fibers.load(std::memory_order_relaxed);
    s.parks = stats.parks.load(std::memory_order_relaxed);
    s.fd_waits = stats.fd_waits.load(std::memory_order_relaxed);
    s.sleeps = stats.sleeps.load(std::memory_order_relaxed);
    s.blocked_calls = green::blocked::total();
    s.counting = stats.enabled ? 1 : 0;
    std::memcpy(out, &s, size < sizeof s ? size : sizeof s);
    return 0;
}

extern "C" __attribute__((visibility("default"))) std::uint64_t green_api_thread_id()
{
    if (!green::preload::ready() || !green::may_park())
        return 0;
    // A thread that has not waited yet has no hub: its hub is made now, as its first wait
    // would, so that the id it gets is the one it keeps.
    if (!green::tls.running && !green::hub::for_this_thread())
        return 0;
    green::fiber* f = green::tls.running;
    return f ? f->id : 0;
}
