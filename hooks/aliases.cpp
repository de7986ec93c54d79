// glibc's public double-underscore aliases of hooked calls (GLIBC_2.2.5, not GLIBC_PRIVATE):
// a program may link against them directly, so they lead to the same hooks.
#include "hook.hpp"

#include <cstdarg>
#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

extern "C" {
ssize_t __read(int, void*, size_t);
ssize_t __write(int, const void*, size_t);
int __close(int);
int __connect(int, const sockaddr*, socklen_t);
ssize_t __send(int, const void*, size_t, int);
int __nanosleep(const timespec*, timespec*);
int __dup2(int, int);
int __fcntl(int, int, ...);
int __pipe(int[2]);
}

GREEN_HOOK ssize_t __read(int fd, void* buf, size_t count) { return read(fd, buf, count); }
GREEN_HOOK ssize_t __write(int fd, const void* buf, size_t count) { return write(fd, buf, count); }
GREEN_HOOK int __close(int fd) { return close(fd); }
GREEN_HOOK int __connect(int fd, const sockaddr* addr, socklen_t len) { return connect(fd, addr, len); }
GREEN_HOOK ssize_t __send(int fd, const void* buf, size_t len, int flags) { return send(fd, buf, len, flags); }
GREEN_HOOK int __nanosleep(const timespec* request, timespec* remain) { return nanosleep(request, remain); }
GREEN_HOOK int __dup2(int old_fd, int new_fd) { return dup2(old_fd, new_fd); }
GREEN_HOOK int __pipe(int fds[2]) { return pipe(fds); }

GREEN_HOOK int __fcntl(int fd, int cmd, ...)
{
    va_list args;
    va_start(args, cmd);
    void* arg = va_arg(args, void*);  // every fcntl argument fits in a pointer-sized slot
    va_end(args);
    return fcntl(fd, cmd, arg);
}
