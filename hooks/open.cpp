// open, open64, __open, __open64, __open_2, __open64_2, openat, openat64, __openat_2,
// __openat64_2, creat, creat64, fopen, fopen64.
//
// An open blocks only on a FIFO opened for reading or for writing alone, without O_NONBLOCK:
// it waits in the kernel until the other end is opened, perhaps by another green thread of the
// same hub, which then never runs. There is no fd to wait on yet, so such an open runs on the
// offload pool while only the calling green thread waits, exactly as the program asked (the
// same flags, the same answer, errors included).
//
// Telling a FIFO apart costs a stat of the path. It is paid only by opens that could block
// (one access mode, no O_NONBLOCK, O_PATH, O_DIRECTORY or O_TMPFILE, not O_CREAT with O_EXCL),
// and only when the calling green thread's hub has other green threads, which the open could
// hold up: a program with one thread, or one whose threads each have a hub, opens as natively.
// A path that becomes a FIFO between the stat and the open blocks the hub thread, as before.
#include "fd_table.hpp"
#include "hook.hpp"
#include "hub.hpp"
#include "zerocopy.hpp"

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>

extern "C" int __open(const char* path, int flags, ...);
extern "C" int __open64(const char* path, int flags, ...);
extern "C" int __open_2(const char* path, int flags);
extern "C" int __open64_2(const char* path, int flags);
extern "C" int __openat_2(int dirfd, const char* path, int flags);
extern "C" int __openat64_2(int dirfd, const char* path, int flags);

using namespace green;

namespace {

bool open_may_block(int flags)
{
    int access = flags & O_ACCMODE;
    if (access == O_RDWR || (flags & (O_NONBLOCK | O_PATH | O_DIRECTORY)))
        return false;  // a FIFO opened read-write, or without blocking, never waits
    if ((flags & O_TMPFILE) == O_TMPFILE || (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
        return false;  // a new file, never an existing FIFO
    return true;
}

// Whether this open should go to the offload pool: a green caller whose hub has other green
// threads, opening a FIFO in a way that waits for its other end.
bool offload_open(int dirfd, const char* path, int flags)
{
    if (!open_may_block(flags) || !hooks::green_caller())
        return false;
    hub* h = hub::current();
    if (!h || h->live_fibers() < 2)
        return false;
    struct stat st;
    int saved = errno;
    bool fifo = fstatat(dirfd, path, &st, (flags & O_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0) == 0 &&
                S_ISFIFO(st.st_mode);
    errno = saved;
    return fifo;
}

// The open as the program made it, on the offload pool if it may wait on another thread.
template <class Real>
int green_open(int dirfd, const char* path, int flags, Real&& real)
{
    if (!offload_open(dirfd, path, flags))
        return real();
    int fd = int(hooks::offloaded([&] { return long(real()); }));
    if (fd >= 0)
        fd_table::note_open(fd, fd_info{});  // a new number: classified on first use
    return fd;
}

// open's mode argument is there only with O_CREAT or O_TMPFILE.
mode_t mode_argument(int flags, va_list args)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? mode_t(va_arg(args, int)) : 0;
}

FILE* green_fopen(const char* path, const char* mode, FILE* (*real)(const char*, const char*))
{
    // fopen's flags, as glibc reads the mode: 'r', 'w' or 'a', then '+' for both ways.
    int flags = mode && mode[0] == 'r' ? O_RDONLY : O_WRONLY;
    if (mode && std::strchr(mode, '+'))
        flags = O_RDWR;
    if (!mode || !offload_open(AT_FDCWD, path, flags))
        return real(path, mode);
    long r = hooks::offloaded([&] {
        FILE* f = real(path, mode);
        return f ? long(reinterpret_cast<std::intptr_t>(f)) : -1L;
    });
    if (r < 0)
        return nullptr;
    FILE* f = reinterpret_cast<FILE*>(r);
    fd_table::note_open(fileno(f), fd_info{});
    return f;
}

}  // namespace

#define GREEN_OPEN_HOOK(name)                                                                  \
    GREEN_HOOK int name(const char* path, int flags, ...)                                      \
    {                                                                                          \
        va_list args;                                                                          \
        va_start(args, flags);                                                                 \
        mode_t mode = mode_argument(flags, args);                                              \
        va_end(args);                                                                          \
        return green_open(AT_FDCWD, path, flags,                                               \
                          [&] { return GREEN_REAL(name)(path, flags, mode); });                \
    }

GREEN_OPEN_HOOK(open)
GREEN_OPEN_HOOK(open64)
GREEN_OPEN_HOOK(__open)
GREEN_OPEN_HOOK(__open64)

#define GREEN_OPENAT_HOOK(name)                                                                \
    GREEN_HOOK int name(int dirfd, const char* path, int flags, ...)                           \
    {                                                                                          \
        va_list args;                                                                          \
        va_start(args, flags);                                                                 \
        mode_t mode = mode_argument(flags, args);                                              \
        va_end(args);                                                                          \
        return green_open(dirfd, path, flags,                                                  \
                          [&] { return GREEN_REAL(name)(dirfd, path, flags, mode); });         \
    }

GREEN_OPENAT_HOOK(openat)
GREEN_OPENAT_HOOK(openat64)

// The fortified forms, for calls without O_CREAT (they check that themselves).
GREEN_HOOK int __open_2(const char* path, int flags)
{
    return green_open(AT_FDCWD, path, flags, [&] { return GREEN_REAL(__open_2)(path, flags); });
}

GREEN_HOOK int __open64_2(const char* path, int flags)
{
    return green_open(AT_FDCWD, path, flags, [&] { return GREEN_REAL(__open64_2)(path, flags); });
}

GREEN_HOOK int __openat_2(int dirfd, const char* path, int flags)
{
    return green_open(dirfd, path, flags,
                      [&] { return GREEN_REAL(__openat_2)(dirfd, path, flags); });
}

GREEN_HOOK int __openat64_2(int dirfd, const char* path, int flags)
{
    return green_open(dirfd, path, flags,
                      [&] { return GREEN_REAL(__openat64_2)(dirfd, path, flags); });
}

GREEN_HOOK int creat(const char* path, mode_t mode)
{
    return green_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC,
                      [&] { return GREEN_REAL(creat)(path, mode); });
}

GREEN_HOOK int creat64(const char* path, mode_t mode)
{
    return green_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC,
                      [&] { return GREEN_REAL(creat64)(path, mode); });
}

GREEN_HOOK FILE* fopen(const char* path, const char* mode)
{
    return green_fopen(path, mode, GREEN_REAL(fopen));
}

GREEN_HOOK FILE* fopen64(const char* path, const char* mode)
{
    return green_fopen(path, mode, GREEN_REAL(fopen64));
}
