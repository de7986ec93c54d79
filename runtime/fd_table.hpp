// What the runtime knows about each fd of the process: its kind, the blocking mode the program
// sees, its socket timeouts, which hub's poller it is registered with, and who waits on it.
//
// An fd is registered once, edge-triggered, with the poller of the first hub that waits on it,
// and stays registered until it is closed: per-wait registration costs two epoll_ctl calls and
// halves throughput. A slot's generation changes at every close, so an event or a waiter for a
// closed fd can never be mistaken for one of the fd that reuses its number.
#pragma once

#include "fiber.hpp"

#include <cstddef>
#include <cstdint>

namespace green {

class hub;

enum class fd_kind : std::uint8_t {
    unknown,   // not looked at yet
    socket,    // made green with MSG_DONTWAIT per call
    pollable,  // pipes, FIFOs, ttys, eventfd, timerfd, signalfd, inotify: readiness first
    inert,     // regular files, directories, block devices, /dev/null: never "ready"-polled
    runtime,   // the runtime's own fds: invisible to the program
};

struct fd_info {
    fd_kind kind = fd_kind::unknown;
    bool nonblocking = false;        // O_NONBLOCK as the program set it
    // The fd was made by a call that gives a new open file description (socket, socketpair,
    // pipe, accept, eventfd, epoll_create) and has not been duplicated: its O_NONBLOCK changes
    // only through this number, so an F_SETFL on another fd need not make it look again.
    bool exclusive = false;
    std::uint64_t recv_timeout = 0;  // SO_RCVTIMEO in ns, 0: none
    std::uint64_t send_timeout = 0;  // SO_SNDTIMEO in ns, 0: none
    int socket_type = 0;             // SOCK_STREAM, SOCK_DGRAM... for sockets
    bool fifo = false;               // a pipe or FIFO (its free space can be measured)
    int access = 2;                  // O_RDONLY, O_WRONLY or O_RDWR, from the open file
    bool no_nowait = false;          // refuses RWF_NOWAIT (FIFOs, ttys...): poll before I/O
    std::uint32_t generation = 0;

    bool stream() const { return socket_type == 1 /* SOCK_STREAM */; }
    bool readable() const { return access != 1 /* O_WRONLY */; }
    bool writable() const { return access != 0 /* O_RDONLY */; }
    // Whether a blocking transfer on this fd is made green: a pollable kind, in blocking mode,
    // open for that direction (otherwise libc fails at once, and must).
    bool green_for_reading() const
    {
        return (kind == fd_kind::socket || kind == fd_kind::pollable) && !nonblocking && readable();
    }
    bool green_for_writing() const
    {
        return (kind == fd_kind::socket || kind == fd_kind::pollable) && !nonblocking && writable();
    }
};

// One fd of a wait on several (poll, select, epoll_wait): what wakes it, and the record linked
// into the fd's slot while the fiber is parked. Lives on the waiting fiber's stack.
struct fd_watch {
    int fd = -1;
    std::uint32_t events = 0;  // any of EPOLLIN, EPOLLOUT, EPOLLPRI, EPOLLERR (errors, hang-up)
    fd_waiter waiter;
};

enum class fd_wait_result { ready, timed_out, closed, interrupted, not_pollable };

namespace fd_table {

// The largest fd the table tracks; larger fds pass straight through.
constexpr int max_tracked_fd = 1 << 20;

// Classifies the fd on first sight (fstat, F_GETFL, SO_RCVTIMEO/SO_SNDTIMEO). Never fails:
// an fd that is not open reads as `inert`, so the real call reports EBADF itself.
fd_info lookup(int fd);

// An fd the program just received from a hooked call, with what that call tells about it
// (kind, nonblocking, timeouts, socket_type, fifo; the generation is ignored). A kind of
// `unknown` only forgets what was known, to be classified on next use (dup, F_DUPFD).
void note_open(int fd, const fd_info& what);

// Before the real close (or dup2 onto fd, or fclose): parked waiters wake with `closed`, the
// poller registration is dropped. Preserves errno.
void note_close(int fd);

// The same for a close made in two steps around the real close, note_closing before it and
// note_closed (with what note_closing returned) after: a wait on another thread that looked the
// fd up and registered it between the two (the fd was still open) would otherwise park for
// ever, as the real close takes the fd out of every epoll set without an event. Both keep errno.
std::uint32_t note_closing(int fd);
void note_closed(int fd, std::uint32_t generation);

// A program's signal handler closed fd, replaced it (dup2) or got it as a new number: it may
// take no lock, so the slot is only marked, and the next flow that uses the slot retires it
// (waking its waiters with `closed`, dropping its registrations) and classifies it afresh.
// Async-signal-safe; allocates nothing.
void note_closed_in_handler(int fd);

// O_NONBLOCK changed on some open file description; descriptions are shared between dup'd fds,
// so every cached mode not known to be exclusive is re-read on next use (one F_GETFL each).
void note_flags_changed();

// Around a program's F_SETFL or FIONBIO on fd: note_flags_changing before the real call,
// note_flags_set after it (`ok`: it succeeded; `nonblocking`: the mode it set). An exclusive
// fd's mode is recorded as set (if two such calls on it overlap, it is re-read instead); any
// other fd's change bumps the epoch. Both keep errno.
void note_flags_changing(int fd);
void note_flags_set(int fd, bool ok, bool nonblocking);

// The same from a caller that may take no lock (a signal handler, a vfork child, whose F_SETFL
// changes the parent's description): marks fd for a re-read and bumps the epoch. Lock-free.
void note_flags_changed_raw(int fd);

// fd is about to be duplicated (dup, dup2, dup3, F_DUPFD): it is no longer exclusive.
void note_duplicated(int fd);

// An fd arrived that may share its open file description with any fd of the process (one
// received with SCM_RIGHTS, one a signal handler duplicated): no fd made before it is taken
// for exclusive any more. Lock-free.
void note_descriptions_shared();

void note_timeout(int fd, bool receive, std::uint64_t timeout_ns);

// The fd's file refused preadv2/pwritev2 with RWF_NOWAIT (EOPNOTSUPP): it is polled before
// each transfer from now on.
void note_no_nowait(int fd, std::uint32_t generation);

// The runtime's own fds: moved above the program's range, close-on-exec, and reported as not
// open (EBADF) to a program that tries to close them. Returns the new fd, or -1 with errno.
int adopt_runtime_fd(int fd);
bool is_runtime_fd(int fd);
// Closes a runtime fd (hub teardown). Ignores -1.
void release_runtime_fd(int fd);

// The places that hold runtime fd numbers (a hub's members, libuv's loop fields, the runtime's
// own variables), so that a runtime fd can move when the program wants its number. A slot is
// read and written with atomic builtins by the mover; its owner untracks it before the memory
// goes away. Tracking the same slot twice is harmless.
void track_runtime_fd_slot(int* slot);
void untrack_runtime_fd_slot(int* slot);

// The program dup2s or dup3s onto `fd`, a runtime fd: the runtime's file moves to a new
// number (close-on-exec, above the floor) and every tracked slot holding `fd` is updated; the
// old number is then the program's to take. An epoll set or libuv watcher that registered the
// old number keeps its registration: epoll keys it by the open file, which stays open under
// the new number. Returns the new number, or -1 with errno (EMFILE) if it cannot move.
int relocate_runtime_fd(int fd);

// A runtime fd that nothing of the runtime's ever uses again after it is made (libuv's
// process-wide signal lock pipe: only uv_signal handles, which the runtime never starts, touch
// it). A dup2 onto it simply takes it; other untracked runtime fds (c-ares sockets, whose
// numbers c-ares keeps) make such a dup2 fail with EBUSY.
void mark_runtime_fd_disposable(int fd);

// Records the runtime fds adopted by the calling thread while it lives (at most `capacity`).
class adoption_recorder {
public:
    adoption_recorder();
    ~adoption_recorder();
    adoption_recorder(const adoption_recorder&) = delete;
    adoption_recorder& operator=(const adoption_recorder&) = delete;
    void note(int fd)
    {
        if (count_ < capacity)
            fds_[count_++] = fd;
    }
    const int* begin() const { return fds_; }
    const int* end() const { return fds_ + count_; }

private:
    static constexpr int capacity = 16;
    int fds_[capacity];
    int count_ = 0;
    adoption_recorder* outer_;
};

// Parks the running fiber until `events` (EPOLLIN/EPOLLOUT) may be possible on fd, the deadline
// passes, the fd is closed or a signal interrupts. `generation` is the one lookup returned.
fd_wait_result wait(int fd, std::uint32_t generation, std::uint32_t events,
                    std::uint64_t deadline, interrupt_mode mode);

// Parks the running fiber until an event in `events` may have happened on any of the fds, one
// of them is closed, the deadline passes or a signal interrupts (per `mode`). Returns `ready`
// for an event or a close alike: the caller asks the real call again which fds are ready.
//
// Fds whose readiness never changes (regular files, /dev/null: the kernel's poll reports them
// always ready for reading and writing, never for the rest) are not watched. Fds the table
// cannot watch (beyond max_tracked_fd, or refused by the poller for lack of room) end the wait
// with `timed_out` after at most `recheck_interval_ns`, so the caller asks again; that is the
// only case where a readiness wait is not purely event-driven. With no fds it is a sleep.
fd_wait_result wait_any(fd_watch* watches, std::size_t count, std::uint64_t deadline,
                        interrupt_mode mode);

constexpr std::uint64_t recheck_interval_ns = 1000000;

// Called by a hub's poller for each event it reads.
void dispatch(std::uint64_t token, std::uint32_t events);

// Drops every registration with `owner`'s poller (the hub is going away).
void forget_hub(hub* owner);

// In the child of fork, before anything else of the table is used: every registration and
// every waiter belongs to a hub of the parent's. Forgets them all without telling the pollers
// (their epoll sets are the parent's too, and its threads still wait on those fds), and frees
// the locks that threads absent from the child may have held.
void forget_every_hub_after_fork();

}  // namespace fd_table
}  // namespace green
