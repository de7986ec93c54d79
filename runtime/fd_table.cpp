#include "fd_table.hpp"

#include "hub.hpp"
#include "internal.hpp"

#include <cerrno>
#include <fcntl.h>
#include <new>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace green::fd_table {
namespace {

// Hubs registered per fd. More hubs than this waiting on one fd at once share the last
// registration (their waiters are woken across threads by its hub).
constexpr int max_pollers = 4;

struct fd_slot {
    spinlock lock;
    std::atomic<fd_kind> kind{fd_kind::unknown};  // read without the lock by is_runtime_fd
    std::uint32_t generation = 0;
    bool nonblocking = false;
    // The only fd of its open file description in the process (see fd_info::exclusive), as of
    // exclusive_epoch `exclusive_as_of`: its mode changes only through this number, so the
    // flags epoch does not concern it.
    bool exclusive = false;
    std::uint32_t exclusive_as_of = 0;
    std::uint32_t flags_epoch = 0;
    // O_NONBLOCK may have changed in a way not recorded (a signal handler's or vfork child's
    // F_SETFL, two F_SETFLs at once): re-read at the next lookup. Set without the lock.
    std::atomic<bool> flags_unknown{false};
    std::atomic<int> flag_setters{0};       // F_SETFL/FIONBIO calls on this fd in flight
    std::atomic<bool> setters_raced{false};  // two of them overlapped since the last record
    std::uint64_t recv_timeout = 0;
    std::uint64_t send_timeout = 0;
    int socket_type = 0;
    bool fifo = false;
    std::uint8_t access = O_RDWR;
    bool no_nowait = false;
    bool disposable = false;  // a runtime fd a dup2 may simply take (mark_runtime_fd_disposable)
    // Closed or replaced by a signal handler, which may not take the lock: retired by the next
    // flow that takes it (settle).
    std::atomic<bool> stale{false};
    // The hubs whose pollers hold a registration of this fd. Each hub that waits registers it
    // in its own poller (the kernel reports an edge to every epoll set holding the fd), so a
    // waiter never depends on another thread's hub running to be woken.
    hub* pollers[max_pollers] = {};
    fd_waiter* waiters = nullptr;
};

constexpr int chunk_bits = 10;
constexpr int chunk_size = 1 << chunk_bits;
constexpr int chunk_count = max_tracked_fd / chunk_size;

std::atomic<fd_slot*> chunks[chunk_count];
std::atomic<std::uint32_t> flags_epoch{1};
// Bumped when an fd appears that may share an open file description with one the table takes
// for exclusive (received with SCM_RIGHTS, duplicated by a signal handler): from then on no
// earlier fd is.
std::atomic<std::uint32_t> exclusive_epoch{1};
__thread adoption_recorder* recording;  // the calling thread's, while one lives

fd_slot* slot_for(int fd)
{
    if (fd < 0 || fd >= max_tracked_fd)
        return nullptr;
    auto& chunk = chunks[fd >> chunk_bits];
    fd_slot* c = chunk.load(std::memory_order_acquire);
    if (!c) {
        auto* fresh = new (std::nothrow) fd_slot[chunk_size];
        if (!fresh)
            return nullptr;
        if (chunk.compare_exchange_strong(c, fresh, std::memory_order_acq_rel))
            c = fresh;
        else
            delete[] fresh;
    }
    return &c[fd & (chunk_size - 1)];
}

// The slot of an fd the table has seen, or null: closing or dispatching for an fd that was
// never looked at has nothing to update, and must not allocate.
fd_slot* existing_slot(int fd)
{
    if (fd < 0 || fd >= max_tracked_fd)
        return nullptr;
    fd_slot* c = chunks[fd >> chunk_bits].load(std::memory_order_acquire);
    return c ? &c[fd & (chunk_size - 1)] : nullptr;
}

std::uint64_t timeval_ns(const timeval& tv)
{
    return std::uint64_t(tv.tv_sec) * 1000000000u + std::uint64_t(tv.tv_usec) * 1000u;
}

std::uint64_t socket_timeout(int fd, int option)
{
    timeval tv{};
    socklen_t len = sizeof tv;
    if (getsockopt(fd, SOL_SOCKET, option, &tv, &len) != 0)
        return 0;
    return timeval_ns(tv);
}

// Character devices are pollable or not by driver (a tty is, /dev/null is not); epoll says
// which. Asked once per fd lifetime, on a scratch epoll set of the runtime's.
bool epoll_accepts(int fd)
{
    static int probe = [] {
        internal_scope scope;
        return adopt_runtime_fd(epoll_create1(EPOLL_CLOEXEC));
    }();
    static bool tracked = (track_runtime_fd_slot(&probe), true);
    (void)tracked;
    if (probe < 0)
        return true;
    int set = __atomic_load_n(&probe, __ATOMIC_ACQUIRE);
    epoll_event ev{};
    ev.events = EPOLLET;
    if (epoll_ctl(set, EPOLL_CTL_ADD, fd, &ev) != 0)
        return errno != EPERM;
    epoll_ctl(set, EPOLL_CTL_DEL, fd, nullptr);
    return true;
}

void classify(int fd, fd_slot& s)
{
    internal_scope scope;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return;  // not open: stay unknown, the caller passes through and libc says EBADF
    fd_kind kind;
    switch (st.st_mode & S_IFMT) {
    case S_IFSOCK: kind = fd_kind::socket; break;
    case S_IFREG:
    case S_IFDIR:
    case S_IFBLK:
    case S_IFLNK: kind = fd_kind::inert; break;
    case S_IFCHR: kind = epoll_accepts(fd) ? fd_kind::pollable : fd_kind::inert; break;
    default: kind = fd_kind::pollable; break;  // FIFOs and anonymous inodes (eventfd, ...)
    }
    if (kind != fd_kind::inert) {
        int flags = fcntl(fd, F_GETFL);
        s.nonblocking = flags >= 0 && (flags & O_NONBLOCK);
        s.access = flags >= 0 ? std::uint8_t(flags & O_ACCMODE) : O_RDWR;
        s.flags_epoch = flags_epoch.load(std::memory_order_acquire);
    }
    if (kind == fd_kind::socket) {
        s.recv_timeout = socket_timeout(fd, SO_RCVTIMEO);
        s.send_timeout = socket_timeout(fd, SO_SNDTIMEO);
        socklen_t len = sizeof s.socket_type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &s.socket_type, &len) != 0)
            s.socket_type = 0;
    }
    s.fifo = S_ISFIFO(st.st_mode);
    s.kind.store(kind, std::memory_order_relaxed);
}

bool is_exclusive(const fd_slot& s)
{
    return s.exclusive && s.exclusive_as_of == exclusive_epoch.load(std::memory_order_acquire);
}

// Whether the cached O_NONBLOCK may be out of date (with the slot locked).
bool flags_doubtful(const fd_slot& s)
{
    if (s.flags_unknown.load(std::memory_order_acquire))
        return true;
    return !is_exclusive(s) && s.flags_epoch != flags_epoch.load(std::memory_order_acquire);
}

void refresh_flags(int fd, fd_slot& s)
{
    internal_scope scope;
    s.flags_unknown.store(false, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // the flag is cleared before F_GETFL
    std::uint32_t epoch = flags_epoch.load(std::memory_order_acquire);
    int flags = fcntl(fd, F_GETFL);
    s.nonblocking = flags >= 0 && (flags & O_NONBLOCK);
    s.flags_epoch = epoch;
}

void unlink_waiter(fd_slot& s, fd_waiter& w)
{
    if (w.prev)
        w.prev->next = w.next;
    else
        s.waiters = w.next;
    if (w.next)
        w.next->prev = w.prev;
    w.prev = w.next = nullptr;
    w.linked = false;
}

// Registers fd with h's poller unless it is already (with the slot locked).
// shared: the fd has max_pollers registrations already; the hub relies on theirs.
enum class registration { done, shared, closed, never_changes, failed };

registration ensure_registered(int fd, fd_slot& s, hub* h)
{
    hub** free_entry = nullptr;
    for (hub*& p : s.pollers) {
        if (p == h)
            return registration::done;
        if (!p && !free_entry)
            free_entry = &p;
    }
    if (!free_entry)
        return registration::shared;  // another hub's registration (see max_pollers)
    // One registration per hub for the fd's lifetime, edge-triggered: a fiber only parks after
    // its attempt failed, and any later change of readiness is a new edge. EPOLLPRI is asked
    // for too, for poll's POLLPRI and select's exception set.
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET;
    ev.data.u64 = (std::uint64_t(s.generation) << 32) | std::uint32_t(fd);
    internal_scope scope;
    int r = epoll_ctl(h->poller_fd(), EPOLL_CTL_ADD, fd, &ev);
    if (r != 0 && errno == EEXIST)
        r = epoll_ctl(h->poller_fd(), EPOLL_CTL_MOD, fd, &ev);
    if (r != 0) {
        if (errno == EPERM) {
            // No poll method in the kernel: always ready for reading and writing.
            s.kind.store(fd_kind::inert, std::memory_order_relaxed);
            return registration::never_changes;
        }
        return errno == EBADF ? registration::closed : registration::failed;
    }
    *free_entry = h;
    return registration::done;
}

// For a waiter whose hub shares another hub's registration: that hub's thread may have
// dispatched the edge that made the fd ready after the caller's attempt failed but before the
// waiter was linked, and no further edge need come. So, once linked, it looks: ready (or
// closed: POLLNVAL) means the caller must try again rather than park.
bool ready_after_link(int fd, std::uint32_t events)
{
    short wanted = short(((events & EPOLLIN) ? POLLIN : 0) | ((events & EPOLLOUT) ? POLLOUT : 0) |
                         ((events & EPOLLPRI) ? POLLPRI : 0));
    pollfd p{fd, wanted, 0};
    return syscall(SYS_poll, &p, 1, 0) != 0;  // errors too: let the caller's call report them
}

// A wait that armed the fiber's wake word and linked its waiters but will not park: unless a
// waker claimed the fiber meanwhile (it will make it runnable, so it must park to take that
// wake-up), it returns at once.
void abandon_armed_wait(hub* h, fiber* self)
{
    int expected = int(wake_reason::waiting);
    if (!self->wake.compare_exchange_strong(expected, int(wake_reason::ready),
                                            std::memory_order_acq_rel))
        h->park(no_deadline, interrupt_mode::never);
}

void link_waiter(fd_slot& s, fd_waiter& w, fiber* owner, std::uint32_t events)
{
    w.owner = owner;
    w.events = events;
    w.prev = nullptr;
    w.next = s.waiters;
    if (s.waiters)
        s.waiters->prev = &w;
    s.waiters = &w;
    w.linked = true;
}

// With the slot locked: the fd is gone (closed, or its number reused behind our back).
void retire(int fd, fd_slot& s)
{
    ++s.generation;
    for (hub*& h : s.pollers) {
        if (!h)
            continue;
        internal_scope scope;
        epoll_ctl(h->poller_fd(), EPOLL_CTL_DEL, fd, nullptr);
        h = nullptr;
    }
    while (fd_waiter* w = s.waiters) {
        unlink_waiter(s, *w);
        hub::try_wake(w->owner, wake_reason::fd_closed);
    }
    s.kind.store(fd_kind::unknown, std::memory_order_relaxed);
    s.nonblocking = false;
    s.exclusive = false;
    s.flags_unknown.store(false, std::memory_order_relaxed);
    s.recv_timeout = s.send_timeout = 0;
    s.socket_type = 0;
    s.fifo = false;
    s.access = O_RDWR;
    s.no_nowait = false;
    s.disposable = false;
    s.stale.store(false, std::memory_order_relaxed);
}

// With the slot locked: what a signal handler closed is retired now.
void settle(int fd, fd_slot& s)
{
    if (__builtin_expect(s.stale.load(std::memory_order_acquire), 0))
        retire(fd, s);
}

int runtime_fd_floor()
{
    // High enough to stay out of the way of the lowest-numbered allocation programs rely on,
    // low enough not to make the kernel grow the fd table to a large soft limit.
    rlimit limit{};
    rlim_t soft = getrlimit(RLIMIT_NOFILE, &limit) == 0 ? limit.rlim_cur : 1024;
    if (soft == RLIM_INFINITY || soft > 4096)
        soft = 4096;
    return soft > 256 ? int(soft) - 128 : int(soft) / 2;
}

}  // namespace

fd_info lookup(int fd)
{
    fd_info info;
    fd_slot* s = slot_for(fd);
    if (!s) {
        info.kind = fd_kind::inert;
        return info;
    }
    // Classifying asks the kernel things that may fail (epoll refuses /dev/null with EPERM);
    // none of that is the program's business.
    errno_keeper keep;
    spinlock_guard g(s->lock);
    settle(fd, *s);
    fd_kind kind = s->kind.load(std::memory_order_relaxed);
    if (kind == fd_kind::unknown) {
        classify(fd, *s);
        kind = s->kind.load(std::memory_order_relaxed);
        if (kind == fd_kind::unknown)
            kind = fd_kind::inert;
    } else if ((kind == fd_kind::socket || kind == fd_kind::pollable) && flags_doubtful(*s)) {
        refresh_flags(fd, *s);
    }
    info.kind = kind;
    info.nonblocking = s->nonblocking;
    info.recv_timeout = s->recv_timeout;
    info.send_timeout = s->send_timeout;
    info.socket_type = s->socket_type;
    info.fifo = s->fifo;
    info.access = s->access;
    info.no_nowait = s->no_nowait;
    info.generation = s->generation;
    return info;
}

void note_open(int fd, const fd_info& what)
{
    fd_slot* s = slot_for(fd);
    if (!s)
        return;
    int saved = errno;
    spinlock_guard g(s->lock);
    // Whatever the slot held was closed behind our back (by libc itself, or a raw syscall).
    retire(fd, *s);
    s->nonblocking = what.nonblocking;
    s->exclusive = what.exclusive;
    s->exclusive_as_of = exclusive_epoch.load(std::memory_order_acquire);
    s->flags_epoch = flags_epoch.load(std::memory_order_acquire);
    s->recv_timeout = what.recv_timeout;
    s->send_timeout = what.send_timeout;
    s->socket_type = what.socket_type;
    s->fifo = what.fifo;
    s->access = std::uint8_t(what.access);
    s->no_nowait = what.no_nowait;
    s->kind.store(what.kind, std::memory_order_relaxed);
    errno = saved;
}

void note_close(int fd)
{
    fd_slot* s = existing_slot(fd);
    if (!s)
        return;
    int saved = errno;
    {
        spinlock_guard g(s->lock);
        retire(fd, *s);
    }
    errno = saved;
}

std::uint32_t note_closing(int fd)
{
    fd_slot* s = existing_slot(fd);
    if (!s)
        return 0;
    int saved = errno;
    spinlock_guard g(s->lock);
    retire(fd, *s);
    errno = saved;
    return s->generation;
}

void note_closed(int fd, std::uint32_t generation)
{
    fd_slot* s = existing_slot(fd);
    if (!s)
        return;
    int saved = errno;
    spinlock_guard g(s->lock);
    // Unchanged: nothing reopened the number through the hooks since; whatever registered it
    // meanwhile waited on the file just closed.
    if (s->generation == generation)
        retire(fd, *s);
    errno = saved;
}

void note_closed_in_handler(int fd)
{
    if (fd_slot* s = existing_slot(fd))
        if (s->kind.load(std::memory_order_relaxed) != fd_kind::runtime)
            s->stale.store(true, std::memory_order_release);
}

void note_flags_changed()
{
    flags_epoch.fetch_add(1, std::memory_order_acq_rel);
}

// Both halves take the slot with slot_for, so that a slot made in between (another thread's
// lookup) cannot see a setter leave that it never saw arrive.
void note_flags_changing(int fd)
{
    if (fd_slot* s = slot_for(fd))
        if (s->flag_setters.fetch_add(1, std::memory_order_acq_rel) > 0)
            s->setters_raced.store(true, std::memory_order_release);
}

void note_flags_set(int fd, bool ok, bool nonblocking)
{
    fd_slot* s = slot_for(fd);
    if (!s) {
        if (ok)
            note_flags_changed();  // untracked (or no memory): other fds may share its description
        return;
    }
    int saved = errno;
    {
        spinlock_guard g(s->lock);
        bool raced = s->setters_raced.load(std::memory_order_acquire);
        if (ok) {
            if (!is_exclusive(*s))
                note_flags_changed();
            else if (raced)
                s->flags_unknown.store(true, std::memory_order_relaxed);
            else
                s->nonblocking = nonblocking;
        }
        // The last of overlapping setters clears the mark; each of them re-reads the mode.
        if (s->flag_setters.fetch_sub(1, std::memory_order_acq_rel) == 1)
            s->setters_raced.store(false, std::memory_order_relaxed);
    }
    errno = saved;
}

void note_flags_changed_raw(int fd)
{
    if (fd_slot* s = existing_slot(fd))
        s->flags_unknown.store(true, std::memory_order_release);
    note_flags_changed();
}

void note_duplicated(int fd)
{
    fd_slot* s = existing_slot(fd);
    if (!s)
        return;
    spinlock_guard g(s->lock);
    if (is_exclusive(*s)) {
        // Its mode was exact until now; from here on the epoch covers it.
        s->exclusive = false;
        s->flags_epoch = flags_epoch.load(std::memory_order_acquire);
    }
}

void note_descriptions_shared()
{
    // Every slot taken for exclusive falls back to the flags epoch: its mode is exact as of
    // now, and any later F_SETFL through the new fd (not exclusive) bumps the epoch.
    exclusive_epoch.fetch_add(1, std::memory_order_acq_rel);
}

void note_timeout(int fd, bool receive, std::uint64_t timeout_ns)
{
    fd_slot* s = slot_for(fd);
    if (!s)
        return;
    spinlock_guard g(s->lock);
    settle(fd, *s);
    (receive ? s->recv_timeout : s->send_timeout) = timeout_ns;
}

void note_no_nowait(int fd, std::uint32_t generation)
{
    fd_slot* s = slot_for(fd);
    if (!s)
        return;
    spinlock_guard g(s->lock);
    settle(fd, *s);
    if (s->generation == generation)
        s->no_nowait = true;
}

int adopt_runtime_fd(int fd)
{
    if (fd < 0)
        return fd;
    internal_scope scope;
    static const int floor = runtime_fd_floor();
    int moved = fd < floor ? fcntl(fd, F_DUPFD_CLOEXEC, floor) : -1;
    if (moved >= 0) {
        ::close(fd);
        fd = moved;
    } else {
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    if (fd_slot* s = slot_for(fd)) {
        spinlock_guard g(s->lock);
        retire(fd, *s);
        s->kind.store(fd_kind::runtime, std::memory_order_relaxed);
    }
    if (recording)
        recording->note(fd);
    return fd;
}

bool is_runtime_fd(int fd)
{
    fd_slot* s = existing_slot(fd);
    return s && s->kind.load(std::memory_order_relaxed) == fd_kind::runtime;
}

void release_runtime_fd(int fd)
{
    if (fd < 0)
        return;
    internal_scope scope;
    if (fd_slot* s = slot_for(fd)) {
        spinlock_guard g(s->lock);
        retire(fd, *s);
    }
    ::close(fd);
}

namespace {

spinlock slots_lock;
std::vector<int*>* slots;  // never freed: hubs of exiting threads untrack at any time

}  // namespace

void track_runtime_fd_slot(int* slot)
{
    internal_scope scope;
    spinlock_guard g(slots_lock);
    if (!slots)
        slots = new std::vector<int*>();
    for (int* s : *slots)
        if (s == slot)
            return;
    slots->push_back(slot);
}

void untrack_runtime_fd_slot(int* slot)
{
    spinlock_guard g(slots_lock);
    if (!slots)
        return;
    for (auto it = slots->begin(); it != slots->end(); ++it)
        if (*it == slot) {
            slots->erase(it);
            return;
        }
}

int relocate_runtime_fd(int fd)
{
    internal_scope scope;
    static const int floor = runtime_fd_floor();
    int saved = errno;
    spinlock_guard g(slots_lock);
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, fd < floor ? floor : fd + 1);
    if (moved < 0 && fd >= floor)
        moved = fcntl(fd, F_DUPFD_CLOEXEC, floor);  // nothing free above it: below, then
    if (moved < 0)
        return -1;
    if (fd_slot* s = slot_for(moved)) {
        spinlock_guard sg(s->lock);
        retire(moved, *s);
        s->kind.store(fd_kind::runtime, std::memory_order_relaxed);
    }
    bool held = false;
    if (slots)
        for (int* slot : *slots)
            if (__atomic_load_n(slot, __ATOMIC_ACQUIRE) == fd) {
                __atomic_store_n(slot, moved, __ATOMIC_RELEASE);
                held = true;
            }
    if (!held) {
        ::close(moved);
        fd_slot* s = existing_slot(fd);
        if (!s || !s->disposable) {
            // Held where no slot is tracked (a c-ares socket): it cannot move.
            errno = EBUSY;
            return -1;
        }
        moved = fd;  // never used again by the runtime: the number is simply given up
    }
    // The old number is no longer the runtime's: the caller's dup2 replaces it.
    if (fd_slot* s = existing_slot(fd)) {
        spinlock_guard sg(s->lock);
        retire(fd, *s);
    }
    errno = saved;
    return moved;
}

void mark_runtime_fd_disposable(int fd)
{
    if (fd_slot* s = existing_slot(fd)) {
        spinlock_guard g(s->lock);
        if (s->kind.load(std::memory_order_relaxed) == fd_kind::runtime)
            s->disposable = true;
    }
}

adoption_recorder::adoption_recorder() : outer_(recording)
{
    recording = this;
}

adoption_recorder::~adoption_recorder()
{
    recording = outer_;
}

fd_wait_result wait(int fd, std::uint32_t generation, std::uint32_t events,
                    std::uint64_t deadline, interrupt_mode mode)
{
    fd_slot* s = slot_for(fd);
    hub* h = hub::for_this_thread();
    if (!s || !h)
        return fd_wait_result::not_pollable;
    fiber* self = tls.running;
    bool shared = false;
    {
        spinlock_guard g(s->lock);
        settle(fd, *s);
        if (s->generation != generation)
            return fd_wait_result::closed;
        switch (ensure_registered(fd, *s, h)) {
        case registration::done: break;
        case registration::shared: shared = true; break;
        case registration::closed: return fd_wait_result::closed;
        case registration::never_changes:
        case registration::failed: return fd_wait_result::not_pollable;
        }
        self->wake.store(int(wake_reason::waiting), std::memory_order_relaxed);
        link_waiter(*s, self->waiter, self, events);
    }
    if (shared && ready_after_link(fd, events)) {
        {
            spinlock_guard g(s->lock);
            if (self->waiter.linked)
                unlink_waiter(*s, self->waiter);
        }
        abandon_armed_wait(h, self);
        return fd_wait_result::ready;
    }
    count_event(stats.fd_waits);
    wake_reason reason = h->park(deadline, mode);
    {
        spinlock_guard g(s->lock);
        if (self->waiter.linked)
            unlink_waiter(*s, self->waiter);
    }
    switch (reason) {
    case wake_reason::timed_out: return fd_wait_result::timed_out;
    case wake_reason::fd_closed: return fd_wait_result::closed;
    case wake_reason::interrupted: return fd_wait_result::interrupted;
    default: return fd_wait_result::ready;
    }
}

fd_wait_result wait_any(fd_watch* watches, std::size_t count, std::uint64_t deadline,
                        interrupt_mode mode)
{
    hub* h = hub::for_this_thread();
    if (!h)
        return fd_wait_result::not_pollable;
    fiber* self = tls.running;
    // Published before the first waiter is linked: from then on, a hub on another thread may
    // claim the fiber at any moment.
    self->wake.store(int(wake_reason::waiting), std::memory_order_relaxed);
    bool recheck = false;
    bool gone = false;  // an fd was closed since the caller looked: it must look again
    for (std::size_t i = 0; i < count && !gone; ++i) {
        fd_watch& w = watches[i];
        w.waiter.linked = false;
        w.waiter.shared = false;
        fd_slot* s = slot_for(w.fd);
        if (!s) {
            if (w.fd >= 0)
                recheck = true;  // beyond the table
            continue;
        }
        spinlock_guard g(s->lock);
        settle(w.fd, *s);
        fd_kind kind = s->kind.load(std::memory_order_relaxed);
        if (kind == fd_kind::unknown) {
            errno_keeper keep;
            classify(w.fd, *s);
            kind = s->kind.load(std::memory_order_relaxed);
        }
        if (kind == fd_kind::unknown) {
            gone = true;  // not open
            break;
        }
        // An inert fd is asked of the poller all the same (it refuses files with no poll
        // method at once): its number may have been closed inside libc and reused by a file
        // that can be watched, and a wait on it must not then last for ever.
        switch (ensure_registered(w.fd, *s, h)) {
        case registration::done: link_waiter(*s, w.waiter, self, w.events); break;
        case registration::shared:
            link_waiter(*s, w.waiter, self, w.events);
            w.waiter.shared = true;
            break;
        case registration::closed: gone = true; break;
        case registration::never_changes: break;
        case registration::failed: recheck = true; break;
        }
    }
    auto unlink_all = [&] {
        for (std::size_t i = 0; i < count; ++i) {
            fd_watch& w = watches[i];
            if (!w.waiter.linked)
                continue;
            fd_slot* s = existing_slot(w.fd);
            spinlock_guard g(s->lock);
            if (w.waiter.linked)
                unlink_waiter(*s, w.waiter);
        }
    };
    for (std::size_t i = 0; i < count && !gone; ++i)
        if (watches[i].waiter.linked && watches[i].waiter.shared &&
            ready_after_link(watches[i].fd, watches[i].events))
            gone = true;  // ready already: the caller looks again
    if (gone) {
        unlink_all();
        abandon_armed_wait(h, self);
        return fd_wait_result::ready;
    }
    if (recheck) {
        std::uint64_t soon = deadline_after(now_ns(), recheck_interval_ns);
        if (soon < deadline)
            deadline = soon;
    }
    count_event(stats.fd_waits);
    wake_reason reason = h->park(deadline, mode);
    unlink_all();
    switch (reason) {
    case wake_reason::timed_out: return fd_wait_result::timed_out;
    case wake_reason::interrupted: return fd_wait_result::interrupted;
    default: return fd_wait_result::ready;  // an event, or a close: the caller looks again
    }
}

void dispatch(std::uint64_t token, std::uint32_t events)
{
    int fd = int(std::uint32_t(token));
    auto generation = std::uint32_t(token >> 32);
    fd_slot* s = existing_slot(fd);
    if (!s)
        return;
    constexpr std::uint32_t wakes_readers = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
    constexpr std::uint32_t wakes_writers = EPOLLOUT | EPOLLHUP | EPOLLERR;
    // A waiter's events are EPOLLIN, EPOLLOUT, EPOLLPRI (urgent data) and EPOLLERR (only an
    // error or hang-up, which poll reports whatever was asked).
    std::uint32_t wanted = ((events & wakes_readers) ? std::uint32_t(EPOLLIN) : 0u) |
                           ((events & wakes_writers) ? std::uint32_t(EPOLLOUT) : 0u) |
                           ((events & EPOLLPRI) ? std::uint32_t(EPOLLPRI) : 0u) |
                           ((events & (EPOLLHUP | EPOLLERR)) ? std::uint32_t(EPOLLERR) : 0u);
    spinlock_guard g(s->lock);
    settle(fd, *s);
    if (s->generation != generation)
        return;  // an event of an fd closed since; its number may be reused already
    for (fd_waiter* w = s->waiters; w;) {
        fd_waiter* next = w->next;
        if (w->events & wanted) {
            unlink_waiter(*s, *w);
            hub::try_wake(w->owner, wake_reason::ready);
        }
        w = next;
    }
}

void forget_hub(hub* owner)
{
    for (auto& chunk : chunks) {
        fd_slot* c = chunk.load(std::memory_order_acquire);
        if (!c)
            continue;
        for (int i = 0; i < chunk_size; ++i) {
            spinlock_guard g(c[i].lock);
            bool was_poller = false;
            for (hub*& p : c[i].pollers)
                if (p == owner) {
                    p = nullptr;
                    was_poller = true;
                }
            // Waiters of other hubs that shared this hub's registration would hear nothing
            // more: wake them to try again (and register with their own hub).
            if (was_poller)
                for (fd_waiter* w = c[i].waiters; w; w = w->next)
                    if (w->owner->home != owner)
                        hub::try_wake(w->owner, wake_reason::ready);
        }
    }
}

void forget_every_hub_after_fork()
{
    slots_lock.release_after_fork();
    for (auto& chunk : chunks) {
        fd_slot* c = chunk.load(std::memory_order_relaxed);
        if (!c)
            continue;
        for (int i = 0; i < chunk_size; ++i) {
            fd_slot& s = c[i];
            s.lock.release_after_fork();
            // Written only where something is to be dropped: the table's pages stay shared
            // with the parent's until either side changes them.
            bool registered = false;
            for (hub* p : s.pollers)
                registered |= p != nullptr;
            if (!registered && !s.waiters)
                continue;
            for (hub*& p : s.pollers)
                p = nullptr;
            s.waiters = nullptr;
            // The fd is registered with no hub now: a hub of the child's registers it anew.
            // Events still queued in an inherited epoll set are never read (it is not polled).
        }
    }
}

}  // namespace green::fd_table
