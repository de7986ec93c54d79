// Waiting on fds: thousands at once, close while parked, fd number reuse, runtime fds, waits on
// several fds at once.
#include "fd_table.hpp"
#include "hub.hpp"

#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <thread>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using green::hub;
namespace fd_table = green::fd_table;

namespace {

green::fd_info socket_info()
{
    green::fd_info info;
    info.kind = green::fd_kind::socket;
    info.socket_type = SOCK_STREAM;
    return info;
}

// A blocking receive as the hooks make it: try without blocking, park until readable.
ssize_t green_recv(int fd, void* buf, std::size_t len, green::fd_wait_result* last = nullptr)
{
    for (;;) {
        ssize_t r = recv(fd, buf, len, MSG_DONTWAIT);
        if (r >= 0 || errno != EAGAIN)
            return r;
        green::fd_info info = fd_table::lookup(fd);
        auto w = fd_table::wait(fd, info.generation, EPOLLIN, green::no_deadline,
                                green::interrupt_mode::unless_restart);
        if (last)
            *last = w;
        if (w != green::fd_wait_result::ready) {
            errno = EBADF;
            return -1;
        }
    }
}

void raise_fd_limit(rlim_t wanted)
{
    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    if (lim.rlim_cur < wanted && lim.rlim_max >= wanted) {
        lim.rlim_cur = wanted;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
}

}  // namespace

TEST_CASE("thousands of fibers each parked on its own socket all progress", "[fd]")
{
    raise_fd_limit(20000);
    hub* h = hub::for_this_thread();
    REQUIRE(h);
    constexpr int n = 3000;
    struct conn {
        int reader = -1, writer = -1;
        char got = 0;
    };
    std::vector<conn> conns(n);
    for (auto& c : conns) {
        int sv[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        c.reader = sv[0];
        c.writer = sv[1];
        fd_table::note_open(c.reader, socket_info());
    }
    std::vector<green::fiber*> readers;
    for (auto& c : conns)
        readers.push_back(h->spawn(
            [](void* p) {
                auto* c = static_cast<conn*>(p);
                REQUIRE(green_recv(c->reader, &c->got, 1) == 1);
            },
            &c));
    // Let every reader park, then feed them in reverse order.
    h->yield();
    CHECK(green::stats.fd_waits.load() >= std::uint64_t(n));
    for (int i = n - 1; i >= 0; --i) {
        char byte = char('a' + i % 26);
        REQUIRE(write(conns[i].writer, &byte, 1) == 1);
    }
    for (auto* f : readers)
        h->join(f);
    for (int i = 0; i < n; ++i) {
        REQUIRE(conns[i].got == char('a' + i % 26));
        fd_table::note_close(conns[i].reader);
        close(conns[i].reader);
        close(conns[i].writer);
    }
}

TEST_CASE("a fiber parked on an fd that another fiber closes wakes with closed", "[fd]")
{
    hub* h = hub::for_this_thread();
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    fd_table::note_open(sv[0], socket_info());
    struct state {
        int fd;
        green::fd_wait_result result = green::fd_wait_result::ready;
        ssize_t r = 0;
    } st{sv[0]};
    auto* reader = h->spawn(
        [](void* p) {
            auto* s = static_cast<state*>(p);
            char c;
            s->r = green_recv(s->fd, &c, 1, &s->result);
        },
        &st);
    h->yield();  // the reader parks
    fd_table::note_close(sv[0]);
    close(sv[0]);
    h->join(reader);
    CHECK(st.r == -1);
    CHECK(st.result == green::fd_wait_result::closed);
    close(sv[1]);
}

TEST_CASE("an fd closed in a signal handler is retired by the next use of its slot", "[fd]")
{
    hub* h = hub::for_this_thread();
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    fd_table::note_open(sv[0], socket_info());
    struct state {
        int fd;
        green::fd_wait_result result = green::fd_wait_result::ready;
        ssize_t r = 0;
    } st{sv[0]};
    auto* reader = h->spawn(
        [](void* p) {
            auto* s = static_cast<state*>(p);
            char c;
            s->r = green_recv(s->fd, &c, 1, &s->result);
        },
        &st);
    h->yield();  // the reader parks
    // As a handler does it: marked without the lock, then closed, and the number reused by a
    // file the table never heard of.
    fd_table::note_closed_in_handler(sv[0]);
    int file = open("/proc/self/status", O_RDONLY);
    REQUIRE(file >= 0);
    REQUIRE(dup2(file, sv[0]) == sv[0]);
    close(file);
    CHECK(fd_table::lookup(sv[0]).kind == green::fd_kind::inert);  // classified afresh
    h->join(reader);
    CHECK(st.r == -1);
    CHECK(st.result == green::fd_wait_result::closed);
    fd_table::note_close(sv[0]);
    close(sv[0]);
    close(sv[1]);
}

TEST_CASE("a reused fd number never wakes the old waiter", "[fd]")
{
    hub* h = hub::for_this_thread();
    int first[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, first) == 0);
    fd_table::note_open(first[0], socket_info());
    green::fd_info old_info = fd_table::lookup(first[0]);
    REQUIRE(old_info.kind == green::fd_kind::socket);

    // Close and reopen: the kernel hands out the same number again.
    fd_table::note_close(first[0]);
    close(first[0]);
    int second[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, second) == 0);
    REQUIRE(second[0] == first[0]);
    fd_table::note_open(second[0], socket_info());

    // A wait with the old generation is refused at once...
    auto stale = fd_table::wait(second[0], old_info.generation, EPOLLIN, green::no_deadline,
                                green::interrupt_mode::never);
    CHECK(stale == green::fd_wait_result::closed);
    // ...and one with the new generation works.
    auto* reader = h->spawn(
        [](void* p) {
            char c = 0;
            REQUIRE(green_recv(*static_cast<int*>(p), &c, 1) == 1);
            REQUIRE(c == 'z');
        },
        &second[0]);
    h->yield();
    REQUIRE(write(second[1], "z", 1) == 1);
    h->join(reader);
    fd_table::note_close(second[0]);
    close(second[0]);
    close(second[1]);
    close(first[1]);
}

TEST_CASE("a wait times out at its deadline", "[fd]")
{
    hub::for_this_thread();
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    fd_table::note_open(sv[0], socket_info());
    green::fd_info info = fd_table::lookup(sv[0]);
    std::uint64_t deadline = green::now_ns() + 10000000u;
    auto r = fd_table::wait(sv[0], info.generation, EPOLLIN, deadline,
                            green::interrupt_mode::always);
    CHECK(r == green::fd_wait_result::timed_out);
    CHECK(green::now_ns() >= deadline);
    fd_table::note_close(sv[0]);
    close(sv[0]);
    close(sv[1]);
}

TEST_CASE("regular files and /dev/null are never polled; pipes and sockets are", "[fd]")
{
    int file = open("/proc/self/status", O_RDONLY);
    int null_fd = open("/dev/null", O_RDWR);
    int p[2];
    REQUIRE(pipe(p) == 0);
    CHECK(fd_table::lookup(file).kind == green::fd_kind::inert);
    CHECK(fd_table::lookup(null_fd).kind == green::fd_kind::inert);
    CHECK(fd_table::lookup(p[0]).kind == green::fd_kind::pollable);
    CHECK(fd_table::lookup(p[0]).fifo);
    CHECK(fd_table::lookup(12345).kind == green::fd_kind::inert);  // not open
    for (int fd : {file, null_fd, p[0], p[1]}) {
        fd_table::note_close(fd);
        close(fd);
    }
}

TEST_CASE("the runtime's fds are moved out of the program's range", "[fd]")
{
    int low_before = dup(0);  // the number the program gets next
    close(low_before);
    int raw = dup(0);         // taken by the runtime...
    REQUIRE(raw == low_before);
    int moved = fd_table::adopt_runtime_fd(raw);
    CHECK(moved > 100);
    CHECK(fd_table::is_runtime_fd(moved));
    CHECK((fcntl(moved, F_GETFD) & FD_CLOEXEC) != 0);
    // ...and given back: the program's next fd is the one it would have had without us.
    int next = dup(0);
    CHECK(next == low_before);
    close(next);
    fd_table::release_runtime_fd(moved);
    CHECK_FALSE(fd_table::is_runtime_fd(moved));
}

TEST_CASE("a waiter is woken even while the hub that first registered the fd is busy", "[fd]")
{
    // Thread A waits on the fd first (registering it with its hub), then computes without
    // returning to its hub. Thread B then waits on the same fd: the data must wake B at once,
    // as it would wake a native thread, not when A's hub next runs.
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    fd_table::note_open(sv[0], socket_info());
    std::atomic<bool> a_registered{false}, b_done{false}, a_stop{false};
    std::atomic<bool> b_woke_while_a_busy{false};

    std::thread a([&] {
        hub::for_this_thread();
        green::fd_info info = fd_table::lookup(sv[0]);
        fd_table::wait(sv[0], info.generation, EPOLLIN, green::now_ns() + 1000000u,
                       green::interrupt_mode::never);  // times out: registered, now idle
        a_registered = true;
        std::uint64_t give_up = green::now_ns() + 5000000000u;
        while (!a_stop && green::now_ns() < give_up) {
        }  // busy: its hub does not run
        hub::destroy_for_this_thread();
    });
    while (!a_registered) {
    }
    std::thread b([&] {
        hub::for_this_thread();
        char c = 0;
        REQUIRE(green_recv(sv[0], &c, 1) == 1);
        b_woke_while_a_busy = !a_stop;
        b_done = true;
        hub::destroy_for_this_thread();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let B park
    REQUIRE(write(sv[1], "x", 1) == 1);
    b.join();
    a_stop = true;
    a.join();
    CHECK(b_woke_while_a_busy);
    fd_table::note_close(sv[0]);
    close(sv[0]);
    close(sv[1]);
}

// Waits on several fds at once (poll, select, epoll_wait).
namespace {

struct any_wait {
    std::vector<green::fd_watch> watches;
    std::uint64_t deadline = green::no_deadline;
    green::interrupt_mode mode = green::interrupt_mode::always;
    green::fd_wait_result result = green::fd_wait_result::not_pollable;
    bool done = false;
};

void run_any_wait(void* p)
{
    auto* w = static_cast<any_wait*>(p);
    w->result = fd_table::wait_any(w->watches.data(), w->watches.size(), w->deadline, w->mode);
    w->done = true;
}

green::fd_watch watch(int fd, std::uint32_t events)
{
    green::fd_watch w;
    w.fd = fd;
    w.events = events;
    return w;
}

}  // namespace

TEST_CASE("a fiber parked on several fds wakes on an event of any of them", "[fd]")
{
    hub* h = hub::for_this_thread();
    int a[2], b[2], p[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, a) == 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, b) == 0);
    REQUIRE(pipe(p) == 0);
    for (int which = 0; which < 3; ++which) {
        any_wait w;
        w.watches = {watch(a[0], EPOLLIN), watch(p[0], EPOLLIN), watch(b[0], EPOLLIN)};
        auto* f = h->spawn(run_any_wait, &w);
        h->yield();  // it parks
        REQUIRE_FALSE(w.done);
        // Other fibers run while it is parked: this one does, and wakes it.
        int writer = which == 0 ? a[1] : which == 1 ? p[1] : b[1];
        REQUIRE(write(writer, "x", 1) == 1);
        h->join(f);
        CHECK(w.result == green::fd_wait_result::ready);
        char c;
        REQUIRE(read(which == 0 ? a[0] : which == 1 ? p[0] : b[0], &c, 1) == 1);
        // Every record was unlinked: nothing of the finished wait stays in the slots.
        for (auto& x : w.watches)
            CHECK_FALSE(x.waiter.linked);
    }
    // A later event on an fd of a finished wait wakes nobody (and touches no dead record).
    REQUIRE(write(a[1], "y", 1) == 1);
    h->yield();
    for (int fd : {a[0], a[1], b[0], b[1], p[0], p[1]}) {
        fd_table::note_close(fd);
        close(fd);
    }
}

TEST_CASE("a multi-fd wait wakes only for the events it asked for", "[fd]")
{
    hub* h = hub::for_this_thread();
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    REQUIRE(write(sv[0], "x", 1) == 1);
    any_wait w;
    w.watches = {watch(sv[0], EPOLLIN)};
    w.deadline = green::now_ns() + 100000000u;
    auto* f = h->spawn(run_any_wait, &w);
    h->yield();
    // Reading on the other side makes sv[0] writable again: an EPOLLOUT edge, not EPOLLIN.
    char c;
    REQUIRE(read(sv[1], &c, 1) == 1);
    h->join(f);
    CHECK(w.result == green::fd_wait_result::timed_out);
    CHECK(green::now_ns() >= w.deadline);

    // An fd asked with EPOLLERR alone (poll's events = 0) wakes on a hang-up.
    any_wait hup;
    hup.watches = {watch(sv[0], EPOLLERR)};
    f = h->spawn(run_any_wait, &hup);
    h->yield();
    REQUIRE_FALSE(hup.done);
    close(sv[1]);
    h->join(f);
    CHECK(hup.result == green::fd_wait_result::ready);
    fd_table::note_close(sv[0]);
    close(sv[0]);
}

TEST_CASE("the same fd twice, and many fibers on one fd, all wake", "[fd]")
{
    hub* h = hub::for_this_thread();
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    std::vector<any_wait> waits(20);
    std::vector<green::fiber*> fibers;
    for (auto& w : waits) {
        w.watches = {watch(sv[0], EPOLLIN), watch(sv[0], EPOLLIN | EPOLLOUT)};
        fibers.push_back(h->spawn(run_any_wait, &w));
    }
    h->yield();
    for (auto& w : waits)
        REQUIRE_FALSE(w.done);
    REQUIRE(write(sv[1], "x", 1) == 1);
    for (auto* f : fibers)
        h->join(f);
    for (auto& w : waits)
        CHECK(w.result == green::fd_wait_result::ready);
    fd_table::note_close(sv[0]);
    close(sv[0]);
    close(sv[1]);
}

TEST_CASE("a multi-fd wait ends when one of its fds is closed", "[fd]")
{
    hub* h = hub::for_this_thread();
    int a[2], b[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, a) == 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, b) == 0);
    any_wait w;
    w.watches = {watch(a[0], EPOLLIN), watch(b[0], EPOLLIN)};
    auto* f = h->spawn(run_any_wait, &w);
    h->yield();
    REQUIRE_FALSE(w.done);
    fd_table::note_close(b[0]);
    close(b[0]);
    h->join(f);
    CHECK(w.result == green::fd_wait_result::ready);

    // An fd that is not open at all: the caller must look again at once, without parking.
    int closed_fd = b[0];
    auto parks = green::stats.parks.load();
    green::fd_watch ws[] = {watch(a[0], EPOLLIN), watch(closed_fd, EPOLLIN)};
    CHECK(fd_table::wait_any(ws, 2, green::no_deadline, green::interrupt_mode::always) ==
          green::fd_wait_result::ready);
    CHECK(green::stats.parks.load() == parks);
    CHECK_FALSE(ws[0].waiter.linked);
    for (int fd : {a[0], a[1], b[1]}) {
        fd_table::note_close(fd);
        close(fd);
    }
}

TEST_CASE("a multi-fd wait on no fds or only on files is a sleep to its deadline", "[fd]")
{
    hub* h = hub::for_this_thread();
    std::uint64_t deadline = green::now_ns() + 20000000u;
    CHECK(fd_table::wait_any(nullptr, 0, deadline, green::interrupt_mode::always) ==
          green::fd_wait_result::timed_out);
    CHECK(green::now_ns() >= deadline);

    // A regular file and /dev/null never change readiness: not watched, no hang, no wake-up.
    int file = open("/proc/self/status", O_RDONLY);
    int null_fd = open("/dev/null", O_RDWR);
    REQUIRE(file >= 0);
    REQUIRE(null_fd >= 0);
    green::fd_watch ws[] = {watch(file, EPOLLPRI), watch(null_fd, EPOLLPRI)};
    deadline = green::now_ns() + 20000000u;
    CHECK(fd_table::wait_any(ws, 2, deadline, green::interrupt_mode::always) ==
          green::fd_wait_result::timed_out);
    CHECK(green::now_ns() >= deadline);
    for (int fd : {file, null_fd}) {
        fd_table::note_close(fd);
        close(fd);
    }
    (void)h;
}

TEST_CASE("a multi-fd wait is interrupted by a signal handler", "[fd]")
{
    hub* h = hub::for_this_thread();
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    any_wait w;
    w.watches = {watch(sv[0], EPOLLIN)};
    auto* f = h->spawn(run_any_wait, &w);
    h->yield();
    REQUIRE_FALSE(w.done);
    h->note_signal(SIGUSR1, /*restart=*/true);  // poll and select are never restarted
    h->join(f);
    CHECK(w.result == green::fd_wait_result::interrupted);
    fd_table::note_close(sv[0]);
    close(sv[0]);
    close(sv[1]);
}

TEST_CASE("a multi-fd wait on an epoll set wakes when the set gets an event", "[fd]")
{
    // A program's own epoll set is an fd like any other to the hub's poller (nested epoll);
    // the program's registrations in it are its own.
    hub* h = hub::for_this_thread();
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int ep = epoll_create1(0);
    REQUIRE(ep >= 0);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 42;
    REQUIRE(epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev) == 0);
    // The hub registered sv[0] in its poller too, first (a green read waited on it).
    green::fd_watch first[] = {watch(sv[0], EPOLLIN)};
    fd_table::wait_any(first, 1, green::now_ns() + 1000000u, green::interrupt_mode::never);

    any_wait w;
    w.watches = {watch(ep, EPOLLIN)};
    auto* f = h->spawn(run_any_wait, &w);
    h->yield();
    REQUIRE_FALSE(w.done);
    REQUIRE(write(sv[1], "x", 1) == 1);
    h->join(f);
    CHECK(w.result == green::fd_wait_result::ready);
    epoll_event got{};
    REQUIRE(epoll_wait(ep, &got, 1, 0) == 1);
    CHECK(got.data.u64 == 42u);
    CHECK((got.events & EPOLLIN) != 0);
    for (int fd : {ep, sv[0], sv[1]}) {
        fd_table::note_close(fd);
        close(fd);
    }
}

TEST_CASE("a multi-fd wait watches an fd the table wrongly took for a file", "[fd]")
{
    // The number was a regular file, closed inside libc (past the hooks) and reused by a pipe.
    hub* h = hub::for_this_thread();
    int p[2];
    REQUIRE(pipe(p) == 0);
    green::fd_info stale;
    stale.kind = green::fd_kind::inert;
    fd_table::note_open(p[0], stale);
    any_wait w;
    w.watches = {watch(p[0], EPOLLIN)};
    w.deadline = green::now_ns() + 5000000000u;
    auto* f = h->spawn(run_any_wait, &w);
    h->yield();
    REQUIRE_FALSE(w.done);
    REQUIRE(write(p[1], "x", 1) == 1);
    h->join(f);
    CHECK(w.result == green::fd_wait_result::ready);
    for (int fd : {p[0], p[1]}) {
        fd_table::note_close(fd);
        close(fd);
    }
}

TEST_CASE("a fork child that forgets the hubs and closes an fd leaves the parent's waiters", "[fd][fork]")
{
    // Thread B waits on the fd with a hub of its own, as does this thread. The child forgets
    // every hub (it shares their epoll sets with the parent) and closes the fd: B must still
    // be woken by the data written after the child has gone.
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    fd_table::note_open(sv[0], socket_info());
    hub::for_this_thread();
    green::fd_info info = fd_table::lookup(sv[0]);
    fd_table::wait(sv[0], info.generation, EPOLLIN, green::now_ns() + 1000000u,
                   green::interrupt_mode::never);  // times out: registered with this hub
    std::atomic<bool> parked{false};
    char got = 0;
    std::thread b([&] {
        hub::for_this_thread();
        parked = true;
        char c = 0;
        if (green_recv(sv[0], &c, 1) == 1)
            got = c;
        hub::destroy_for_this_thread();
    });
    while (!parked) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let B park
    hub::before_fork();
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        hub::abandon_after_fork();
        fd_table::note_close(sv[0]);
        close(sv[0]);
        // A fresh hub of the child's own works.
        hub* h = hub::for_this_thread();
        int p[2];
        bool ok = h && pipe(p) == 0 && write(p[1], "c", 1) == 1;
        if (ok) {
            green::fd_info pi = fd_table::lookup(p[0]);
            ok = fd_table::wait(p[0], pi.generation, EPOLLIN, green::no_deadline,
                                green::interrupt_mode::never) == green::fd_wait_result::ready;
        }
        _exit(ok ? 0 : 1);
    }
    hub::after_fork_in_parent();
    int status = -1;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(status == 0);
    REQUIRE(write(sv[1], "p", 1) == 1);
    b.join();
    CHECK(got == 'p');
}

TEST_CASE("a hub that shares another hub's registration does not miss an edge", "[fd]")
{
    // Four other threads' hubs hold the fd's registrations (the most an fd gets); this hub
    // relies on theirs. The fd becomes ready between this caller's failed attempt and its
    // wait (here: before the wait), and those hubs' loops do not run: no edge will ever reach
    // this waiter through them, so the wait itself must see that the fd is ready.
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    fd_table::note_open(sv[0], socket_info());
    std::atomic<int> registered{0};
    std::atomic<bool> finish{false};
    std::vector<std::thread> others;
    for (int i = 0; i < 4; ++i)
        others.emplace_back([&] {
            hub::for_this_thread();
            green::fd_info info = fd_table::lookup(sv[0]);
            fd_table::wait(sv[0], info.generation, EPOLLIN, green::now_ns() + 1000000,
                           green::interrupt_mode::never);  // registers, then times out
            ++registered;
            while (!finish)  // alive, with its registration, and its loop not running
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            hub::destroy_for_this_thread();
        });
    while (registered < 4)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    hub::for_this_thread();
    char c = 'x';
    REQUIRE(write(sv[1], &c, 1) == 1);
    green::fd_info info = fd_table::lookup(sv[0]);
    auto r = fd_table::wait(sv[0], info.generation, EPOLLIN, green::now_ns() + 2000000000u,
                            green::interrupt_mode::never);
    CHECK(r == green::fd_wait_result::ready);
    {
        green::fd_watch w;
        w.fd = sv[0];
        w.events = EPOLLIN;
        auto any = fd_table::wait_any(&w, 1, green::now_ns() + 2000000000u,
                                      green::interrupt_mode::never);
        CHECK(any == green::fd_wait_result::ready);
    }
    finish = true;
    for (auto& t : others)
        t.join();
    fd_table::note_close(sv[0]);
    close(sv[0]);
    close(sv[1]);
}

TEST_CASE("a wait that registers an fd while it is being closed is woken by the close", "[fd]")
{
    // note_closing has run (the program's close is under way on another thread) but the fd
    // is still open: a wait that looks it up now registers it and parks. The real close drops
    // the registration silently; note_closed must wake that waiter (EBADF for the program).
    hub* h = hub::for_this_thread();
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    fd_table::note_open(sv[0], socket_info());
    std::uint32_t closing = fd_table::note_closing(sv[0]);
    struct shared_t {
        int fd;
        green::fd_wait_result r = green::fd_wait_result::ready;
    } s{sv[0]};
    auto* waiter = h->spawn(
        [](void* p) {
            auto* s = static_cast<shared_t*>(p);
            green::fd_info info = fd_table::lookup(s->fd);
            s->r = fd_table::wait(s->fd, info.generation, EPOLLIN,
                                  green::now_ns() + 2000000000u, green::interrupt_mode::never);
        },
        &s);
    h->yield();  // the waiter registers the fd and parks
    close(sv[0]);
    fd_table::note_closed(sv[0], closing);
    h->join(waiter);
    CHECK(s.r == green::fd_wait_result::closed);
    close(sv[1]);
}
