// Waiting for a child process to change state without blocking the hub: the fiber parks on a
// pidfd (readable once the child has exited), or, for "any child" and process-group waits, on a
// private epoll set holding a pidfd per child plus an eventfd that is written each time the
// process makes a new child (so a waiter sees children born after it parked).
//
// Nothing here reaps: the caller retries its own wait call with WNOHANG after each wake-up, so
// only the children the program asked for are ever reaped, and SIGCHLD stays the program's.
#pragma once

#include "fiber.hpp"

#include <sys/types.h>
#include <sys/wait.h>

namespace green::child_watch {

enum class result {
    changed,      // a child in the set may have changed state (or the set changed): retry
    interrupted,  // a signal handler ran (per `mode`)
    unsupported,  // no pidfd could be had: the caller blocks natively
};

// An eventfd that also ends the wait when written (edge-triggered, never drained), and the flag
// its writer sets before writing: a write that came before the wait started shows in the flag.
struct extra_wake {
    int fd = -1;
    const volatile bool* flag = nullptr;
};

// Parks the running fiber until a child selected by (idtype, id) may have exited, or `extra`
// was written. idtype is P_PID, P_PGID (id 0: the caller's group), P_ALL or P_PIDFD (id: the
// program's pidfd). Process groups are watched as "any child": a wake-up for another child is
// only a spurious retry.
result wait(idtype_t idtype, id_t id, interrupt_mode mode, extra_wake extra = {});

// The process has made a child (fork, vfork, posix_spawn, popen...): waiters for any child
// look again. Async-signal-safe; preserves errno.
void note_child_created();

}  // namespace green::child_watch
