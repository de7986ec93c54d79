#include "timer_queue.hpp"

#include "fd_table.hpp"
#include "internal.hpp"

#include <cerrno>
#include <sys/timerfd.h>
#include <unistd.h>

namespace green {

timer_queue::~timer_queue()
{
    fd_table::release_runtime_fd(fd_);
}

int timer_queue::open()
{
    internal_scope scope;
    fd_ = fd_table::adopt_runtime_fd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    return fd_;
}

void timer_queue::place(std::size_t i, fiber* f)
{
    heap_[i] = f;
    f->timer.heap_index = i;
}

void timer_queue::sift_up(std::size_t i)
{
    fiber* f = heap_[i];
    while (i > 0) {
        std::size_t parent = (i - 1) / 2;
        if (heap_[parent]->timer.deadline <= f->timer.deadline)
            break;
        place(i, heap_[parent]);
        i = parent;
    }
    place(i, f);
}

void timer_queue::sift_down(std::size_t i)
{
    fiber* f = heap_[i];
    std::size_t n = heap_.size();
    for (;;) {
        std::size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && heap_[child + 1]->timer.deadline < heap_[child]->timer.deadline)
            ++child;
        if (f->timer.deadline <= heap_[child]->timer.deadline)
            break;
        place(i, heap_[child]);
        i = child;
    }
    place(i, f);
}

void timer_queue::add(fiber* f, std::uint64_t deadline)
{
    f->timer.deadline = deadline;
    heap_.push_back(f);
    f->timer.heap_index = heap_.size() - 1;
    sift_up(heap_.size() - 1);
    if (deadline < armed_)
        arm(deadline);
}

void timer_queue::remove(fiber* f)
{
    if (!f->timer.queued())
        return;
    std::size_t i = f->timer.heap_index;
    fiber* last = heap_.back();
    heap_.pop_back();
    f->timer.heap_index = SIZE_MAX;
    if (last != f) {
        place(i, last);
        sift_up(i);
        sift_down(last->timer.heap_index);
    }
}

void timer_queue::arm(std::uint64_t deadline)
{
    armed_ = deadline;
    itimerspec spec{};
    spec.it_value = ns_to_timespec(deadline ? deadline : 1);
    internal_scope scope;
    timerfd_settime(fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

void timer_queue::drain()
{
    std::uint64_t expirations;
    internal_scope scope;
    while (::read(fd_, &expirations, sizeof expirations) > 0) {
    }
}

}  // namespace green
