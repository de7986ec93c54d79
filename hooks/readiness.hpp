// How poll, select and epoll_wait become green: ask the real call with a zero timeout; if
// nothing is ready, park the fiber on every fd of the call at once, and ask again after each
// wake-up, until something is ready, the deadline passes or a signal handler runs.
//
// The real call decides every result (revents, fd sets, epoll events, EBADF, EINVAL, EFAULT,
// POLLNVAL): the hub's wake-ups only say when to ask again. A zero timeout never parks.
#pragma once

#include "blocked.hpp"
#include "fd_table.hpp"
#include "hook.hpp"
#include "internal.hpp"
#include "log.hpp"
#include "signals.hpp"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <sys/epoll.h>

namespace green::hooks {

// The fds one call waits on; small sets live on the fiber's stack.
class watch_list {
public:
    explicit watch_list(std::size_t capacity)
        : items_(capacity <= inline_count
                     ? inline_
                     : static_cast<fd_watch*>(std::calloc(capacity, sizeof(fd_watch)))),
          capacity_(capacity)
    {
    }
    ~watch_list()
    {
        if (items_ != inline_)
            std::free(items_);
    }
    watch_list(const watch_list&) = delete;
    watch_list& operator=(const watch_list&) = delete;

    bool ok() const { return items_ != nullptr; }
    void add(int fd, std::uint32_t events)
    {
        if (count_ == capacity_)
            return;
        fd_watch& w = items_[count_++];
        w = fd_watch{};
        w.fd = fd;
        w.events = events;
    }
    fd_watch* data() { return items_; }
    std::size_t size() const { return count_; }

private:
    static constexpr std::size_t inline_count = 16;
    fd_watch inline_[inline_count];
    fd_watch* items_;
    std::size_t capacity_;
    std::size_t count_ = 0;
};

// A deadline from a relative timeout of `ns` nanoseconds (no_deadline for none).
inline std::uint64_t readiness_deadline(const std::uint64_t* ns)
{
    return ns ? deadline_after(now_ns(), *ns) : no_deadline;
}

// The wait itself. `try_now()` is the real call with a zero timeout and no mask; `try_masked()`
// the same with the call's signal mask (the first look, so that a signal already pending is
// handled by the kernel exactly as natively); `block()` the real call as the program made it,
// for when the fiber cannot park. `fill(watches)` adds the fds to wait on; it runs only once the
// first look found nothing. `mask`: the p-variants' mask, or null. `call` names the call for
// GREEN_STATS's count of calls that blocked their hub. Returns the real call's result, 0 at the
// deadline, or -1 with EINTR when a handler ran.
template <class TryMasked, class TryNow, class Fill, class Block>
int wait_ready(const char* call, std::uint64_t deadline, const sigset_t* mask, std::size_t fd_count,
               TryMasked&& try_masked, TryNow&& try_now, Fill&& fill, Block&& block)
{
    int entry_errno = errno;
    auto interrupted = [] {
        errno = EINTR;
        return -1;
    };
    // Registered before the first look: a handler that runs from here on ends the wait with
    // EINTR (signals.hpp), as a signal that arrives once the kernel is inside poll does.
    signal_aware_wait signals(mask);
    if (!mask) {
        int r = try_now();
        if (r != 0)
            return r;
    } else if (signals.masks_green_thread()) {
        // The mask is the green thread's own (no system call unless the census changes); a
        // kernel-side mask for the first look would let the trampoline find the signal still
        // blocked by the green thread and keep it pending past the call.
        if (!signals.apply_mask())
            return block();
        int r = try_now();
        if (r != 0)
            return r;
    } else {
        int r = try_masked();
        if (r != 0)
            return r;
        if (!signals.apply_mask())
            return block();
    }
    if (signals.interrupted())
        return interrupted();
    watch_list watches(fd_count + 1);
    if (!watches.ok())
        return block();
    fill(watches);
    int wakeup = signal_aware_wait::wakeup_fd();
    if (wakeup >= 0)
        watches.add(wakeup, EPOLLIN);
    // poll, select and epoll_wait fail with EINTR after a handler, SA_RESTART or not
    // (signal(7)); the signal_aware_wait tells which handlers count, and wakes the fiber. Only
    // without its fd does the hub's own signal path have to do that.
    interrupt_mode mode = wakeup >= 0 ? interrupt_mode::never : interrupt_mode::always;
    for (;;) {
        fd_wait_result w = fd_table::wait_any(watches.data(), watches.size(), deadline, mode);
        if (w == fd_wait_result::not_pollable) {
            GREEN_LOG(warn, "a readiness wait cannot park; the call blocks its hub thread");
            blocked::note(call);
            return block();
        }
        if (w == fd_wait_result::interrupted || signals.interrupted())
            return interrupted();
        errno = entry_errno;
        int r = try_now();
        if (r != 0)
            return r;
        if (now_ns() >= deadline)
            return 0;
    }
}

}  // namespace green::hooks
