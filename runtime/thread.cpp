#include "thread.hpp"

#include "hub.hpp"
#include "log.hpp"
#include "tcb.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

namespace green {

const char green_thread::marker = 0;
void (*green_thread::cleanup_jumper)(void* record) = nullptr;

namespace {

// Per key: its destructor and a sequence number, odd while the key exists. A value remembers
// the sequence it was set under, so deleting a key forgets every value set under it at once.
struct key_slot {
    std::atomic<std::uint64_t> sequence{0};
    std::atomic<void (*)(void*)> destructor{nullptr};
};
key_slot keys[max_thread_keys];

// "GREEN\0\0\0": the class of the forced unwind that ends a green thread.
constexpr _Unwind_Exception_Class exit_exception_class = 0x475245454e000000ull;

void exception_not_rethrown(_Unwind_Reason_Code, _Unwind_Exception*)
{
    // A catch (...) that swallowed the unwinding of an exiting thread, as glibc reports it.
    fatal("FATAL: exception not rethrown (a catch (...) swallowed the end of a green thread)");
}

}  // namespace

green_thread* green_thread::create(hub& h, start_routine start, void* arg,
                                   const thread_options& options, int& error)
{
    auto* t = new (std::nothrow) green_thread();
    if (!t) {
        error = EAGAIN;
        return nullptr;
    }
    t->start_ = start;
    t->arg_ = arg;
    t->detached_ = options.detached;
    t->guard_size_ = options.guard_size;
    if (options.name)
        t->set_name(options.name);

    // The fiber is always detached from the hub's point of view: the hub frees it and its
    // stack when it ends, while this object keeps what a joiner needs.
    spawn_options spawn{options.stack_size, options.stack_base, /*detached=*/true,
                        options.own_tcb};
    fiber* f = h.spawn(&green_thread::run, t, spawn);
    if (!f) {
        delete t;
        error = EAGAIN;
        return nullptr;
    }
    f->thread = t;
    t->fiber_ = f;
    t->stack_low_ = f->stk.limit;
    t->stack_size_ = f->stk.usable_size();
    return t;
}

green_thread::~green_thread()
{
    std::free(values_);
}

void green_thread::run(void* arg)
{
    green_thread* volatile self = static_cast<green_thread*>(arg);
    // exit() unwinds the stack down to this frame and comes back here.
    self->exit_frame_ = __builtin_frame_address(0);
    if (__builtin_setjmp(self->exit_jump_) == 0)
        self->result_ = self->start_(self->arg_);
    self->finish();
}

void green_thread::finish()
{
    // As glibc: no cancellation while the thread's destructors run.
    state_ = cancel_state::disable;
    fiber_->cancel_requested.store(false, std::memory_order_relaxed);
    // As glibc's start_thread: C++ thread_local destructors first, then the keys'.
    if (fiber_->own_tcb)
        tcb::leave();
    run_key_destructors();
    fiber_->thread = nullptr;

    lock_.lock();
    ended_ = true;
    bool free_now = detached_;
    ended_cv_.broadcast();
    lock_.unlock();
    // Not detached: a joiner may free this object as soon as the lock is released.
    if (free_now)
        delete this;
}

int green_thread::join(void** result, std::uint64_t deadline, bool try_only)
{
    green_thread* self = current();
    if (self == this)
        return EDEADLK;
    std::uint64_t me = current_flow_id();
    lock_.lock();
    if (try_only && !ended_) {  // glibc looks at this before anything else
        lock_.unlock();
        return EBUSY;
    }
    if (detached_ || (joiner_ != 0 && joiner_ != me)) {
        lock_.unlock();
        return EINVAL;
    }
    if (self && joining_ == self) {  // it waits for the caller: neither would ever end
        lock_.unlock();
        return EDEADLK;
    }
    if (!ended_) {
        if (try_only) {
            lock_.unlock();
            return EBUSY;
        }
        joiner_ = me;
        if (self)
            self->joining_ = this;
        while (!ended_) {
            int e = ended_cv_.wait(lock_, deadline);
            if (ended_)
                break;
            if (e == ETIMEDOUT || (e == EINTR && self && self->cancel_due())) {
                joiner_ = 0;
                if (self)
                    self->joining_ = nullptr;
                lock_.unlock();
                return e;
            }
        }
        if (self)
            self->joining_ = nullptr;
    }
    void* r = result_;
    lock_.unlock();
    if (result)
        *result = r;
    delete this;
    return 0;
}

int green_thread::detach()
{
    lock_.lock();
    if (detached_ || joiner_ != 0) {
        lock_.unlock();
        return EINVAL;
    }
    if (ended_) {
        lock_.unlock();
        delete this;
        return 0;
    }
    detached_ = true;
    lock_.unlock();
    return 0;
}

void green_thread::exit(void* result)
{
    result_ = result;
    exiting_ = true;
    state_ = cancel_state::disable;
    fiber_->cancel_requested.store(false, std::memory_order_relaxed);
    unwind();
}

void green_thread::continue_exit()
{
    unwind();
}

void green_thread::unwind()
{
    // A forced unwind, as glibc's pthread_exit makes: every frame's C++ destructors run and
    // catch (...) blocks see it (and must rethrow); unwind_stop stops it at the thread's
    // newest C cleanup record, or at run().
    exception_.exception_class = exit_exception_class;
    exception_.exception_cleanup = &exception_not_rethrown;
    _Unwind_ForcedUnwind(&exception_, &green_thread::unwind_stop, this);
    fatal("cannot unwind the stack of an exiting green thread (code without unwind tables?)");
}

_Unwind_Reason_Code green_thread::unwind_stop(int, _Unwind_Action actions, _Unwind_Exception_Class,
                                              _Unwind_Exception*, _Unwind_Context* context,
                                              void* parameter)
{
    auto* self = static_cast<green_thread*>(parameter);
    bool end = (actions & _UA_END_OF_STACK) != 0;
    auto cfa = static_cast<std::uintptr_t>(_Unwind_GetCFA(context));
    // A cleanup record lives in the frame that registered it, below that frame's CFA: once
    // the frame being unwound has its CFA above the record, that frame is the registering
    // one, and its handler runs before the frame goes (glibc compares the saved stack pointer
    // instead; the record's own address orders the same way).
    if (void* record = self->cleanup_top_;
        record && cleanup_jumper && (end || cfa > reinterpret_cast<std::uintptr_t>(record)))
        cleanup_jumper(record);
    if (end || cfa > reinterpret_cast<std::uintptr_t>(self->exit_frame_))
        __builtin_longjmp(self->exit_jump_, 1);
    return _URC_NO_REASON;
}

void green_thread::request_cancel()
{
    cancel_pending_.store(true, std::memory_order_release);
    if (state_ != cancel_state::enable || exiting_)
        return;
    fiber_->cancel_requested.store(true, std::memory_order_relaxed);
    // Pairs with the fence in hub::park: the target either is seen at its cancellation point
    // here or sees the request there.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (fiber_->at_cancel_point.load(std::memory_order_relaxed))
        hub::try_wake(fiber_, wake_reason::interrupted);
}

cancel_state green_thread::set_cancel_state(cancel_state s)
{
    cancel_state old = state_;
    if (exiting_)
        return old;
    state_ = s;
    fiber_->cancel_requested.store(s == cancel_state::enable && cancel_pending(),
                                   std::memory_order_relaxed);
    return old;
}

cancel_type green_thread::set_cancel_type(cancel_type t)
{
    cancel_type old = type_;
    type_ = t;
    return old;
}

void green_thread::key_created(unsigned key, void (*destructor)(void*))
{
    if (key >= max_thread_keys)
        return;
    keys[key].destructor.store(destructor, std::memory_order_relaxed);
    std::uint64_t s = keys[key].sequence.load(std::memory_order_relaxed);
    keys[key].sequence.store(s | 1, std::memory_order_release);  // odd: in use
    if (s & 1)  // created again without a delete we saw: forget the old values anyway
        keys[key].sequence.store(s + 2, std::memory_order_release);
}

void green_thread::key_deleted(unsigned key)
{
    if (key >= max_thread_keys)
        return;
    keys[key].destructor.store(nullptr, std::memory_order_relaxed);
    std::uint64_t s = keys[key].sequence.load(std::memory_order_relaxed);
    if (s & 1)
        keys[key].sequence.store(s + 1, std::memory_order_release);
}

void* green_thread::specific(unsigned key) const
{
    if (key >= values_size_)
        return nullptr;
    const key_value& kv = values_[key];
    return kv.sequence == keys[key].sequence.load(std::memory_order_acquire) ? kv.value : nullptr;
}

int green_thread::set_specific(unsigned key, const void* value)
{
    if (key >= max_thread_keys)
        return EINVAL;
    std::uint64_t s = keys[key].sequence.load(std::memory_order_acquire);
    if (!(s & 1))
        return EINVAL;
    if (key >= values_size_) {
        if (!value)
            return 0;  // nothing stored reads as null already
        unsigned size = values_size_ ? values_size_ : 32;
        while (size <= key)
            size *= 2;
        if (size > max_thread_keys)
            size = max_thread_keys;
        void* grown = std::realloc(values_, size * sizeof(key_value));
        if (!grown)
            return ENOMEM;
        values_ = static_cast<key_value*>(grown);
        std::memset(values_ + values_size_, 0, (size - values_size_) * sizeof(key_value));
        values_size_ = size;
    }
    values_[key] = key_value{s, const_cast<void*>(value)};
    return 0;
}

void green_thread::run_key_destructors()
{
    // As POSIX: each non-null value under a key with a destructor is set to null and the
    // destructor called with it; repeated while destructors set values again, at most
    // destructor_iterations rounds.
    for (unsigned round = 0; round < destructor_iterations; ++round) {
        bool ran = false;
        for (unsigned k = 0; k < values_size_; ++k) {
            key_value& kv = values_[k];
            if (!kv.value)
                continue;
            void* value = kv.value;
            kv.value = nullptr;
            if (kv.sequence != keys[k].sequence.load(std::memory_order_acquire))
                continue;
            if (auto destructor = keys[k].destructor.load(std::memory_order_relaxed)) {
                destructor(value);
                ran = true;
            }
        }
        if (!ran)
            break;
    }
}

void green_thread::set_name(const char* name)
{
    std::size_t n = std::strlen(name);
    if (n > thread_name_size - 1)
        n = thread_name_size - 1;
    std::memcpy(name_, name, n);
    name_[n] = 0;
}

}  // namespace green
