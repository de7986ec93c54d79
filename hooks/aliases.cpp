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

// The pthread names glibc also exports with two underscores, for programs linked against
// libpthread before glibc 2.34 merged it.
#include <pthread.h>

GREEN_HOOK int __pthread_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* a)
{
    return pthread_mutex_init(m, a);
}
GREEN_HOOK int __pthread_mutex_destroy(pthread_mutex_t* m) { return pthread_mutex_destroy(m); }
GREEN_HOOK int __pthread_mutex_lock(pthread_mutex_t* m) { return pthread_mutex_lock(m); }
GREEN_HOOK int __pthread_mutex_trylock(pthread_mutex_t* m) { return pthread_mutex_trylock(m); }
GREEN_HOOK int __pthread_mutex_unlock(pthread_mutex_t* m) { return pthread_mutex_unlock(m); }
GREEN_HOOK int __pthread_rwlock_init(pthread_rwlock_t* l, const pthread_rwlockattr_t* a)
{
    return pthread_rwlock_init(l, a);
}
GREEN_HOOK int __pthread_rwlock_destroy(pthread_rwlock_t* l) { return pthread_rwlock_destroy(l); }
GREEN_HOOK int __pthread_rwlock_rdlock(pthread_rwlock_t* l) { return pthread_rwlock_rdlock(l); }
GREEN_HOOK int __pthread_rwlock_tryrdlock(pthread_rwlock_t* l)
{
    return pthread_rwlock_tryrdlock(l);
}
GREEN_HOOK int __pthread_rwlock_wrlock(pthread_rwlock_t* l) { return pthread_rwlock_wrlock(l); }
GREEN_HOOK int __pthread_rwlock_trywrlock(pthread_rwlock_t* l)
{
    return pthread_rwlock_trywrlock(l);
}
GREEN_HOOK int __pthread_rwlock_unlock(pthread_rwlock_t* l) { return pthread_rwlock_unlock(l); }
GREEN_HOOK int __pthread_once(pthread_once_t* o, void (*f)(void)) { return pthread_once(o, f); }
GREEN_HOOK int __pthread_key_create(pthread_key_t* k, void (*d)(void*))
{
    return pthread_key_create(k, d);
}
GREEN_HOOK void* __pthread_getspecific(pthread_key_t k) { return pthread_getspecific(k); }
GREEN_HOOK int __pthread_setspecific(pthread_key_t k, const void* v)
{
    return pthread_setspecific(k, v);
}
