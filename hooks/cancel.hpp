// Deferred cancellation at the green blocking calls that POSIX makes cancellation points.
//
// A cancellation point hook acts on a pending cancellation when it starts, marks the running
// fiber as parked at a cancellation point while it waits (so that pthread_cancel can end the
// wait, see runtime/thread.hpp), and acts again when the wait was cut short. Acting means
// pthread_exit(PTHREAD_CANCELED): the thread's stack unwinds from the hook.
#pragma once

#include "thread.hpp"

namespace green::hooks {

[[noreturn]] void act_on_cancel(green_thread* self);

inline void test_cancel()
{
    if (green_thread* t = green_thread::current(); t && t->cancel_due())
        act_on_cancel(t);
}

class cancel_point {
public:
    cancel_point() : self_(green_thread::current())
    {
        if (!self_)
            return;
        if (self_->cancel_due())
            act_on_cancel(self_);
        self_->fib()->at_cancel_point.store(true, std::memory_order_relaxed);
    }
    ~cancel_point()
    {
        if (self_)
            self_->fib()->at_cancel_point.store(false, std::memory_order_relaxed);
    }
    cancel_point(const cancel_point&) = delete;
    cancel_point& operator=(const cancel_point&) = delete;

    // After the wait ended early (EINTR): if a cancellation ended it, act on it now.
    void check()
    {
        if (self_ && self_->cancel_due()) {
            self_->fib()->at_cancel_point.store(false, std::memory_order_relaxed);
            act_on_cancel(self_);
        }
    }

private:
    green_thread* self_;
};

}  // namespace green::hooks
