#include "futex.hpp"

#include "hub.hpp"
#include "wait_queue.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <new>
#include <csignal>
#include <linux/futex.h>
#include <thread>

namespace green::futex {

namespace {

long sys6(long number, long a1, long a2, long a3, long a4, long a5, long a6)
{
    long ret;
    register long r10 asm("r10") = a4;
    register long r8 asm("r8") = a5;
    register long r9 asm("r9") = a6;
    asm volatile("syscall"
                 : "=a"(ret)
                 : "0"(number), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                 : "rcx", "r11", "memory");
    return ret;
}

// A fiber parked in the registry, on its own stack. `key` (the futex address) and the links
// change only under the lock of the bucket `key` hashes to; a requeue holds both buckets' locks
// and changes `key`, so a waiter that leaves re-reads it after locking.
enum : std::uint32_t {
    queued = 0,
    claimed = 1,   // unlinked by a waker, whose try_wake is under way
    released = 2,  // the waker's try_wake failed (the fiber was awake already) and it let go
};

struct registered_waiter {
    registered_waiter* prev = nullptr;
    registered_waiter* next = nullptr;  // the bucket's list; once claimed, the waker's chain
    std::atomic<std::uintptr_t> key{0};
    std::uint32_t bitset = 0;
    fiber* green = nullptr;
    std::atomic<std::uint32_t> state{queued};
};

struct bucket {
    spinlock lock;
    registered_waiter* head = nullptr;
    registered_waiter* tail = nullptr;

    void push_back(registered_waiter& w)
    {
        w.next = nullptr;
        w.prev = tail;
        if (tail)
            tail->next = &w;
        else
            head = &w;
        tail = &w;
    }
    void remove(registered_waiter& w)
    {
        if (w.prev)
            w.prev->next = w.next;
        else
            head = w.next;
        if (w.next)
            w.next->prev = w.prev;
        else
            tail = w.prev;
        w.prev = w.next = nullptr;
    }
};

constexpr unsigned bucket_bits = 10;
bucket buckets[1u << bucket_bits];

bucket& bucket_of(std::uintptr_t key)
{
    return buckets[((key >> 2) * 0x9e3779b97f4a7c15ull) >> (64 - bucket_bits)];
}

std::uintptr_t address_of(const std::uint32_t* uaddr)
{
    return reinterpret_cast<std::uintptr_t>(uaddr);
}

// Keys of the shared operations are apart from the private ones', as in the kernel, where a
// FUTEX_WAKE does not wake a FUTEX_WAIT_PRIVATE on the same word. User addresses stay below 2^47.
std::uintptr_t key_of(const std::uint32_t* uaddr, bool shared)
{
    return address_of(uaddr) | (shared ? std::uintptr_t(1) << 63 : 0);
}

// Memory no other process can reach a futex in: a private anonymous page (a written page of
// a private file mapping is one too). The kernel keys a shared futex there by this process's
// mm, as it does a private one, so no other process can wake it (a fork child's copy has its
// own mm) and a shared operation on it may use the registry: libstdc++'s std::future waits so
// on its shared state. The brk heap is such memory throughout, so it is told by its bounds;
// elsewhere /proc/self/pagemap tells (bit 63: present; bit 61: a file or shared page), read
// with raw system calls and an fd that is closed again, so the program's fds are not touched.
std::atomic<std::uintptr_t> heap_start{0};  // 0: not read yet; UINTPTR_MAX: unknown

long read_proc(const char* path, std::uint64_t offset, void* buf, std::size_t n)
{
    long fd = sys6(SYS_open, long(path), O_RDONLY | O_CLOEXEC, 0, 0, 0, 0);
    if (fd < 0)
        return fd;
    long r = sys6(SYS_pread64, fd, long(buf), long(n), long(offset), 0, 0);
    sys6(SYS_close, fd, 0, 0, 0, 0, 0);
    return r;
}

std::uintptr_t read_heap_start()
{
    char buf[2048];
    long n = read_proc("/proc/self/stat", 0, buf, sizeof buf - 1);
    if (n <= 0)
        return UINTPTR_MAX;
    buf[n] = '\0';
    char* p = std::strrchr(buf, ')');  // the command name may hold spaces and parentheses
    // After ") " come fields 3, 4, ...: start_brk is field 47.
    for (int field = 2; field < 47 && p; ++field)
        p = std::strchr(p + 1, ' ');
    if (!p)
        return UINTPTR_MAX;
    std::uintptr_t start = std::strtoull(p + 1, nullptr, 10);
    return start ? start : UINTPTR_MAX;
}

bool process_private(const std::uint32_t* uaddr)
{
    std::uintptr_t start = heap_start.load(std::memory_order_relaxed);
    if (start == 0) {
        start = read_heap_start();
        heap_start.store(start, std::memory_order_relaxed);
    }
    std::uintptr_t a = address_of(uaddr);
    if (start != UINTPTR_MAX && a >= start && a < reinterpret_cast<std::uintptr_t>(sbrk(0)))
        return true;
    std::uint64_t entry = 0;
    if (read_proc("/proc/self/pagemap", (a / 4096) * sizeof entry, &entry, sizeof entry) !=
        long(sizeof entry))
        return false;
    return (entry >> 63 & 1) && !(entry >> 61 & 1);
}

// Claims up to `n` waiters on `key` whose bitset meets `bitset`, in FIFO order, chained
// through `next`. Under b.lock.
registered_waiter* claim(bucket& b, std::uintptr_t key, std::uint32_t bitset, int n)
{
    registered_waiter* chain = nullptr;
    registered_waiter** last = &chain;
    for (registered_waiter* w = b.head; w && n > 0;) {
        registered_waiter* next = w->next;
        if (w->key.load(std::memory_order_relaxed) == key && (w->bitset & bitset) != 0) {
            b.remove(*w);
            w->state.store(claimed, std::memory_order_relaxed);
            *last = w;
            last = &w->next;
            --n;
        }
        w = next;
    }
    return chain;
}

// Wakes a claimed chain once its bucket is unlocked; returns how many it held. A waiter that
// was awake already (timed out, interrupted) still counts: it was dequeued by this wake and
// returns 0, as the kernel's FUTEX_WAIT does then.
long deliver(registered_waiter* chain)
{
    long count = 0;
    while (chain) {
        registered_waiter* next = chain->next;  // a woken waiter's node may vanish at once
        if (!hub::try_wake(chain->green, wake_reason::ready))
            chain->state.store(released, std::memory_order_release);
        ++count;
        chain = next;
    }
    return count;
}

// Takes `w` off its bucket if still queued (it gave up); false if a waker claimed it first.
bool unqueue(registered_waiter& w)
{
    for (;;) {
        std::uintptr_t key = w.key.load(std::memory_order_acquire);
        bucket& b = bucket_of(key);
        spinlock_guard g(b.lock);
        if (w.key.load(std::memory_order_relaxed) != key)
            continue;  // requeued meanwhile
        if (w.state.load(std::memory_order_relaxed) != queued)
            return false;
        b.remove(w);
        return true;
    }
}

// ---- shared futexes: a helper thread waits in the kernel ----

struct shared_wait {
    std::uint32_t* uaddr;
    std::uint32_t val;
    clockid_t clock;
    bool timed;
    timespec deadline;  // absolute on `clock`
    std::atomic<std::uint32_t> cancel{0};
    fiber* waiter = nullptr;
    long result = 0;
    std::atomic<bool> done{false};
    std::atomic<bool> let_go{false};  // the helper's try_wake failed and it touches `this` no more
};

struct helper {
    std::atomic<std::uint32_t> go{0};
    shared_wait* job = nullptr;
    helper* next_idle = nullptr;
};

spinlock helpers_lock;
helper* idle_helpers = nullptr;
std::atomic<int> helper_count{0};
std::atomic<bool> waitv_missing{false};

long waitv(shared_wait& j)
{
    futex_waitv v[2] = {};
    v[0].val = j.val;
    v[0].uaddr = reinterpret_cast<std::uintptr_t>(j.uaddr);
    v[0].flags = FUTEX_32;
    v[1].val = 0;
    v[1].uaddr = reinterpret_cast<std::uintptr_t>(&j.cancel);
    v[1].flags = FUTEX_32 | FUTEX_PRIVATE_FLAG;
    for (;;) {
        long r = sys6(SYS_futex_waitv, long(v), 2, 0, j.timed ? long(&j.deadline) : 0,
                      long(j.clock), 0);
        if (r == 0)
            return 0;
        if (r == 1 || (r == -EAGAIN && j.cancel.load(std::memory_order_acquire) != 0))
            return -EINTR;
        if (r != -EINTR)  // the helper blocks every signal; a stop and continue still ends a wait
            return r;
    }
}

void helper_main(helper* h)
{
    tls.native_only = true;
    sigset_t all;
    sigfillset(&all);
    sys6(SYS_rt_sigprocmask, SIG_SETMASK, long(&all), 0, _NSIG / 8, 0, 0);
    for (;;) {
        while (h->go.load(std::memory_order_acquire) == 0)
            raw(reinterpret_cast<std::uint32_t*>(&h->go), FUTEX_WAIT_PRIVATE, 0, nullptr,
                nullptr, 0);
        h->go.store(0, std::memory_order_relaxed);
        shared_wait* j = h->job;
        j->result = waitv(*j);
        fiber* waiter = j->waiter;
        j->done.store(true, std::memory_order_seq_cst);
        if (!hub::try_wake(waiter, wake_reason::ready))
            j->let_go.store(true, std::memory_order_release);
        spinlock_guard g(helpers_lock);
        h->next_idle = idle_helpers;
        idle_helpers = h;
    }
}

helper* take_helper()
{
    {
        spinlock_guard g(helpers_lock);
        if (helper* h = idle_helpers) {
            idle_helpers = h->next_idle;
            return h;
        }
    }
    // std::thread calls pthread_create, which must reach libc, not make a green thread.
    internal_scope scope;
    helper* h = new helper();
    try {
        std::thread(helper_main, h).detach();
    } catch (...) {
        delete h;
        return nullptr;
    }
    helper_count.fetch_add(1, std::memory_order_relaxed);
    return h;
}

long wait_shared(std::uint32_t* uaddr, std::uint32_t val, clockid_t clock, const timespec* abs,
                 bool restartable)
{
    // The kernel compares again, atomically; this only spares a helper the trip.
    if (__atomic_load_n(uaddr, __ATOMIC_SEQ_CST) != val)
        return -EAGAIN;
    helper* h = waitv_missing.load(std::memory_order_relaxed) ? nullptr : take_helper();
    if (!h) {
        // No helper (or no futex_waitv before Linux 5.16): wait in place, blocking the hub.
        int op = FUTEX_WAIT_BITSET | (clock == CLOCK_REALTIME ? FUTEX_CLOCK_REALTIME : 0);
        return raw(uaddr, op, val, abs, nullptr, FUTEX_BITSET_MATCH_ANY);
    }
    shared_wait j{uaddr, val, clock, abs != nullptr, abs ? *abs : timespec{}};
    fiber* self = tls.running;
    j.waiter = self;
    self->wake.store(int(wake_reason::waiting), std::memory_order_seq_cst);
    h->job = &j;
    h->go.store(1, std::memory_order_release);
    raw(reinterpret_cast<std::uint32_t*>(&h->go), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);

    count_event(stats.futex_waits);
    interrupt_mode mode = restartable ? interrupt_mode::unless_restart : interrupt_mode::always;
    for (;;) {
        wake_reason r = tls.home->park(no_deadline, mode);
        if (r == wake_reason::ready && j.done.load(std::memory_order_seq_cst))
            break;  // the helper's own wake-up: it has let go of `j`
        if (r == wake_reason::interrupted && mode != interrupt_mode::never) {
            // A handler ran: end the kernel wait; its answer (woken first, or cancelled) stands.
            mode = interrupt_mode::never;
            j.cancel.store(1, std::memory_order_release);
            raw(reinterpret_cast<std::uint32_t*>(&j.cancel), FUTEX_WAKE_PRIVATE, 1, nullptr,
                nullptr, 0);
        }
        // Exactly one of us claims the wake-up once the helper is done: we do (and wait for it
        // to let go), or it did (and we park to consume it).
        self->wake.store(int(wake_reason::waiting), std::memory_order_seq_cst);
        int expected = int(wake_reason::waiting);
        if (j.done.load(std::memory_order_seq_cst) &&
            self->wake.compare_exchange_strong(expected, int(wake_reason::ready))) {
            while (!j.let_go.load(std::memory_order_acquire))
                __builtin_ia32_pause();
            break;
        }
    }
    if (j.result == -ENOSYS) {
        waitv_missing.store(true, std::memory_order_relaxed);
        int op = FUTEX_WAIT_BITSET | (clock == CLOCK_REALTIME ? FUTEX_CLOCK_REALTIME : 0);
        return raw(uaddr, op, val, abs, nullptr, FUTEX_BITSET_MATCH_ANY);
    }
    return j.result;
}

bool valid(const timespec& t)
{
    return t.tv_sec >= 0 && t.tv_nsec >= 0 && t.tv_nsec < 1000000000L;
}

}  // namespace

long raw(std::uint32_t* uaddr, int op, std::uint32_t val, const void* timeout_or_val2,
         std::uint32_t* uaddr2, std::uint32_t val3)
{
    return sys6(SYS_futex, long(uaddr), op, long(val), long(timeout_or_val2), long(uaddr2),
                long(val3));
}

long registry_wait(std::uint32_t* uaddr, std::uint32_t val, std::uint32_t bitset,
                   std::uint64_t deadline, bool restartable, bool shared)
{
    registered_waiter w;
    w.key.store(key_of(uaddr, shared), std::memory_order_relaxed);
    w.bitset = bitset;
    w.green = tls.running;
    bucket& b = bucket_of(key_of(uaddr, shared));
    {
        spinlock_guard g(b.lock);
        // Under the lock: a green waker changes the word before it takes this lock, so it
        // either finds this waiter queued or this load sees its change.
        if (__atomic_load_n(uaddr, __ATOMIC_SEQ_CST) != val)
            return -EAGAIN;
        w.green->wake.store(int(wake_reason::waiting), std::memory_order_relaxed);
        b.push_back(w);
    }
    count_event(stats.futex_waits);
    wake_reason r = tls.home->park(
        deadline, restartable ? interrupt_mode::unless_restart : interrupt_mode::always);
    if (r == wake_reason::ready && w.state.load(std::memory_order_acquire) != queued)
        return 0;
    if (unqueue(w)) {
        if (r == wake_reason::timed_out)
            return -ETIMEDOUT;
        if (r == wake_reason::interrupted)
            return -EINTR;
        return 0;  // woken by something that was not a futex wake: the kernel's spurious wake
    }
    // Claimed by a waker on another thread whose try_wake found this fiber awake: it counts
    // this waiter as woken. Wait until it lets go of `w`, a few instructions away.
    for (unsigned spins = 0; w.state.load(std::memory_order_acquire) != released; ++spins) {
        if (spins < 64)
            __builtin_ia32_pause();
        else
            sys6(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
    }
    return 0;
}

long registry_wake(std::uint32_t* uaddr, int n, std::uint32_t bitset, bool shared)
{
    // The kernel wakes one waiter when asked for none or fewer.
    int want = n <= 0 ? 1 : n;
    std::uintptr_t key = key_of(uaddr, shared);
    bucket& b = bucket_of(key);
    registered_waiter* chain;
    {
        spinlock_guard g(b.lock);
        chain = claim(b, key, bitset, want);
    }
    long woken = deliver(chain);
    if (woken < want) {
        // Threads that wait in the kernel on the same word (not green callers) get the rest.
        long r = raw(uaddr, shared ? FUTEX_WAKE_BITSET : FUTEX_WAKE_BITSET_PRIVATE,
                     std::uint32_t(want - woken), nullptr, nullptr, bitset);
        if (r > 0)
            woken += r;
    }
    return woken;
}

long registry_requeue(std::uint32_t* uaddr, std::uint32_t* uaddr2, int nr_wake, int nr_requeue,
                      bool check, std::uint32_t val3, bool shared)
{
    if (nr_wake < 0 || nr_requeue < 0)
        return -EINVAL;
    std::uintptr_t key1 = key_of(uaddr, shared), key2 = key_of(uaddr2, shared);
    bucket& b1 = bucket_of(key1);
    bucket& b2 = bucket_of(key2);
    // Two locks, always taken in address order.
    spinlock* first = &b1.lock < &b2.lock ? &b1.lock : &b2.lock;
    spinlock* second = &b1.lock < &b2.lock ? &b2.lock : &b1.lock;
    registered_waiter* chain;
    long moved = 0;
    {
        spinlock_guard g1(*first);
        if (second != first)
            second->lock();
        if (check && __atomic_load_n(uaddr, __ATOMIC_SEQ_CST) != val3) {
            if (second != first)
                second->unlock();
            return -EAGAIN;
        }
        chain = claim(b1, key1, FUTEX_BITSET_MATCH_ANY, nr_wake);
        // Onto the same word, a requeue moves nobody but still counts them, as the kernel's.
        for (registered_waiter* w = b1.head; w && moved < nr_requeue;) {
            registered_waiter* next = w->next;
            if (w->key.load(std::memory_order_relaxed) == key1 && key1 == key2) {
                ++moved;
            } else if (w->key.load(std::memory_order_relaxed) == key1) {
                b1.remove(*w);
                w->key.store(key2, std::memory_order_release);
                b2.push_back(*w);
                ++moved;
            }
            w = next;
        }
        if (second != first)
            second->unlock();
    }
    long woken = deliver(chain);
    long count = woken + moved;
    if (woken < nr_wake || moved < nr_requeue) {
        // Waiters in the kernel get what is left; it compares *uaddr to val3 again itself.
        int op = (check ? FUTEX_CMP_REQUEUE : FUTEX_REQUEUE) | (shared ? 0 : FUTEX_PRIVATE_FLAG);
        long r = raw(uaddr, op, std::uint32_t(nr_wake - woken),
                     reinterpret_cast<const void*>(std::uintptr_t(nr_requeue - moved)), uaddr2,
                     val3);
        if (r > 0)
            count += r;
    }
    return count;
}

long call(std::uint32_t* uaddr, int op, std::uint32_t val, const void* timeout_or_val2,
          std::uint32_t* uaddr2, std::uint32_t val3)
{
    int cmd = op & FUTEX_CMD_MASK;
    bool is_private = op & FUTEX_PRIVATE_FLAG;
    bool realtime = op & FUTEX_CLOCK_REALTIME;
    if (cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAKE &&
        cmd != FUTEX_WAKE_BITSET && cmd != FUTEX_REQUEUE && cmd != FUTEX_CMP_REQUEUE)
        return raw(uaddr, op, val, timeout_or_val2, uaddr2, val3);
    // The kernel's checks, in its order.
    if (realtime && cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET)
        return -ENOSYS;
    bool waits = cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET;
    const timespec* timeout = waits ? static_cast<const timespec*>(timeout_or_val2) : nullptr;
    if (timeout && !valid(*timeout))
        return -EINVAL;
    std::uint32_t bitset = cmd == FUTEX_WAIT || cmd == FUTEX_WAKE ? FUTEX_BITSET_MATCH_ANY : val3;
    if ((cmd == FUTEX_WAIT_BITSET || cmd == FUTEX_WAKE_BITSET) && bitset == 0)
        return -EINVAL;
    if (address_of(uaddr) % 4 != 0 ||
        ((cmd == FUTEX_REQUEUE || cmd == FUTEX_CMP_REQUEUE) && address_of(uaddr2) % 4 != 0))
        return -EINVAL;

    // A wait needs a hub to park on; a wake never does (glibc's own helper threads wake too).
    if (waits && !hub::for_this_thread())
        return raw(uaddr, op, val, timeout_or_val2, uaddr2, val3);

    // A shared wait that another process could end is the kernel's, made by a helper thread.
    // Shared wakes and requeues go through the registry too, for the waits that are not.
    bool shared = !is_private;
    if (shared && waits && !process_private(uaddr)) {
        if (!timeout)
            return wait_shared(uaddr, val, CLOCK_MONOTONIC, nullptr, true);
        clockid_t clock = realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC;
        timespec abs = *timeout;
        if (cmd == FUTEX_WAIT) {
            // Relative, added to the monotonic clock even when the timer runs on the real-time
            // one (the kernel's futex_init_timeout does that).
            abs = ns_to_timespec(deadline_after(now_ns(), timespec_to_ns(*timeout)));
        }
        return wait_shared(uaddr, val, clock, &abs, false);
    }

    switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
        if (address_of(uaddr) < 4096)
            return -EFAULT;
        std::uint64_t deadline = no_deadline;
        if (timeout) {
            if (cmd == FUTEX_WAIT) {
                std::uint64_t abs = deadline_after(now_ns(), timespec_to_ns(*timeout));
                deadline = realtime ? monotonic_deadline(CLOCK_REALTIME, ns_to_timespec(abs)) : abs;
            } else {
                deadline = monotonic_deadline(realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, *timeout);
            }
        }
        // A handler with SA_RESTART restarts an untimed wait; a timed one returns EINTR.
        return registry_wait(uaddr, val, bitset, deadline, timeout == nullptr, shared);
    }
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET:
        return registry_wake(uaddr, int(val), bitset, shared);
    default:
        return registry_requeue(uaddr, uaddr2, int(val),
                                 int(std::uint32_t(reinterpret_cast<std::uintptr_t>(timeout_or_val2))),
                                 cmd == FUTEX_CMP_REQUEUE, val3, shared);
    }
}

void abandon_after_fork()
{
    for (bucket& b : buckets)
        new (&b) bucket();
    new (&helpers_lock) spinlock();
    idle_helpers = nullptr;  // their threads did not survive; their memory is left
    helper_count.store(0, std::memory_order_relaxed);
}

std::size_t registered(const std::uint32_t* uaddr, bool shared)
{
    std::uintptr_t key = key_of(uaddr, shared);
    bucket& b = bucket_of(key);
    spinlock_guard g(b.lock);
    std::size_t n = 0;
    for (registered_waiter* w = b.head; w; w = w->next)
        n += w->key.load(std::memory_order_relaxed) == key;
    return n;
}

int helpers()
{
    return helper_count.load(std::memory_order_relaxed);
}

}  // namespace green::futex
