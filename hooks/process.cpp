// fork, __fork, _Fork, vfork (vfork_x86_64_sysv_elf_gas.S), posix_spawn, posix_spawnp.
//
// In a forked child only the calling thread lives on, and the hub it inherited shares its epoll
// sets with the parent's: the child drops it and makes a fresh one on its next blocking call
// (fork's pthread_atfork handler, preload/init.cpp; _Fork runs no handlers, so its hook does it).
// In the parent, a new child is announced to green threads waiting for "any child" (wait.cpp).
#include "child_watch.hpp"
#include "hook.hpp"
#include "keyed_lock.hpp"

#include <spawn.h>
#include <unistd.h>

using namespace green;

GREEN_HOOK pid_t fork()
{
    pid_t pid = GREEN_REAL(fork)();
    if (pid > 0)
        child_watch::note_child_created();
    return pid;
}

extern "C" pid_t __fork();
GREEN_HOOK pid_t __fork()
{
    return fork();
}

GREEN_HOOK pid_t _Fork()
{
    pid_t pid = GREEN_REAL(_Fork)();
    if (pid == 0) {
        keyed_lock::forget_after_fork();
        hub::abandon_after_fork();
    } else if (pid > 0)
        child_watch::note_child_created();
    return pid;
}

// The two halves of vfork around its system call (see the .S file).
extern "C" void green_vfork_enter()
{
    ++tls.internal_depth;
}

extern "C" long green_vfork_leave(long result)
{
    --tls.internal_depth;
    if (result < 0) {
        errno = int(-result);
        return -1;
    }
    child_watch::note_child_created();
    return result;
}

GREEN_HOOK int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
                           const posix_spawnattr_t* attr, char* const argv[], char* const envp[])
{
    int r = GREEN_REAL(posix_spawn)(pid, path, actions, attr, argv, envp);
    if (r == 0)
        child_watch::note_child_created();
    return r;
}

GREEN_HOOK int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* actions,
                            const posix_spawnattr_t* attr, char* const argv[], char* const envp[])
{
    int r = GREEN_REAL(posix_spawnp)(pid, file, actions, attr, argv, envp);
    if (r == 0)
        child_watch::note_child_created();
    return r;
}
