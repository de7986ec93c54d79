#include "child_watch.hpp"

#include "fd_table.hpp"
#include "hub.hpp"
#include "internal.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <string>
#include <unistd.h>

namespace green::child_watch {
namespace {

// The eventfd written when the process makes a child, made by the first "any child" waiter.
// A forked child inherits the parent's (the same eventfd): it makes its own on first need, so
// that the two processes do not wake each other's waiters (which would only cost a rescan).
int created_fd = -1;  // atomic builtins: a tracked runtime fd slot (it may move)
std::atomic<std::uint64_t> created_epoch{0};  // children made so far (any process sharing it)
std::atomic<pid_t> created_owner{0};
spinlock created_lock;

int created_event()
{
    pid_t self = pid_t(syscall(SYS_getpid));
    int fd = __atomic_load_n(&created_fd, __ATOMIC_ACQUIRE);
    if (fd >= 0 && created_owner.load(std::memory_order_relaxed) == self)
        return fd;
    spinlock_guard g(created_lock);
    fd = __atomic_load_n(&created_fd, __ATOMIC_ACQUIRE);
    if (fd >= 0 && created_owner.load(std::memory_order_relaxed) == self)
        return fd;
    internal_scope scope;
    if (fd >= 0)
        fd_table::release_runtime_fd(fd);  // the parent's, inherited through fork
    fd = fd_table::adopt_runtime_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    created_owner.store(self, std::memory_order_relaxed);
    __atomic_store_n(&created_fd, fd, __ATOMIC_RELEASE);
    fd_table::track_runtime_fd_slot(&created_fd);
    return __atomic_load_n(&created_fd, __ATOMIC_ACQUIRE);
}

int open_pidfd(pid_t pid)
{
    // pidfds are close-on-exec; moved out of the program's range like every runtime fd, so
    // that fds the program opens while it waits get the numbers they would natively.
    int fd = int(syscall(SYS_pidfd_open, pid, 0));
    return fd < 0 ? -1 : fd_table::adopt_runtime_fd(fd);
}

// The children of every thread of the process, from /proc/self/task/*/children (a zombie is
// listed until it is reaped). Calls add(pid) for each; false if /proc cannot be read.
template <class Add>
bool each_child(Add&& add)
{
    DIR* tasks = opendir("/proc/self/task");
    if (!tasks)
        return false;
    bool ok = true;
    while (dirent* t = readdir(tasks)) {
        if (t->d_name[0] < '0' || t->d_name[0] > '9')
            continue;
        char path[300];
        std::snprintf(path, sizeof path, "/proc/self/task/%s/children", t->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;  // the thread exited since readdir
        std::string text;
        char buf[4096];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0)
            text.append(buf, std::size_t(n));
        // A list of "pid " entries.
        const char* p = text.c_str();
        for (;;) {
            char* end = nullptr;
            long pid = std::strtol(p, &end, 10);
            if (end == p)
                break;
            if (pid > 0)
                add(pid_t(pid));
            p = end;
        }
        if (n < 0)
            ok = false;
        close(fd);
    }
    closedir(tasks);
    return ok;
}

// Parks on one fd (a pidfd, or the epoll set of several) until it is readable.
result park_on(int fd, interrupt_mode mode)
{
    fd_info info = fd_table::lookup(fd);
    switch (fd_table::wait(fd, info.generation, EPOLLIN, no_deadline, mode)) {
    case fd_wait_result::ready:
    case fd_wait_result::timed_out:
    case fd_wait_result::closed:  // moved away by a dup2 onto its number: look again
        return result::changed;
    case fd_wait_result::interrupted: return result::interrupted;
    case fd_wait_result::not_pollable: break;
    }
    return result::unsupported;
}

// Adds fd to the set, edge-triggered: each write of an eventfd is a new edge, and it is never
// drained (a waiter that drained it could take the edge from another waiter). Adding reports
// the current count once: that report is consumed here, so the caller must look for writes
// made before this call by other means (an epoch, a flag).
void add_edge_triggered(int set, int fd)
{
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.fd = fd;
    epoll_ctl(set, EPOLL_CTL_ADD, fd, &ev);
    epoll_wait(set, &ev, 1, 0);
}

}  // namespace

result wait(idtype_t idtype, id_t id, interrupt_mode mode, extra_wake extra)
{
    int saved = errno;
    constexpr int max_watched = 1024;  // more children than this: the rest are seen on rescan
    int pidfds[max_watched];
    int count = 0;
    int set;
    result early = result::unsupported;
    bool parked = false;
    {
        internal_scope scope;
        set = fd_table::adopt_runtime_fd(epoll_create1(EPOLL_CLOEXEC));
        if (set < 0) {
            errno = saved;
            return result::unsupported;
        }
        // Tracked while held: another thread's dup2 onto one of these numbers moves it.
        fd_table::track_runtime_fd_slot(&set);
        auto watch = [&](int fd) {
            epoll_event child{};
            child.events = EPOLLIN;
            child.data.fd = fd;
            if (count < max_watched && epoll_ctl(set, EPOLL_CTL_ADD, fd, &child) == 0) {
                pidfds[count] = fd;
                fd_table::track_runtime_fd_slot(&pidfds[count++]);
            } else {
                fd_table::release_runtime_fd(fd);
            }
        };
        bool ok = true;
        if (extra.fd >= 0) {
            add_edge_triggered(set, extra.fd);
            if (extra.flag && *extra.flag)
                early = result::changed;
        }
        if (idtype == P_PID) {
            int fd = open_pidfd(pid_t(id));
            if (fd >= 0)
                watch(fd);
            else if (errno == ESRCH)
                early = result::changed;  // gone: the retry reports it
            else
                ok = false;
        } else if (idtype == P_PIDFD) {
            int fd = fd_table::adopt_runtime_fd(fcntl(int(id), F_DUPFD_CLOEXEC, 0));
            if (fd >= 0)
                watch(fd);
            else
                early = result::changed;  // not open: the retry reports EBADF
        } else {
            int created = created_event();
            std::uint64_t epoch = created_epoch.load(std::memory_order_acquire);
            if (created >= 0)
                add_edge_triggered(set, created);
            int alive = 0;
            ok = created >= 0 && each_child([&](pid_t pid) {
                int fd = open_pidfd(pid);
                if (fd >= 0 || errno != ESRCH)
                    ++alive;
                if (fd >= 0)
                    watch(fd);
            });
            // No child left (a handler on another green thread reaped it since the caller
            // looked): the retry reports ECHILD, as the kernel would, instead of parking for good.
            if (created_epoch.load(std::memory_order_acquire) != epoch || (ok && alive == 0))
                early = result::changed;
        }
        parked = ok && early == result::unsupported;
        if (!ok)
            early = result::unsupported;
    }
    result r = parked ? park_on(set, mode) : early;
    for (int i = 0; i < count; ++i) {
        fd_table::untrack_runtime_fd_slot(&pidfds[i]);
        fd_table::release_runtime_fd(pidfds[i]);
    }
    fd_table::untrack_runtime_fd_slot(&set);
    fd_table::release_runtime_fd(set);
    errno = saved;
    return r;
}

void note_child_created()
{
    created_epoch.fetch_add(1, std::memory_order_acq_rel);
    int fd = __atomic_load_n(&created_fd, __ATOMIC_ACQUIRE);
    if (fd < 0)
        return;
    int saved = errno;
    std::uint64_t one = 1;
    syscall(SYS_write, fd, &one, sizeof one);
    errno = saved;
}

}  // namespace green::child_watch
