#include "hub.hpp"

#include "fd_table.hpp"
#include "log.hpp"
#include "overflow.hpp"
#include "tcb.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <new>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define GREEN_ASAN 1
#endif

namespace green {

__thread thread_state tls __attribute__((tls_model("initial-exec")));
runtime_stats stats;

namespace {

// The hub's own context runs libuv callbacks and the scheduler, never program code.
constexpr std::size_t hub_stack_size = 256 * 1024;
constexpr int poller_batch = 256;
// The tokens of the hub's own fds in its epoll set. A program fd's is its slot's generation
// << 32 | fd (fd_table), whose low half is never above INT_MAX.
constexpr std::uint64_t token_timer = 0xffffffffu;
constexpr std::uint64_t token_wakeup = 0xfffffffeu;
constexpr std::uint64_t token_libuv = 0xfffffffdu;
constexpr std::uint64_t poll_interval_ns = 20000;

// Switches from one fiber to another, telling AddressSanitizer which stack becomes current so
// that it follows the switch. `from_dies`: `from` will never run again (its stack is freed).
//
// Before the switch, `to`'s TCB is told that `to` runs there, on this hub's OS thread (and the
// kernel tid glibc reads from a green thread's own TCB is this thread's), so that both stay
// right after a hub moves to another OS thread. With the FS base change they take a yield
// round trip from 41 to 48 ns (bench_runtime, "fibers with TCBs of their own").
void* switch_fibers(fiber* from, fiber* to, void* transfer, bool from_dies = false)
{
    if (!to->own_tcb) {
        // It shares the TCB of whichever OS thread runs its hub now: a hub may have moved to
        // another thread since `to` last ran (hand_over_to_new_thread).
        to->tp = to->home->os_tp();
        to->ts = tcb::in(to->tp, tls);
    }
    to->ts->running = to;
    to->ts->os_tp = to->own_tcb ? to->home->os_tp() : nullptr;
    if (to->own_tcb)
        tcb::set_tid(to->tp, to->home->os_tid());
#ifdef GREEN_ASAN
    __sanitizer_start_switch_fiber(from_dies ? nullptr : &from->asan_fake_stack, to->stk.limit,
                                   to->stk.usable_size());
#else
    (void)from_dies;
#endif
    void* t = switch_context(from->ctx, to->ctx, transfer, to->tp != from->tp ? to->tp : nullptr);
#ifdef GREEN_ASAN
    __sanitizer_finish_switch_fiber(from->asan_fake_stack, nullptr, nullptr);
#endif
    return t;
}

void entered_fresh_context()
{
#ifdef GREEN_ASAN
    __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
}

// The root fiber runs on the thread's own stack; its bounds matter to AddressSanitizer and to
// the overflow check.
void describe_thread_stack(stack& s)
{
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return;
    void* base = nullptr;
    std::size_t size = 0;
    if (pthread_attr_getstack(&attr, &base, &size) == 0)
        s = adopt_stack(base, size);
    pthread_attr_destroy(&attr);
}

// Runs the thread's hub teardown when the thread exits. The main thread's hub is left to the
// process exit: other threads may still be running then, and exit() closes every fd anyway.
struct hub_teardown {
    ~hub_teardown()
    {
        if (syscall(SYS_gettid) != getpid())
            hub::destroy_for_this_thread();
    }
};
thread_local hub_teardown teardown_at_thread_exit;

// The list of every hub (hub::next_hub_). Held across fork by hub::before_fork, so that the
// child never sees it half-changed.
spinlock hubs_lock;
hub* all_hubs = nullptr;

}  // namespace

hub* hub::for_this_thread()
{
    if (tls.home)
        return tls.home;
    internal_scope scope;
    hub* h = new (std::nothrow) hub();
    if (!h) {
        errno = EAGAIN;
        return nullptr;
    }
    if (!h->init()) {
        int saved = errno;
        delete h;
        errno = saved;
        return nullptr;
    }
    {
        spinlock_guard g(hubs_lock);
        h->next_hub_ = all_hubs;
        if (all_hubs)
            all_hubs->prev_hub_ = h;
        all_hubs = h;
    }
    tls.home = h;
    tls.running = h->root_;
    (void)&teardown_at_thread_exit;  // constructs it, registering its destructor
    count_event(stats.hubs);
    return h;
}

void hub::before_fork()
{
    hubs_lock.lock();
}

void hub::after_fork_in_parent()
{
    hubs_lock.unlock();
}

void hub::abandon_after_fork()
{
    internal_scope scope;
    // The threads that held the fd table's locks or waited on its fds are gone; the parent's
    // epoll sets keep their registrations.
    fd_table::forget_every_hub_after_fork();
    for (hub* h = all_hubs; h; h = h->next_hub_)
        h->abandon();
    all_hubs = nullptr;
    // Taken by before_fork in the parent, or by a thread that the child does not have (a fork
    // that ran no pthread_atfork handlers): either way nobody in the child holds it.
    hubs_lock.release_after_fork();
    forget_queued_values_after_fork();
    // The flow that forked is the child's only one. A green thread keeps its identity (its
    // pthread_t, keys, owned mutexes); it has no hub until it blocks (hub::init adopts it).
    fiber* f = tls.running;
    tls.home = nullptr;
    if (f && !f->is_hub) {
        // The child's one thread has the forking green thread's mask, not the census of its
        // parent's hub; signals pending for that thread are not the child's (fork(2)).
        sigbits kernel_mask = 0;
        syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &kernel_mask, sizeof kernel_mask);
        apply_kernel_mask_change(kernel_mask, f->sigmask);
        f->sig_pending.store(0, std::memory_order_relaxed);
    }
    if (f && (f->is_hub || f->is_root))
        tls.running = nullptr;
}

void hub::abandon()
{
    abandoned_ = true;
    track_fd_slots(false);
    // The child's copies of the hub's fds, libuv's own among them; the parent's stay open.
    for (int* slot : {&poller_fd_, &wakeup_fd_, timers_.fd_slot(), &loop_.backend_fd,
                      &loop_.async_io_watcher.fd, &loop_.signal_pipefd[0],
                      &loop_.signal_pipefd[1]}) {
        fd_table::release_runtime_fd(*slot);
        *slot = -1;
    }
    // The hub object stays as it is: its loop and fibers are never run again.
}

bool hub::init()
{
    fd_table::adoption_recorder made;
    if (uv_loop_init(&loop_) != 0) {
        errno = EMFILE;
        return false;
    }
    // Fds libuv made in uv_loop_init other than the loop's own are its process-wide signal
    // lock pipe (the first loop only): never used by the runtime, a dup2 may take them.
    for (int fd : made)
        if (fd != loop_.backend_fd && fd != loop_.async_io_watcher.fd && fd != loop_.async_wfd &&
            fd != loop_.signal_pipefd[0] && fd != loop_.signal_pipefd[1])
            fd_table::mark_runtime_fd_disposable(fd);
    loop_.data = this;

    poller_fd_ = fd_table::adopt_runtime_fd(epoll_create1(EPOLL_CLOEXEC));
    wakeup_fd_ = fd_table::adopt_runtime_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    int timer_fd = timers_.open();
    if (poller_fd_ < 0 || wakeup_fd_ < 0 || timer_fd < 0)
        return false;

    // The hub waits in its own epoll set, which holds the program's fds, the timer, the
    // wake-up eventfd and libuv's set (the resolver's sockets and timers): a wait that ends for
    // a program's fd is one epoll_wait. Level-triggered: each is drained when it fires.
    struct own {
        int fd;
        std::uint64_t token;
    };
    for (const own& o : {own{timer_fd, token_timer}, own{wakeup_fd_, token_wakeup},
                         own{loop_.backend_fd, token_libuv}}) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = o.token;
        internal_scope scope;
        if (epoll_ctl(poller_fd_, EPOLL_CTL_ADD, o.fd, &ev) != 0)
            return false;
    }

    os_tp_ = tcb::current();
    os_tid_ = int(syscall(SYS_gettid));
    hub_fiber_.is_hub = true;
    hub_fiber_.home = this;
    hub_fiber_.tp = os_tp_;
    hub_fiber_.ts = &tls;
    if (!allocate_stack(hub_stack_size, hub_fiber_.stk))
        return false;
    hub_fiber_.ctx = make_context(hub_fiber_.stk.top, &hub::hub_main, this);

    sigbits kernel_mask = 0;
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &kernel_mask, sizeof kernel_mask);
    if (tls.running) {
        // A green thread that forked, now the only thread of the child: it stays the thread it
        // was and becomes this hub's root (without is_root: its owner id must not change).
        root_ = tls.running;
        root_->home = this;
        root_->tp = os_tp_;  // its own TCB, the child's only thread's now
        root_->ts = &tls;
        root_->state = fiber_state::running;
        root_->member = false;
        // What the kernel has: the forker's own mask (abandon_after_fork), and any change the
        // child made before it had a hub (those go to the kernel alone).
        root_->sigmask = kernel_mask & ~never_blocked;
        live_fibers_ = 1;
    } else {
        root_ = new (std::nothrow) fiber();
        if (!root_)
            return false;
        root_->is_root = true;
        root_->home = this;
        root_->tp = os_tp_;
        root_->ts = &tls;
        root_->id = next_fiber_id_++;
        root_->state = fiber_state::running;
        root_->sigmask = kernel_mask & ~never_blocked;
        describe_thread_stack(root_->stk);
        live_fibers_ = 1;
    }
    join_census(root_);
    apply_kernel_mask_change(kernel_mask, census_.blocked_by_all());

    ensure_overflow_stack_for_this_thread();
    track_fd_slots(true);
    return true;
}

void hub::track_fd_slots(bool track)
{
    for (int* slot : {&poller_fd_, &wakeup_fd_, timers_.fd_slot(), &loop_.backend_fd,
                      &loop_.async_io_watcher.fd, &loop_.async_wfd, &loop_.signal_pipefd[0],
                      &loop_.signal_pipefd[1]}) {
        if (track)
            fd_table::track_runtime_fd_slot(slot);
        else
            fd_table::untrack_runtime_fd_slot(slot);
    }
}

hub::~hub()
{
    internal_scope scope;
    if (resolver_channel && teardown_resolver)
        teardown_resolver(*this);
    track_fd_slots(false);
    fd_table::forget_hub(this);
    if (loop_.data == this) {
        uv_run(&loop_, UV_RUN_NOWAIT);  // the resolver's handles, closed above, finish closing
        uv_loop_close(&loop_);
    }
    fd_table::release_runtime_fd(poller_fd_);
    fd_table::release_runtime_fd(wakeup_fd_);
    if (hub_fiber_.stk.mapping)
        release_stack(hub_fiber_.stk);
    if (root_ && root_->is_root)
        delete root_;
    spinlock_guard g(hubs_lock);
    if (prev_hub_ || all_hubs == this) {
        (prev_hub_ ? prev_hub_->next_hub_ : all_hubs) = next_hub_;
        if (next_hub_)
            next_hub_->prev_hub_ = prev_hub_;
    }
}

void hub::destroy_for_this_thread()
{
    hub* h = tls.home;
    if (!h || tls.running != h->root_ || h->live_fibers_ > 1)
        return;
    tls.home = nullptr;
    tls.running = nullptr;
    delete h;
}

bool hub::hand_over_to_new_thread()
{
    // The hub context is suspended where it last switched to this root; the new thread
    // resumes it from there, as if this root had parked for good. Everything the new thread
    // needs is written before pthread_create, which orders it before the thread starts.
    fiber* old_root = tls.running;
    internal_scope scope;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    old_root->state = fiber_state::finished;  // never resumed; the hub context skips it
    // The old root leaves the census before the new thread can touch it; that thread starts
    // with this one's kernel mask and settles its own (run_handed_over).
    sigbits census_mask = census_.blocked_by_all();
    leave_census(old_root);
    int e = pthread_create(&thread, &attr, &hub::run_handed_over, this);
    pthread_attr_destroy(&attr);
    if (e != 0) {
        old_root->state = fiber_state::running;
        join_census(old_root);
        errno = e;
        return false;
    }
    // Native from here on, this thread has the old root's own mask.
    apply_kernel_mask_change(census_mask, old_root->sigmask);
    // The old root's fiber record stays allocated: the hub context may read its state once
    // more when it resumes. This thread is native from here on: whatever runs during its exit
    // (destructors, cleanup handlers) passes straight to libc.
    tls.home = nullptr;
    tls.running = nullptr;
    tls.native_only = true;
    return true;
}

void* hub::run_handed_over(void* arg)
{
    auto* h = static_cast<hub*>(arg);
    auto* root = new (std::nothrow) fiber();
    if (!root)
        fatal("out of memory handing the hub over to a new thread");
    root->is_root = true;
    root->home = h;
    root->id = h->next_fiber_id_++;
    root->state = fiber_state::running;
    // It only waits for the last green thread: every signal is theirs to take.
    root->sigmask = ~never_blocked;
    describe_thread_stack(root->stk);
    // The hub context and every fiber that shared the old thread's TCB run on this one's now
    // (switch_fibers points such a fiber at its hub's current thread each time it resumes).
    h->os_tp_ = tcb::current();
    h->os_tid_ = int(syscall(SYS_gettid));
    h->hub_fiber_.tp = h->os_tp_;
    h->hub_fiber_.ts = &tls;
    root->tp = h->os_tp_;
    root->ts = &tls;
    h->root_ = root;
    h->root_waits_for_last_fiber_ = true;
    tls.home = h;
    tls.running = root;
    {
        sigbits kernel_mask = 0;
        syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &kernel_mask, sizeof kernel_mask);
        h->join_census(root);
        apply_kernel_mask_change(kernel_mask, h->census_.blocked_by_all());
    }
    {
        internal_scope scope;
        ensure_overflow_stack_for_this_thread();
    }
    while (h->live_fibers_ > 1) {
        root->wake.store(int(wake_reason::waiting), std::memory_order_relaxed);
        h->park(no_deadline, interrupt_mode::never);
    }
    // The last green thread has ended: so does the process, as when a process's last thread
    // calls pthread_exit (atexit handlers run, stdio is flushed).
    std::exit(0);
}

fiber* hub::spawn(fiber_entry entry, void* arg, const spawn_options& options)
{
    fiber* f = new (std::nothrow) fiber();
    if (!f) {
        errno = EAGAIN;
        return nullptr;
    }
    if (options.stack_base) {
        f->stk = adopt_stack(options.stack_base, options.stack_size);
    } else if (!allocate_stack(options.stack_size, f->stk)) {
        delete f;
        errno = EAGAIN;
        return nullptr;
    }
    if (options.own_tcb && tcb::enabled()) {
        f->tp = tcb::acquire(os_tid_);
        if (!f->tp) {
            release_stack(f->stk);
            delete f;
            errno = EAGAIN;
            return nullptr;
        }
        f->own_tcb = true;
        f->ts = tcb::in(f->tp, tls);
        *f->ts = thread_state{};
        f->ts->home = this;
        f->ts->running = f;
    } else {
        f->tp = os_tp_;
        f->ts = hub_fiber_.ts;
    }
    f->home = this;
    f->entry = entry;
    f->arg = arg;
    f->id = next_fiber_id_++;
    f->detached = options.detached;
    f->ctx = make_context(f->stk.top, &hub::fiber_main, f);
    // A new thread starts with its creator's mask (pthread_create(3)).
    fiber* creator = tls.running;
    f->sigmask = creator && creator->home == this && !creator->is_hub ? creator->sigmask
                                                                       : root_->sigmask;
    {
        sigbits census_mask = census_.blocked_by_all();
        join_census(f);
        apply_kernel_mask_change(census_mask, census_.blocked_by_all());
    }
    ++live_fibers_;
    count_event(stats.fibers);
    make_ready(f);
    return f;
}

void hub::fiber_main(void* arg, void* transfer)
{
    entered_fresh_context();
    auto* f = static_cast<fiber*>(arg);
    f->home->arrived(transfer);
    if (f->own_tcb)
        tcb::enter();  // on its own TCB from here on
    else
        errno = 0;     // a new thread's errno; the TCB is shared
    f->entry(f->arg);
    if (f->home->abandoned_ || f == f->home->root_)
        end_forked_thread();
    f->home->finish_running();
}

void hub::end_forked_thread()
{
    // The green thread that forked this child has ended; its thread-specific destructors have
    // run. Threads it made since carry on, as after pthread_exit in main: its hub moves to a
    // new OS thread, which ends the process when the last of them ends. With none left, the
    // child ends as at the end of its last thread: exit(0), atexit handlers and stdio
    // flushing included.
    hub* h = tls.home;
    if (h && h->live_fibers_ > 1 && h->hand_over_to_new_thread()) {
        // Only this OS thread ends; it runs on the ended thread's stack, so glibc's own
        // pthread_exit, which unwinds, cannot end it (README).
        syscall(SYS_exit, 0);
    }
    std::exit(0);
}

void hub::finish_running()
{
    fiber* f = tls.running;
    f->state = fiber_state::finished;
    --live_fibers_;
    {
        sigbits census_mask = census_.blocked_by_all();
        leave_census(f);
        apply_kernel_mask_change(census_mask, census_.blocked_by_all());
        forget_queued_values(f);  // its pending signals end with it
    }
    if (f->joiner)
        try_wake(f->joiner, wake_reason::ready);
    if (live_fibers_ == 1 && root_waits_for_last_fiber_)
        try_wake(root_, wake_reason::ready);
    switch_out(f);
    __builtin_unreachable();
}

void hub::reclaim(fiber* f)
{
    if (f->own_tcb)
        tcb::release(f->tp);
    // A handler may have aimed at it in its last park (note_handler_in_call) and the hub not
    // seen it yet.
    fiber* aimed = f;
    signal_target_.compare_exchange_strong(aimed, nullptr, std::memory_order_relaxed);
    release_stack(f->stk);
    delete f;
}

void hub::join(fiber* f)
{
    while (f->state != fiber_state::finished) {
        fiber* self = tls.running;
        f->joiner = self;
        self->wake.store(int(wake_reason::waiting), std::memory_order_relaxed);
        // The finishing fiber may live on another hub and finish concurrently; re-check after
        // publishing ourselves as its joiner so that its wake-up cannot be missed.
        if (f->state == fiber_state::finished)
            break;
        park(no_deadline, interrupt_mode::never);
    }
    reclaim(f);
}

void hub::detach(fiber* f)
{
    if (f->state == fiber_state::finished)
        reclaim(f);
    else
        f->detached = true;
}

blocking_call_scope::blocking_call_scope() : self_(tls.running)
{
    if (!self_ || self_->is_hub || self_->in_call) {
        self_ = nullptr;  // not a fiber, or a call inside a call: the outer one owns the scope
        return;
    }
    self_->call_signals = 0;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    self_->in_call = true;
}

blocking_call_scope::~blocking_call_scope()
{
    if (!self_)
        return;
    self_->in_call = false;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    self_->call_signals = 0;
}

cancel_point_pause::cancel_point_pause()
{
    if (fiber* f = tls.running) {
        was_ = f->at_cancel_point.load(std::memory_order_relaxed);
        if (was_)
            f->at_cancel_point.store(false, std::memory_order_relaxed);
    }
}

cancel_point_pause::~cancel_point_pause()
{
    if (was_)
        tls.running->at_cancel_point.store(true, std::memory_order_relaxed);
}

void hub::make_ready(fiber* f)
{
    f->state = fiber_state::runnable;
    f->next_ready = nullptr;
    if (ready_tail_)
        ready_tail_->next_ready = f;
    else
        ready_head_ = f;
    ready_tail_ = f;
}

void hub::yield()
{
    fiber* self = tls.running;
    make_ready(self);
    self->saved_errno = errno;
    switch_out(self);
}

wake_reason hub::park(std::uint64_t deadline, interrupt_mode mode)
{
    fiber* self = tls.running;
    if (deadline != no_deadline)
        timers_.add(self, deadline);
    self->interruptible = mode;
    if (mode != interrupt_mode::never) {
        self->prev_parked = nullptr;
        self->next_parked = parked_interruptible_;
        if (parked_interruptible_)
            parked_interruptible_->prev_parked = self;
        parked_interruptible_ = self;
    }
    self->park_count.store(self->park_count.load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
    self->state = fiber_state::parked;
    self->saved_errno = errno;
    count_event(stats.parks);
    // A cancellation requested before this park at a cancellation point ends it at once. The
    // fence pairs with the canceller's: either it sees this fiber waiting and wakes it, or
    // this load sees its request.
    if (self->at_cancel_point.load(std::memory_order_relaxed)) {
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (self->cancel_requested.load(std::memory_order_relaxed))
            try_wake(self, wake_reason::interrupted);
    }
    // A handler that ran since the blocking call began ends this park at once, as it would
    // have ended the system call (one with SA_RESTART only a park that always ends). From here
    // to the switch, handlers see the fiber parked and go through the hub instead.
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (unsigned char bits = self->call_signals; bits && mode != interrupt_mode::never) {
        self->call_signals = 0;
        if ((bits & call_signal_plain) || mode == interrupt_mode::always)
            try_wake(self, wake_reason::interrupted);
    }

    switch_out(self);

    timers_.remove(self);
    if (mode != interrupt_mode::never) {
        if (self->prev_parked)
            self->prev_parked->next_parked = self->next_parked;
        else
            parked_interruptible_ = self->next_parked;
        if (self->next_parked)
            self->next_parked->prev_parked = self->prev_parked;
        self->prev_parked = self->next_parked = nullptr;
    }
    return wake_reason(self->wake.load(std::memory_order_acquire));
}

wake_reason hub::sleep_until(std::uint64_t deadline, interrupt_mode mode)
{
    count_event(stats.sleeps);
    tls.running->wake.store(int(wake_reason::waiting), std::memory_order_relaxed);
    return park(deadline, mode);
}

bool hub::try_wake(fiber* f, wake_reason reason)
{
    hub* h = f->home;
    if (h->abandoned_) [[unlikely]]
        return false;  // a thread of the parent's, absent from this fork child
    int expected = int(wake_reason::waiting);
    if (!f->wake.compare_exchange_strong(expected, int(reason), std::memory_order_acq_rel))
        return false;
    if (tls.home == h)
        h->make_ready(f);
    else
        h->post_remote(f);
    return true;
}

void hub::post_remote(fiber* f)
{
    {
        spinlock_guard g(remote_lock_);
        remote_ready_.push_back(f);
    }
    if (!wakeup_signalled_.exchange(true, std::memory_order_acq_rel)) {
        std::uint64_t one = 1;
        syscall(SYS_write, wakeup_fd_, &one, sizeof one);
    }
}

void hub::note_signal(int sig, bool restart)
{
    // Runs in a signal handler: only lock-free atomics and a raw write.
    noted_signals_.fetch_or(sig_bit(sig), std::memory_order_relaxed);
    if (restart)
        pending_restart_signals_.fetch_add(1, std::memory_order_relaxed);
    else
        pending_signals_.fetch_add(1, std::memory_order_relaxed);
    wakeup_signalled_.store(true, std::memory_order_relaxed);
    std::uint64_t one = 1;
    syscall(SYS_write, wakeup_fd_, &one, sizeof one);
}

void hub::note_handler_in_call(fiber* f, bool restart)
{
    // Runs in a signal handler: only the fiber's own fields, lock-free atomics and a raw write.
    if (!f->in_call)
        return;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (f->state != fiber_state::parked) {
        f->call_signals = f->call_signals | (restart ? call_signal_restart : call_signal_plain);
        return;
    }
    // Between park's look at call_signals and the switch: the hub interrupts it once it is
    // parked for good.
    signal_target_restart_.store(restart, std::memory_order_relaxed);
    signal_target_park_.store(f->park_count.load(std::memory_order_relaxed),
                              std::memory_order_relaxed);
    signal_target_.store(f, std::memory_order_release);
    wakeup_signalled_.store(true, std::memory_order_relaxed);
    std::uint64_t one = 1;
    syscall(SYS_write, wakeup_fd_, &one, sizeof one);
}

void hub::handle_signals()
{
    // As the kernel interrupts one blocked thread per delivered signal, each handler run
    // interrupts one parked fiber: the root (the thread the signal reached) if it is parked,
    // otherwise the most recently parked one.
    if (member_signals_.exchange(false, std::memory_order_acq_rel))
        deliver_member_signals();
    if (held_.load(std::memory_order_relaxed))
        deliver_held_signals();
    // Only a fiber that does not block every signal whose handler ran counts.
    sigbits noted = noted_signals_.exchange(0, std::memory_order_relaxed);
    auto interrupt_one = [this, noted](bool restart) {
        auto eligible = [restart, noted](fiber* f) {
            return (f->interruptible == interrupt_mode::always ||
                    (!restart && f->interruptible == interrupt_mode::unless_restart)) &&
                   (noted == 0 || (f->sigmask & noted) != noted);
        };
        if (root_->state == fiber_state::parked && eligible(root_) &&
            try_wake(root_, wake_reason::interrupted))
            return;
        for (fiber* f = parked_interruptible_; f; f = f->next_parked)
            if (eligible(f) && try_wake(f, wake_reason::interrupted))
                return;
    };
    if (fiber* f = signal_target_.exchange(nullptr, std::memory_order_acquire)) {
        bool restart = signal_target_restart_.load(std::memory_order_relaxed);
        bool same_park = f->park_count.load(std::memory_order_relaxed) ==
                         signal_target_park_.load(std::memory_order_relaxed);
        if (same_park && f->state == fiber_state::parked &&
            (f->interruptible == interrupt_mode::always ||
             (!restart && f->interruptible == interrupt_mode::unless_restart)))
            try_wake(f, wake_reason::interrupted);
    }
    for (unsigned n = pending_signals_.exchange(0, std::memory_order_relaxed); n; --n)
        interrupt_one(false);
    for (unsigned n = pending_restart_signals_.exchange(0, std::memory_order_relaxed); n; --n)
        interrupt_one(true);
}

fiber* hub::next_to_run()
{
    if (!batch_ && ready_head_ && direct_batches_ < max_direct_batches) {
        batch_ = ready_head_;
        ready_head_ = ready_tail_ = nullptr;
        ++direct_batches_;
    }
    if (fiber* f = batch_) {
        batch_ = f->next_ready;
        f->next_ready = nullptr;
        return f;
    }
    return &hub_fiber_;
}

void hub::switch_out(fiber* self)
{
    fiber* to = next_to_run();
    if (to == self) {
        // A yield with nobody else ready: through the hub context all the same, which polls
        // when due and checks this fiber's stack from off it.
        self->next_ready = batch_;
        batch_ = self;
        to = &hub_fiber_;
    }
    if (!to->is_hub)
        to->state = fiber_state::running;
    bool dies = self->state == fiber_state::finished;
    void* transfer = switch_fibers(self, to, self, dies);
    // Resumed. errno lives in the TCB, which this fiber may share with others (the root and
    // the hub context share their OS thread's): it is the one it parked with.
    errno = self->saved_errno;
    arrived(transfer);
}

void hub::switch_to(fiber* to)
{
    to->state = fiber_state::running;
    arrived(switch_fibers(&hub_fiber_, to, &hub_fiber_));
}

void hub::arrived(void* transfer)
{
    tls.slice_began = 0;  // whoever runs now begins a slice (check_slice)
    auto* prev = static_cast<fiber*>(transfer);
    if (!prev || prev->is_hub)
        return;
    int saved = errno;
    if (prev->state != fiber_state::finished)
        check_stack(prev);
    else if (prev->detached)
        reclaim(prev);  // off its stack now
    errno = saved;
}

void hub::check_stack(fiber* f)
{
    if (f->is_root || f->stk.guarded || !f->stk.mapping)
        return;
    if (static_cast<char*>(f->ctx.sp) < static_cast<char*>(f->stk.limit) + 256)
        report_overflow_and_abort(f);
}

void hub::run_ready_batch()
{
    // Only the fibers ready now: those they wake form the next batch. Fibers that park switch
    // straight to the next one (next_to_run) and begin at most max_direct_batches batches
    // themselves before the hub context resumes here, so a fiber that yields in a loop cannot
    // starve I/O and timers.
    if (!batch_) {  // else a fiber handed the hub the rest of its batch
        batch_ = ready_head_;
        ready_head_ = ready_tail_ = nullptr;
    }
    direct_batches_ = 0;
    while (fiber* f = batch_) {
        batch_ = f->next_ready;
        f->next_ready = nullptr;
        switch_to(f);
    }
}

void hub::hub_main(void* arg, void* transfer)
{
    entered_fresh_context();
    auto* h = static_cast<hub*>(arg);
    h->arrived(transfer);
    std::uint64_t last_poll = 0;
    for (;;) {
        h->run_ready_batch();
        if (!h->ready_head_) {
            h->poll(true);  // nothing to run: wait for an event
            last_poll = now_ns();
            continue;
        }
        // Fibers are still ready. Polling between every batch costs ~300 ns (epoll_wait with
        // no timeout), most of a spawn+join; polling at most every poll_interval still bounds
        // how long I/O and timers wait behind busy fibers.
        std::uint64_t now = now_ns();
        if (now - last_poll >= poll_interval_ns) {
            h->poll(false);
            last_poll = now;
        }
    }
}

void hub::poll(bool block)
{
    int timeout = 0;
    if (block) {
        // libuv holds the resolver's handles only; with none it cannot end the wait (and would
        // say 0: a loop with nothing to do). Its clock is brought up to date for its timers.
        timeout = -1;
        if (uv_loop_alive(&loop_)) {
            uv_update_time(&loop_);
            timeout = uv_backend_timeout(&loop_);
        }
    }
    epoll_event events[poller_batch];
    bool libuv_ready = false;
    int n = epoll_wait(poller_fd_, events, poller_batch, timeout);
    for (;;) {
        for (int i = 0; i < n; ++i) {
            switch (events[i].data.u64) {
            case token_timer:
                timers_.run_expired(now_ns(), [](fiber* f) { try_wake(f, wake_reason::timed_out); });
                break;
            case token_wakeup: take_wakeups(); break;
            case token_libuv: libuv_ready = true; break;
            default: fd_table::dispatch(events[i].data.u64, events[i].events); break;
            }
        }
        if (n < poller_batch)
            break;
        n = epoll_wait(poller_fd_, events, poller_batch, 0);
    }
    // libuv runs when its set has events or one of its timers is due (the wait ended at its
    // timeout, or it has work pending).
    if (libuv_ready || (uv_loop_alive(&loop_) && (uv_update_time(&loop_), uv_backend_timeout(&loop_) == 0)))
        uv_run(&loop_, UV_RUN_NOWAIT);
}

void hub::take_wakeups()
{
    std::uint64_t count;
    while (::read(wakeup_fd_, &count, sizeof count) > 0) {
    }
    wakeup_signalled_.store(false, std::memory_order_release);
    std::vector<fiber*> woken;
    {
        spinlock_guard g(remote_lock_);
        woken.swap(remote_ready_);
    }
    for (fiber* f : woken)
        make_ready(f);
    handle_signals();
}

}  // namespace green
