// fork, __fork, _Fork, vfork (vfork_x86_64_sysv_elf_gas.S), posix_spawn, posix_spawnp.
//
// In a forked child only the calling thread lives on, and the hubs it inherited share their epoll
// sets with the parent's: the child forgets them all and makes a fresh one on its next blocking
// call (fork's pthread_atfork handlers, preload/init.cpp; _Fork runs no handlers, so its hook
// does their work).
// In the parent, a new child is announced to green threads waiting for "any child" (wait.cpp);
// not by a vfork child, whose memory (and so the announcement) is its parent's.
#include "child_watch.hpp"
#include "hook.hpp"
#include "keyed_lock.hpp"
#include "signals.hpp"

#include <spawn.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
// Exported by AddressSanitizer's runtime for its own vfork, not declared in its headers: clears
// the poisoning of the calling thread's stack below `sp`.
extern "C" void __asan_handle_vfork(void* sp);
#endif

using namespace green;

GREEN_HOOK pid_t fork()
{
    // A vfork child's fork is its own business: the watch it would tell is its parent's.
    if (hooks::in_vfork_child())
        return GREEN_REAL(fork)();
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
    if (hooks::in_vfork_child())
        return GREEN_REAL(_Fork)();
    hub::before_fork();
    pid_t pid = GREEN_REAL(_Fork)();
    if (pid == 0) {
        preload::forget_parent_hubs();
        return 0;
    }
    hub::after_fork_in_parent();
    if (pid > 0)
        child_watch::note_child_created();
    return pid;
}

// The two halves of vfork around its system call (see the .S file).
extern "C" void green_vfork_enter()
{
    hooks::lend_own_mask();  // the child's mask is the calling green thread's
    ++tls.vfork_depth;
}

// `caller_sp`: the stack pointer vfork's caller had, below which the child's frames lay.
extern "C" long green_vfork_leave(long result, void* caller_sp)
{
#if defined(__SANITIZE_ADDRESS__)
    // The child ran on this stack and left its frames' poisoning below the caller's frame, as
    // the sanitizer's own vfork would have it cleared (this vfork replaces that one).
    __asan_handle_vfork(caller_sp);
#else
    (void)caller_sp;
#endif
    --tls.vfork_depth;
    hooks::end_own_mask();
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
    hooks::lend_own_mask();  // the child's mask is the calling green thread's
    int r = GREEN_REAL(posix_spawn)(pid, path, actions, attr, argv, envp);
    hooks::end_own_mask();
    if (r == 0 && !hooks::in_vfork_child())
        child_watch::note_child_created();
    return r;
}

GREEN_HOOK int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* actions,
                            const posix_spawnattr_t* attr, char* const argv[], char* const envp[])
{
    hooks::lend_own_mask();
    int r = GREEN_REAL(posix_spawnp)(pid, file, actions, attr, argv, envp);
    hooks::end_own_mask();
    if (r == 0 && !hooks::in_vfork_child())
        child_watch::note_child_created();
    return r;
}
