// system: glibc's, with the child waited for green. glibc waits inside libc (past the hooks),
// which would block the hub thread for as long as the command runs; this is the same sequence
// with the program-visible entry points: SIGINT and SIGQUIT ignored and SIGCHLD blocked in the
// caller while the command runs, restored to the default in the child unless they were
// ignored, `sh -c COMMAND` through posix_spawn, and a wait that parks.
#include "hook.hpp"

#include <csignal>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace green;

extern char** environ;

namespace {

// As glibc: concurrent system() calls share one save of the SIGINT and SIGQUIT dispositions;
// the first ignores them, the last restores them.
spinlock dispositions_lock;
int running_commands = 0;
struct sigaction saved_int, saved_quit;

void ignore_interactive_signals(struct sigaction* out_int, struct sigaction* out_quit)
{
    spinlock_guard g(dispositions_lock);
    if (running_commands++ == 0) {
        struct sigaction ignore{};
        ignore.sa_handler = SIG_IGN;
        sigemptyset(&ignore.sa_mask);
        ::sigaction(SIGINT, &ignore, &saved_int);
        ::sigaction(SIGQUIT, &ignore, &saved_quit);
    }
    *out_int = saved_int;
    *out_quit = saved_quit;
}

void restore_interactive_signals()
{
    spinlock_guard g(dispositions_lock);
    if (--running_commands == 0) {
        ::sigaction(SIGINT, &saved_int, nullptr);
        ::sigaction(SIGQUIT, &saved_quit, nullptr);
    }
}

int run_command(const char* line)
{
    struct sigaction intr{}, quit{};
    ignore_interactive_signals(&intr, &quit);
    sigset_t chld, old_mask;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &chld, &old_mask);

    sigset_t reset;
    sigemptyset(&reset);
    if (intr.sa_handler != SIG_IGN)
        sigaddset(&reset, SIGINT);
    if (quit.sa_handler != SIG_IGN)
        sigaddset(&reset, SIGQUIT);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &old_mask);
    posix_spawnattr_setsigdefault(&attr, &reset);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>(line),
                    nullptr};
    pid_t pid = 0;
    int spawn_error = ::posix_spawn(&pid, "/bin/sh", nullptr, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);

    int status;
    if (spawn_error == 0) {
        pid_t r;
        while ((r = ::waitpid(pid, &status, 0)) == -1 && errno == EINTR) {
        }
        if (r != pid)
            status = -1;
    } else {
        status = W_EXITCODE(127, 0);
    }
    int saved = errno;
    restore_interactive_signals();
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    errno = spawn_error ? spawn_error : saved;
    return status;
}

}  // namespace

GREEN_HOOK int system(const char* line)
{
    if (!hooks::green_caller())
        return GREEN_REAL(system)(line);
    if (!line)  // whether a shell is there (after a chroot it may not be)
        return run_command("exit 0") == 0;
    return run_command(line);
}
