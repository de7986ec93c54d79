// A hub's timers: a binary min-heap of deadlines in nanoseconds behind one timerfd.
//
// libuv's own timers count whole milliseconds (uv_now), so a 100 µs sleep on them lasts a full
// millisecond or more. The timerfd is armed with TFD_TIMER_ABSTIME at the earliest deadline and
// re-armed only when that deadline moves earlier; an early wake-up after a cancelled timer just
// re-arms for the next one.
#pragma once

#include "fiber.hpp"

#include <cstdint>
#include <vector>

namespace green {

class timer_queue {
public:
    timer_queue() = default;
    timer_queue(const timer_queue&) = delete;
    timer_queue& operator=(const timer_queue&) = delete;
    ~timer_queue();

    // Creates the timerfd; returns it (or -1 with errno).
    int open();
    int fd() const { return __atomic_load_n(&fd_, __ATOMIC_ACQUIRE); }
    int* fd_slot() { return &fd_; }  // for fd_table::track_runtime_fd_slot

    void add(fiber* f, std::uint64_t deadline);
    void remove(fiber* f);
    bool empty() const { return heap_.empty(); }

    // Called when the timerfd is readable: hands every expired fiber to `expire` and re-arms.
    template <class Expire>
    void run_expired(std::uint64_t now, Expire&& expire)
    {
        drain();
        armed_ = UINT64_MAX;
        while (!heap_.empty() && heap_.front()->timer.deadline <= now) {
            fiber* f = heap_.front();
            remove(f);
            expire(f);
        }
        if (!heap_.empty())
            arm(heap_.front()->timer.deadline);
    }

private:
    void arm(std::uint64_t deadline);
    void drain();
    void sift_up(std::size_t i);
    void sift_down(std::size_t i);
    void place(std::size_t i, fiber* f);

    std::vector<fiber*> heap_;
    std::uint64_t armed_ = UINT64_MAX;
    int fd_ = -1;
};

}  // namespace green
