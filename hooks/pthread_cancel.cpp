// pthread_cancel, pthread_setcancelstate, pthread_setcanceltype, pthread_testcancel, and the
// entry points behind pthread_cleanup_push/pop in C (__pthread_register_cancel...).
//
// For green threads these are the runtime's (runtime/thread.hpp); for every other flow, glibc's.
// glibc keeps a thread's C cleanup records in its thread descriptor, which all the green
// threads of one OS thread share, so for green threads the chain is kept per green thread.
#include "cancel.hpp"
#include "hook.hpp"

#include <cerrno>
#include <csetjmp>
#include <pthread.h>

// pthread.h declares these for C only (C++ gets a cleanup class instead).
extern "C" {
void __pthread_register_cancel(__pthread_unwind_buf_t* buf);
void __pthread_unregister_cancel(__pthread_unwind_buf_t* buf);
void __pthread_register_cancel_defer(__pthread_unwind_buf_t* buf);
void __pthread_unregister_cancel_restore(__pthread_unwind_buf_t* buf);
[[noreturn]] void __pthread_unwind_next(__pthread_unwind_buf_t* buf);
}

using namespace green;

namespace {

// glibc's layout of a C cleanup record: a jmp_buf set by pthread_cleanup_push, then private
// words; the first holds the previous record, the third the saved cancellation type (_defer).
void*& previous_record(__pthread_unwind_buf_t* buf) { return buf->__pad[0]; }

// Runs the cleanup handler of `record`: back into pthread_cleanup_push's sigsetjmp, which
// calls the handler and then __pthread_unwind_next.
[[noreturn]] void jump_to_cleanup(void* record)
{
    auto* buf = static_cast<__pthread_unwind_buf_t*>(record);
    std::longjmp(reinterpret_cast<__jmp_buf_tag*>(buf->__cancel_jmp_buf), 1);
}

[[maybe_unused]] const bool jumper_installed = [] {
    green_thread::set_cleanup_jumper(&jump_to_cleanup);
    return true;
}();

green_thread* green_target(pthread_t t)
{
    auto* p = reinterpret_cast<void*>(t);
    return green_thread::is_handle(p) ? static_cast<green_thread*>(p) : nullptr;
}

}  // namespace

namespace green::hooks {

void act_on_cancel(green_thread* self)
{
    self->exit(PTHREAD_CANCELED);
}

}  // namespace green::hooks

GREEN_HOOK int pthread_cancel(pthread_t thread)
{
    green_thread* t = green_target(thread);
    if (!t)
        return GREEN_REAL(pthread_cancel)(thread);
    t->request_cancel();
    // Asynchronous cancellation of oneself acts at once; of another green thread, at its next
    // park or cancellation point (a green thread is never interrupted while it computes).
    if (t == green_thread::current() && t->type() == cancel_type::asynchronous &&
        t->cancel_due())
        hooks::act_on_cancel(t);
    return 0;
}

GREEN_HOOK int pthread_setcancelstate(int state, int* old)
{
    green_thread* self = green_thread::current();
    if (!self)
        return GREEN_REAL(pthread_setcancelstate)(state, old);
    if (state != PTHREAD_CANCEL_ENABLE && state != PTHREAD_CANCEL_DISABLE)
        return EINVAL;
    cancel_state was = self->set_cancel_state(cancel_state(state));
    if (old)
        *old = int(was);
    if (self->type() == cancel_type::asynchronous && self->cancel_due())
        hooks::act_on_cancel(self);
    return 0;
}

GREEN_HOOK int pthread_setcanceltype(int type, int* old)
{
    green_thread* self = green_thread::current();
    if (!self)
        return GREEN_REAL(pthread_setcanceltype)(type, old);
    if (type != PTHREAD_CANCEL_DEFERRED && type != PTHREAD_CANCEL_ASYNCHRONOUS)
        return EINVAL;
    cancel_type was = self->set_cancel_type(cancel_type(type));
    if (old)
        *old = int(was);
    if (type == PTHREAD_CANCEL_ASYNCHRONOUS && self->cancel_due())
        hooks::act_on_cancel(self);
    return 0;
}

GREEN_HOOK void pthread_testcancel(void)
{
    if (green_thread::current())
        hooks::test_cancel();
    else
        GREEN_REAL(pthread_testcancel)();
}

GREEN_HOOK void __pthread_register_cancel(__pthread_unwind_buf_t* buf)
{
    green_thread* self = green_thread::current();
    if (!self)
        return GREEN_REAL(__pthread_register_cancel)(buf);
    previous_record(buf) = self->cleanup_top();
    self->set_cleanup_top(buf);
}

GREEN_HOOK void __pthread_unregister_cancel(__pthread_unwind_buf_t* buf)
{
    green_thread* self = green_thread::current();
    if (!self)
        return GREEN_REAL(__pthread_unregister_cancel)(buf);
    self->set_cleanup_top(previous_record(buf));
}

GREEN_HOOK void __pthread_register_cancel_defer(__pthread_unwind_buf_t* buf)
{
    green_thread* self = green_thread::current();
    if (!self)
        return GREEN_REAL(__pthread_register_cancel_defer)(buf);
    previous_record(buf) = self->cleanup_top();
    buf->__pad[2] = reinterpret_cast<void*>(std::intptr_t(self->type()));
    self->set_cancel_type(cancel_type::deferred);
    self->set_cleanup_top(buf);
}

GREEN_HOOK void __pthread_unregister_cancel_restore(__pthread_unwind_buf_t* buf)
{
    green_thread* self = green_thread::current();
    if (!self)
        return GREEN_REAL(__pthread_unregister_cancel_restore)(buf);
    self->set_cleanup_top(previous_record(buf));
    auto type = cancel_type(reinterpret_cast<std::intptr_t>(buf->__pad[2]));
    self->set_cancel_type(type);
    if (type == cancel_type::asynchronous && self->cancel_due())
        hooks::act_on_cancel(self);
}

GREEN_HOOK void __pthread_unwind_next(__pthread_unwind_buf_t* buf)
{
    green_thread* self = green_thread::current();
    if (!self)
        GREEN_REAL(__pthread_unwind_next)(buf);
    self->set_cleanup_top(previous_record(buf));
    self->continue_exit();
}
