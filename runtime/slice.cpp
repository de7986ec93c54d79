// Time slices for green threads that do not park (hub.hpp, count_call).
#include "hub.hpp"

namespace green {

void hub::check_slice()
{
    tls.calls_until_clock = slice_check_calls;
    hub* h = tls.home;
    // Only a green thread's flow is preempted, and only where another fiber could run.
    if (!h || !may_park() || !tls.running || h->live_fibers_ <= 1 || tls.signal_depth)
        return;
    std::uint64_t now = now_ns();
    if (tls.slice_began == 0) {
        tls.slice_began = now;
        return;
    }
    if (now - tls.slice_began >= slice_ns)
        h->preempt();
}

void hub::preempt()
{
    // As a yield, but the hub context runs once the fibers ready now have had their turn,
    // whatever the count of direct batches: it polls the loop, so timers fire and fds are
    // looked at even while this fiber and the others stay ready.
    direct_batches_ = max_direct_batches;
    yield();
}

}  // namespace green
