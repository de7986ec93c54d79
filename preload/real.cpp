#include "real.hpp"

#include "internal.hpp"

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <unistd.h>

namespace green::real {
namespace {

[[noreturn]] void missing(const char* name)
{
    // Without the real function there is nothing faithful to do; say which and stop.
    char line[160];
    int n = std::snprintf(line, sizeof line,
                          "libgreen: cannot find the C library's %s; is this a glibc system?\n",
                          name);
    syscall(SYS_write, 2, line, n > 0 ? std::size_t(n) : 0);
    std::abort();
}

// The real functions a signal handler may reach: the async-signal-safe ones of
// signal-safety(7) that libgreen interposes, and what their hooks call. They are resolved at
// start-up, so that a hook called from a handler never takes dlsym's path (the loader's lock,
// malloc), which the interrupted code may be in. The exec family is here for vfork children too,
// whose memory (dlsym's caches included) is their parent's.
constexpr const char* handler_reachable[] = {
    "accept", "accept4", "bsd_signal", "clock_nanosleep", "close", "close_range", "connect",
    "creat", "creat64", "dup", "dup2", "dup3", "execv", "execve", "execveat", "execvp",
    "execvpe", "fexecve", "open", "open64", "__open", "__open64", "__open_2", "__open64_2",
    "openat", "openat64", "__openat_2", "__openat64_2",
    "epoll_create", "epoll_create1", "epoll_pwait", "epoll_pwait2",
    "epoll_wait", "eventfd", "fcntl", "fcntl64", "fork", "_Fork", "getsockopt", "ioctl",
    "longjmp", "_longjmp", "__longjmp_chk", "nanosleep", "pause", "pipe", "pipe2", "poll",
    "ppoll", "preadv2", "pselect", "pthread_kill", "pthread_sigmask", "pwritev2", "raise", "read",
    "readv", "recv", "recvfrom", "recvmmsg", "recvmsg", "select", "sem_post", "send",
    "sendmmsg", "sendmsg", "sendto", "setsockopt", "sigaction", "siginterrupt", "siglongjmp",
    "signal", "sigpending", "sigprocmask", "sigsuspend", "sigtimedwait", "sigwait", "sigwaitinfo", "sleep", "socket",
    "socketpair", "sysv_signal", "usleep", "wait", "wait3", "wait4", "waitid", "waitpid",
    "write", "writev",
};
constexpr std::size_t handler_reachable_count = sizeof handler_reachable / sizeof(char*);
std::atomic<void*> resolved[handler_reachable_count];

}  // namespace

void resolve_eagerly()
{
    internal_scope scope;
    int saved = errno;
    for (std::size_t i = 0; i < handler_reachable_count; ++i)
        resolved[i].store(dlsym(RTLD_NEXT, handler_reachable[i]), std::memory_order_release);
    errno = saved;
}

void* lookup(const char* name)
{
    for (std::size_t i = 0; i < handler_reachable_count; ++i)
        if (std::strcmp(name, handler_reachable[i]) == 0)
            if (void* p = resolved[i].load(std::memory_order_acquire))
                return p;
    internal_scope scope;
    int saved = errno;
    void* p = dlsym(RTLD_NEXT, name);
    errno = saved;
    if (!p)
        missing(name);
    return p;
}

void* lookup_versioned(const char* name, const char* version)
{
    internal_scope scope;
    int saved = errno;
    void* p = dlvsym(RTLD_NEXT, name, version);
    errno = saved;
    if (!p)
        missing(name);
    return p;
}

}  // namespace green::real
