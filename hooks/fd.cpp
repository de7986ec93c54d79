// The fd lifecycle: socket, socketpair, pipe, pipe2, close, dup, dup2, dup3, fcntl, ioctl,
// close_range, closefrom, fclose, freopen, freopen64 (pclose is in popen.cpp). These never park
// (fclose only waits for its stream's last flush, as a stdio writer does); they keep the fd
// table true, hide the runtime's own fds from the program, and wake green threads parked on an
// fd that closes.
//
// Raw callers (hooks/hook.hpp) get libc with no bookkeeping: a vfork child's fds are its own
// copies, so the parent's table stays true only if the child leaves it alone; a signal handler
// may take no lock, so it only hides the runtime's fds (a lock-free look) and marks the slots it
// closes or makes for the next locked use to retire (fd_table::note_closed_in_handler).
#include "fd_table.hpp"
#include "file_locks.hpp"
#include "hook.hpp"
#include "stdio.hpp"

#include <cstdarg>
#include <cstdio>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace green;

namespace {

int not_open()
{
    errno = EBADF;
    return -1;
}

fd_info describe_socket(int type)
{
    fd_info info;
    info.kind = fd_kind::socket;
    info.nonblocking = type & SOCK_NONBLOCK;
    info.exclusive = true;
    info.socket_type = type & 0xf;
    return info;
}

fd_info describe_pipe(int flags, int access)
{
    fd_info info;
    info.kind = fd_kind::pollable;
    info.nonblocking = flags & O_NONBLOCK;
    info.exclusive = true;
    info.fifo = true;
    info.access = access;
    return info;
}

// A new fd number whose slot may hold a stale past: forget it, classify on next use.
void note_new(int fd)
{
    if (fd >= 0)
        fd_table::note_open(fd, fd_info{});
}

// A raw caller's fd that the runtime hides: only a signal handler is shown the truth the
// program is (the runtime's fds are not its own); a vfork child's are its own copies.
bool hidden_from_raw(int fd)
{
    return hooks::in_signal_handler() && fd_table::is_runtime_fd(fd);
}

// A raw caller closed, replaced or made `fd`.
void note_raw(int fd)
{
    if (fd >= 0 && hooks::in_signal_handler())
        fd_table::note_closed_in_handler(fd);
}

// A raw caller duplicated an fd. A vfork child's copy is its own; a handler's shares the open
// file description with an fd whose slot it may not lock.
void note_raw_duplicate()
{
    if (hooks::in_signal_handler())
        fd_table::note_descriptions_shared();
}

// The tracked side of closing [first, last]; returns the runtime fds in the range (at most
// `capacity`) so the caller can leave them open.
int close_range_tracked(unsigned first, unsigned last, int* runtime_fds, int capacity,
                        bool in_handler)
{
    int found = 0;
    unsigned end = last < unsigned(fd_table::max_tracked_fd) ? last
                                                            : unsigned(fd_table::max_tracked_fd) - 1;
    // Only numbers below the process's fd limit can be open.
    long open_max = sysconf(_SC_OPEN_MAX);
    if (open_max > 0 && end >= unsigned(open_max))
        end = unsigned(open_max) - 1;
    for (unsigned fd = first; fd <= end && fd >= first; ++fd) {
        if (fd_table::is_runtime_fd(int(fd))) {
            if (found < capacity)
                runtime_fds[found++] = int(fd);
        } else if (in_handler) {
            fd_table::note_closed_in_handler(int(fd));
        } else {
            fd_table::note_close(int(fd));
        }
    }
    return found;
}

}  // namespace

GREEN_HOOK int socket(int domain, int type, int protocol)
{
    hooks::caller who = hooks::who_calls();
    int fd = GREEN_REAL(socket)(domain, type, protocol);
    if (fd < 0)
        return fd;
    switch (who) {
    case hooks::caller::raw: note_raw(fd); break;
    case hooks::caller::runtime: return fd_table::adopt_runtime_fd(fd);
    case hooks::caller::program: fd_table::note_open(fd, describe_socket(type)); break;
    }
    return fd;
}

GREEN_HOOK int socketpair(int domain, int type, int protocol, int sv[2])
{
    hooks::caller who = hooks::who_calls();
    int r = GREEN_REAL(socketpair)(domain, type, protocol, sv);
    if (r != 0)
        return r;
    switch (who) {
    case hooks::caller::raw:
        note_raw(sv[0]);
        note_raw(sv[1]);
        break;
    case hooks::caller::runtime:
        sv[0] = fd_table::adopt_runtime_fd(sv[0]);
        sv[1] = fd_table::adopt_runtime_fd(sv[1]);
        break;
    case hooks::caller::program:
        fd_table::note_open(sv[0], describe_socket(type));
        fd_table::note_open(sv[1], describe_socket(type));
        break;
    }
    return r;
}

GREEN_HOOK int pipe2(int fds[2], int flags)
{
    hooks::caller who = hooks::who_calls();
    int r = GREEN_REAL(pipe2)(fds, flags);
    if (r != 0)
        return r;
    switch (who) {
    case hooks::caller::raw:
        note_raw(fds[0]);
        note_raw(fds[1]);
        break;
    case hooks::caller::runtime:
        fds[0] = fd_table::adopt_runtime_fd(fds[0]);
        fds[1] = fd_table::adopt_runtime_fd(fds[1]);
        break;
    case hooks::caller::program:
        fd_table::note_open(fds[0], describe_pipe(flags, O_RDONLY));
        fd_table::note_open(fds[1], describe_pipe(flags, O_WRONLY));
        break;
    }
    return r;
}

GREEN_HOOK int pipe(int fds[2])
{
    return pipe2(fds, 0);
}

GREEN_HOOK int close(int fd)
{
    switch (hooks::who_calls()) {
    case hooks::caller::raw:
        if (hidden_from_raw(fd))
            return not_open();
        note_raw(fd);
        return GREEN_REAL(close)(fd);
    case hooks::caller::runtime: break;
    case hooks::caller::program:
        if (fd_table::is_runtime_fd(fd))
            return not_open();
        break;
    }
    std::uint32_t generation = fd_table::note_closing(fd);
    int r = GREEN_REAL(close)(fd);
    fd_table::note_closed(fd, generation);
    return r;
}

GREEN_HOOK int dup(int fd)
{
    if (hooks::raw_caller()) {
        if (hidden_from_raw(fd))
            return not_open();
        note_raw_duplicate();
        int r = GREEN_REAL(dup)(fd);
        note_raw(r);
        return r;
    }
    if (fd_table::is_runtime_fd(fd))
        return not_open();
    fd_table::note_duplicated(fd);
    int r = GREEN_REAL(dup)(fd);
    note_new(r);
    return r;
}

namespace {

// What dup2 and dup3 do before the real call: the runtime's fds are not the program's to
// duplicate; one whose number the program takes moves out of the way; an fd replaced is closed
// (waking green threads parked on it).
bool prepare_dup_onto(int old_fd, int new_fd)
{
    if (hooks::raw_caller()) {
        if (hidden_from_raw(old_fd)) {
            errno = EBADF;
            return false;
        }
        if (hidden_from_raw(new_fd)) {
            // Moving the runtime's file out of the way takes locks a handler may not take.
            errno = EBUSY;
            return false;
        }
        if (old_fd != new_fd) {
            note_raw_duplicate();
            note_raw(new_fd);
        }
        return true;
    }
    if (fd_table::is_runtime_fd(old_fd)) {
        errno = EBADF;
        return false;
    }
    if (fd_table::is_runtime_fd(new_fd) && fd_table::relocate_runtime_fd(new_fd) < 0) {
        // A number the runtime uses, and no free number to move its file to.
        errno = EBUSY;
        return false;
    }
    if (old_fd != new_fd) {
        fd_table::note_duplicated(old_fd);
        fd_table::note_close(new_fd);
    }
    return true;
}

}  // namespace

GREEN_HOOK int dup3(int old_fd, int new_fd, int flags)
{
    if (!prepare_dup_onto(old_fd, new_fd))
        return -1;
    int r = GREEN_REAL(dup3)(old_fd, new_fd, flags);
    if (!hooks::raw_caller())
        note_new(r);
    return r;
}

GREEN_HOOK int dup2(int old_fd, int new_fd)
{
    if (!prepare_dup_onto(old_fd, new_fd))
        return -1;
    int r = GREEN_REAL(dup2)(old_fd, new_fd);
    if (old_fd != new_fd && !hooks::raw_caller())
        note_new(r);
    return r;
}

namespace {

int green_fcntl(int (*real)(int, int, ...), int fd, int cmd, void* arg)
{
    hooks::caller who = hooks::who_calls();
    if (who == hooks::caller::raw ? hidden_from_raw(fd)
                                  : who == hooks::caller::program && fd_table::is_runtime_fd(fd))
        return not_open();
    if (hooks::is_lock_wait(cmd))
        return hooks::lock_wait_fcntl(real, fd, cmd, arg);
    if (cmd == F_SETFL && who != hooks::caller::runtime) {
        // Raw callers too, a vfork child included: the open file description whose mode
        // changes is shared with the parent.
        if (who == hooks::caller::raw) {
            int r = real(fd, cmd, arg);
            if (r == 0)
                fd_table::note_flags_changed_raw(fd);
            return r;
        }
        fd_table::note_flags_changing(fd);
        int r = real(fd, cmd, arg);
        fd_table::note_flags_set(fd, r == 0, reinterpret_cast<long>(arg) & O_NONBLOCK);
        return r;
    }
    if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) {
        if (who == hooks::caller::raw)
            note_raw_duplicate();
        else
            fd_table::note_duplicated(fd);
    }
    int r = real(fd, cmd, arg);
    if (r < 0)
        return r;
    switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
        if (who == hooks::caller::raw)
            note_raw(r);
        else
            note_new(r);
        break;
    default:
        break;
    }
    return r;
}

}  // namespace

GREEN_HOOK int fcntl(int fd, int cmd, ...)
{
    va_list args;
    va_start(args, cmd);
    void* arg = va_arg(args, void*);  // every fcntl argument fits in a pointer-sized slot
    va_end(args);
    return green_fcntl(GREEN_REAL(fcntl), fd, cmd, arg);
}

extern "C" int fcntl64(int fd, int cmd, ...);
GREEN_HOOK int fcntl64(int fd, int cmd, ...)
{
    va_list args;
    va_start(args, cmd);
    void* arg = va_arg(args, void*);
    va_end(args);
    return green_fcntl(GREEN_REAL(fcntl64), fd, cmd, arg);
}

GREEN_HOOK int ioctl(int fd, unsigned long request, ...)
{
    va_list args;
    va_start(args, request);
    void* arg = va_arg(args, void*);
    va_end(args);
    hooks::caller who = hooks::who_calls();
    if (who == hooks::caller::raw ? hidden_from_raw(fd)
                                  : who == hooks::caller::program && fd_table::is_runtime_fd(fd))
        return not_open();
    if (request != FIONBIO || who == hooks::caller::runtime)  // libuv's FIONBIO: its own fds
        return GREEN_REAL(ioctl)(fd, request, arg);
    if (who == hooks::caller::raw) {
        int r = GREEN_REAL(ioctl)(fd, request, arg);
        if (r == 0)
            fd_table::note_flags_changed_raw(fd);  // as fcntl's F_SETFL
        return r;
    }
    fd_table::note_flags_changing(fd);
    int r = GREEN_REAL(ioctl)(fd, request, arg);
    fd_table::note_flags_set(fd, r == 0, r == 0 && *static_cast<const int*>(arg) != 0);
    return r;
}

GREEN_HOOK int close_range(unsigned int first, unsigned int last, int flags)
{
    if (first > last || (flags & CLOSE_RANGE_CLOEXEC) || hooks::in_vfork_child() ||
        !preload::ready())
        return GREEN_REAL(close_range)(first, last, flags);
    // Close around the runtime's fds: a daemon that closes everything above 2 must not take
    // the hub's epoll set, timer and wake-up fds with it.
    int keep[64];
    int kept = close_range_tracked(first, last, keep, 64, hooks::in_signal_handler());
    unsigned from = first;
    for (int i = 0; i < kept; ++i) {
        unsigned k = unsigned(keep[i]);
        if (k > from && GREEN_REAL(close_range)(from, k - 1, flags) != 0)
            return -1;
        from = k + 1;  // runtime fds sit below the fd limit: no overflow
    }
    return from <= last ? GREEN_REAL(close_range)(from, last, flags) : 0;
}

GREEN_HOOK void closefrom(int lowfd)
{
    if (lowfd < 0)
        lowfd = 0;
    close_range(unsigned(lowfd), ~0u, 0);
}

GREEN_HOOK int fclose(FILE* stream)
{
    // fclose writes what the buffer holds and closes its fd inside libc, past the hooks.
    if (!hooks::raw_caller())
        hooks::stdio::await_close(stream);
    if (stream && !hooks::raw_caller()) {
        int fd = fileno(stream);
        if (fd >= 0)
            fd_table::note_close(fd);
    }
    return GREEN_REAL(fclose)(stream);
}

// freopen closes the stream's fd and opens the new file inside libc, past the hooks; the new
// fd usually has the old number.
GREEN_HOOK FILE* freopen(const char* path, const char* mode, FILE* stream)
{
    if (hooks::raw_caller())
        return GREEN_REAL(freopen)(path, mode, stream);
    if (stream) {
        int fd = fileno(stream);
        if (fd >= 0)
            fd_table::note_close(fd);
    }
    FILE* r = GREEN_REAL(freopen)(path, mode, stream);
    if (r)
        note_new(fileno(r));
    return r;
}

extern "C" FILE* freopen64(const char* path, const char* mode, FILE* stream);
GREEN_HOOK FILE* freopen64(const char* path, const char* mode, FILE* stream)
{
    if (hooks::raw_caller())
        return GREEN_REAL(freopen64)(path, mode, stream);
    if (stream) {
        int fd = fileno(stream);
        if (fd >= 0)
            fd_table::note_close(fd);
    }
    FILE* r = GREEN_REAL(freopen64)(path, mode, stream);
    if (r)
        note_new(fileno(r));
    return r;
}
