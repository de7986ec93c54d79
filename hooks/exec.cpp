// execve, execv, execvp, execvpe, execl, execle, execlp, fexecve, execveat: the new program
// starts with the calling green thread's own signal mask.
//
// The kernel's mask for a hub's OS thread is what every green thread of the hub blocks
// (runtime/signal_mask.hpp), and an exec keeps the kernel's mask. So each call lends the caller's
// own mask to the OS thread for the system call and, if the call fails and returns, puts the
// census back. glibc's execl* and execvp* reach execve inside libc, where no hook sees them:
// each entry point is hooked on its own. Nothing else changes: the arguments, the search of
// PATH and every error are libc's.
#include "signals.hpp"

#include "hook.hpp"

#include <alloca.h>
#include <cstdarg>
#include <unistd.h>

using namespace green;

namespace {

// Runs the real call with the caller's own mask in the kernel; returns only on failure.
template <class Call>
int with_own_mask(Call&& call)
{
    hooks::lend_own_mask();
    int r = call();
    int saved = errno;
    hooks::end_own_mask();
    errno = saved;
    return r;
}

// An execl list's argc: its arguments from `first` up to the NULL, without consuming `ap`.
std::size_t count_args(const char* first, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    std::size_t n = 0;
    for (const char* a = first; a; a = va_arg(copy, const char*))
        ++n;
    va_end(copy);
    return n;
}

}  // namespace

GREEN_HOOK int execve(const char* path, char* const argv[], char* const envp[])
{
    return with_own_mask([&] { return GREEN_REAL(execve)(path, argv, envp); });
}

GREEN_HOOK int execv(const char* path, char* const argv[])
{
    return with_own_mask([&] { return GREEN_REAL(execv)(path, argv); });
}

GREEN_HOOK int execvp(const char* file, char* const argv[])
{
    return with_own_mask([&] { return GREEN_REAL(execvp)(file, argv); });
}

GREEN_HOOK int execvpe(const char* file, char* const argv[], char* const envp[])
{
    return with_own_mask([&] { return GREEN_REAL(execvpe)(file, argv, envp); });
}

GREEN_HOOK int fexecve(int fd, char* const argv[], char* const envp[])
{
    return with_own_mask([&] { return GREEN_REAL(fexecve)(fd, argv, envp); });
}

GREEN_HOOK int execveat(int dirfd, const char* path, char* const argv[], char* const envp[],
                        int flags)
{
    return with_own_mask([&] { return GREEN_REAL(execveat)(dirfd, path, argv, envp, flags); });
}

// The l-forms become their v-forms, as in glibc; the v-form's hook lends the mask. The argv is
// on the stack (alloca, as glibc's): these may run in a vfork child or a signal handler.
#define GREEN_EXECL_ARGV(argv, arg, ap)                                                      \
    std::size_t argc_ = count_args(arg, ap);                                                 \
    char** argv = static_cast<char**>(alloca((argc_ + 1) * sizeof(char*)));                  \
    argv[0] = const_cast<char*>(arg);                                                        \
    for (std::size_t i_ = 1; i_ <= argc_; ++i_)                                              \
        argv[i_] = const_cast<char*>(i_ < argc_ ? va_arg(ap, const char*) : nullptr);        \
    if (argc_ > 0)                                                                           \
        (void)va_arg(ap, const char*) /* the NULL */

GREEN_HOOK int execl(const char* path, const char* arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    GREEN_EXECL_ARGV(argv, arg, ap);
    va_end(ap);
    return execv(path, argv);
}

GREEN_HOOK int execlp(const char* file, const char* arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    GREEN_EXECL_ARGV(argv, arg, ap);
    va_end(ap);
    return execvp(file, argv);
}

GREEN_HOOK int execle(const char* path, const char* arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    GREEN_EXECL_ARGV(argv, arg, ap);
    char* const* envp = va_arg(ap, char* const*);  // after the NULL
    va_end(ap);
    return execve(path, argv, envp);
}
