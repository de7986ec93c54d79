// wait, __wait, waitpid, __waitpid, wait3, wait4, waitid.
//
// A blocking wait for a child's exit parks the green thread: the call is tried with WNOHANG, and
// if no child has changed state yet the fiber parks on the child's pidfd (or, for "any child" and
// process groups, on all the children's), then tries again. Only the program's own call ever
// reaps, with its own arguments, and SIGCHLD is left alone. Waits that also report stops or
// continues (WUNTRACED, WCONTINUED, waitid without WEXITED) block natively: a pidfd only reports
// an exit (README).
#include "blocked.hpp"
#include "child_watch.hpp"
#include "fd_table.hpp"
#include "hook.hpp"
#include "signals.hpp"

#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace green;

namespace green::hooks {
__thread child_wait_state child_wait_tls __attribute__((tls_model("initial-exec")));
}

namespace {

// How the program's pid argument of wait4 selects children, as waitid's idtype and id.
void select_children(pid_t pid, idtype_t& idtype, id_t& id)
{
    if (pid > 0) {
        idtype = P_PID;
        id = id_t(pid);
    } else if (pid == -1) {
        idtype = P_ALL;
        id = 0;
    } else {
        idtype = P_PGID;
        id = id_t(pid == 0 ? 0 : -pid);
    }
}

// The calling thread's eventfd for deferred SIGCHLDs (signals.hpp), made on first need.
int deferral_event()
{
    auto& st = hooks::child_wait_of_thread();
    pid_t self = pid_t(syscall(SYS_getpid));
    if (st.owner == self)
        return st.event_fd;
    internal_scope scope;
    if (st.owner != 0 && st.event_fd >= 0)
        fd_table::release_runtime_fd(st.event_fd);
    st.event_fd = fd_table::adopt_runtime_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    st.owner = st.event_fd >= 0 ? self : 0;
    fd_table::track_runtime_fd_slot(&st.event_fd);  // a dup2 onto its number moves it
    return st.event_fd;
}

struct deferral_event_release {
    ~deferral_event_release()
    {
        auto& st = hooks::child_wait_of_thread();
        fd_table::untrack_runtime_fd_slot(&st.event_fd);
        if (st.owner == pid_t(syscall(SYS_getpid)) && st.event_fd >= 0)
            fd_table::release_runtime_fd(st.event_fd);
        st.owner = 0;
    }
};
thread_local deferral_event_release release_at_thread_exit;

// Sends the SIGCHLD the trampoline deferred while the wait was parked to this thread again, now
// that the wait has taken its child: the program's handler runs as it would have natively,
// right after the wait returned. True if there was one.
bool replay_deferred_sigchld()
{
    if (!hooks::child_wait_of_thread().deferred)
        return false;
    hooks::child_wait_of_thread().deferred = false;
    int saved = errno;
    siginfo_t info = hooks::child_wait_of_thread().info;
    syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), SIGCHLD, &info);
    errno = saved;
    return true;
}

// One try-park-retry round of a green wait, during which SIGCHLD is held back (signals.hpp).
// Without the thread's eventfd nothing is held back, and the wait only ever sees its children.
class child_wait_window {
public:
    child_wait_window() : event_fd_(deferral_event())
    {
        // Registered on the OS thread's own TCB only: a green thread's thread_local
        // destructors run when that green thread ends, and the eventfd is the OS thread's.
        // (An OS thread whose green threads alone waited keeps its eventfd until the process
        // ends; only hubs of the main thread and of handed-over ones have such green threads.)
        if (!tls.os_tp)
            (void)&release_at_thread_exit;
        node_.self = tls.running;
        if (event_fd_ < 0 || !node_.self)
            return;
        auto& st = hooks::child_wait_of_thread();
        node_.next = st.waiters;
        std::atomic_signal_fence(std::memory_order_seq_cst);
        st.waiters = &node_;
        std::atomic_signal_fence(std::memory_order_seq_cst);
        open_ = true;
    }
    ~child_wait_window() { close(); }
    child_wait_window(const child_wait_window&) = delete;
    child_wait_window& operator=(const child_wait_window&) = delete;

    child_watch::extra_wake extra_wake() const
    {
        return {open_ ? event_fd_ : -1, &hooks::child_wait_of_thread().deferred};
    }

    // Leaves the window, then replays a SIGCHLD held back in it; true if there was one.
    bool close()
    {
        if (!open_)
            return false;
        open_ = false;
        auto& st = hooks::child_wait_of_thread();
        // Each store leaves a list the trampoline can walk; only this thread changes it.
        if (st.waiters == &node_) {
            st.waiters = node_.next;
        } else {
            for (hooks::child_waiter* w = st.waiters; w; w = w->next) {
                if (w->next == &node_) {
                    w->next = node_.next;
                    break;
                }
            }
        }
        std::atomic_signal_fence(std::memory_order_seq_cst);
        return replay_deferred_sigchld();
    }

private:
    int event_fd_;
    bool open_ = false;
    hooks::child_waiter node_{};
};

// attempt(extra_options) makes the program's call with extra_options or'ed in; it returns > 0
// when a child was reported, 0 when none has changed state (WNOHANG), -1 with errno.
template <class Attempt>
long green_wait(idtype_t idtype, id_t id, bool exits_only, Attempt&& attempt)
{
    if (!exits_only || hooks::process_traces.load(std::memory_order_relaxed) ||
        !hooks::green_caller() || !hub::for_this_thread())
        return attempt(0);
    int entry_errno = errno;
    for (;;) {
        child_wait_window window;
        long r = attempt(WNOHANG);
        if (r != 0) {
            window.close();
            return r;
        }
        child_watch::result w =
            child_watch::wait(idtype, id, interrupt_mode::unless_restart, window.extra_wake());
        if (w == child_watch::result::unsupported) {
            window.close();
            errno = entry_errno;
            return attempt(0);
        }
        // The kernel reports a child that exited before it reports the signal.
        r = attempt(WNOHANG);
        bool was_sigchld = window.close();
        if (r != 0)
            return r > 0 ? (errno = entry_errno, r) : r;
        // A handler with SA_RESTART lets the wait go on, as the kernel restarts it (signal(7)).
        // Without it, the handler that ended the park, or a held-back SIGCHLD for no child of
        // this wait, ends the wait with EINTR.
        if (w == child_watch::result::interrupted ||
            (was_sigchld && !hooks::handler_restarts(SIGCHLD))) {
            errno = EINTR;
            return -1;
        }
        errno = entry_errno;
    }
}

// `call` names the entry point for GREEN_STATS's count of calls that blocked their hub.
long green_wait4(const char* call, pid_t pid, int* status, int options, struct rusage* usage)
{
    idtype_t idtype;
    id_t id;
    select_children(pid, idtype, id);
    // __WALL and __WCLONE also wait for clone children (which have no pidfd) and are what
    // tracers pass: such waits block natively.
    bool exits_only = !(options & (WNOHANG | WUNTRACED | WCONTINUED | __WALL | __WCLONE));
    if (!exits_only && !(options & WNOHANG) && hooks::green_caller())
        blocked::note(call);
    return green_wait(idtype, id, exits_only, [&](int extra) -> long {
        return GREEN_REAL(wait4)(pid, status, options | extra, usage);
    });
}

}  // namespace

GREEN_HOOK pid_t wait4(pid_t pid, int* status, int options, struct rusage* usage)
{
    return pid_t(green_wait4("wait4", pid, status, options, usage));
}

GREEN_HOOK pid_t wait3(int* status, int options, struct rusage* usage)
{
    return pid_t(green_wait4("wait3", -1, status, options, usage));
}

GREEN_HOOK pid_t waitpid(pid_t pid, int* status, int options)
{
    return pid_t(green_wait4("waitpid", pid, status, options, nullptr));
}

extern "C" pid_t __waitpid(pid_t pid, int* status, int options);
GREEN_HOOK pid_t __waitpid(pid_t pid, int* status, int options)
{
    return pid_t(green_wait4("__waitpid", pid, status, options, nullptr));
}

GREEN_HOOK pid_t wait(int* status)
{
    return pid_t(green_wait4("wait", -1, status, 0, nullptr));
}

extern "C" pid_t __wait(int* status);
GREEN_HOOK pid_t __wait(int* status)
{
    return pid_t(green_wait4("__wait", -1, status, 0, nullptr));
}

GREEN_HOOK int waitid(idtype_t idtype, id_t id, siginfo_t* info, int options)
{
    bool exits_only = (options & WEXITED) &&
                      !(options & (WNOHANG | WSTOPPED | WCONTINUED | __WALL | __WCLONE));
    bool valid = info && (idtype == P_PID || idtype == P_PGID || idtype == P_ALL ||
                          idtype == P_PIDFD);
    if (!valid)
        exits_only = false;  // the kernel's errors (EFAULT, EINVAL) come from the plain call
    else if (!exits_only && !(options & WNOHANG) && hooks::green_caller())
        blocked::note("waitid");
    return int(green_wait(idtype, id, exits_only, [&](int extra) -> long {
        if (extra)
            info->si_pid = 0;  // WNOHANG and no child: the kernel leaves si_pid 0
        int r = GREEN_REAL(waitid)(idtype, id, info, options | extra);
        if (r == 0 && extra && info->si_pid == 0)
            return 0;
        return r == 0 ? 1 : -1;
    })) == -1 ? -1 : 0;
}
