// Waiting for children without blocking the hub: a fiber parked on one child, on any child
// (including one born after it parked), the extra wake-up eventfd, a runtime fd that moves while
// a fiber waits on it, and that nothing here ever reaps.
#include "child_watch.hpp"
#include "fd_table.hpp"
#include "hub.hpp"

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdint>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

using green::hub;
namespace child_watch = green::child_watch;
namespace fd_table = green::fd_table;

namespace {

pid_t child_exiting_after(int ms, int code)
{
    pid_t pid = fork();
    if (pid == 0) {
        usleep(useconds_t(ms) * 1000);
        _exit(code);
    }
    return pid;
}

struct waiter_state {
    idtype_t idtype;
    id_t id;
    child_watch::extra_wake extra;
    child_watch::result result = child_watch::result::unsupported;
    bool done = false;
};

green::fiber* spawn_waiter(hub* h, waiter_state& st)
{
    return h->spawn(
        [](void* p) {
            auto* s = static_cast<waiter_state*>(p);
            s->result = child_watch::wait(s->idtype, s->id, green::interrupt_mode::never, s->extra);
            s->done = true;
        },
        &st);
}

}  // namespace

TEST_CASE("a fiber parked on one child wakes when it exits, and nothing is reaped", "[child]")
{
    hub* h = hub::for_this_thread();
    pid_t pid = child_exiting_after(50, 7);
    REQUIRE(pid > 0);
    waiter_state st{P_PID, id_t(pid), {}};
    auto* f = spawn_waiter(h, st);
    int ticks = 0;
    while (!st.done) {  // the hub goes on running other fibers meanwhile
        h->sleep_until(green::now_ns() + 5000000, green::interrupt_mode::never);
        ++ticks;
    }
    h->join(f);
    CHECK(st.result == child_watch::result::changed);
    CHECK(ticks >= 3);
    int status = 0;
    REQUIRE(waitpid(pid, &status, WNOHANG) == pid);  // still there for the program to reap
    CHECK(WEXITSTATUS(status) == 7);
}

TEST_CASE("an any-child wait sees a child made after it parked", "[child]")
{
    hub* h = hub::for_this_thread();
    pid_t slow = child_exiting_after(5000, 1);
    waiter_state st{P_ALL, 0, {}};
    auto* f = spawn_waiter(h, st);
    h->yield();  // parked, watching the slow child only
    pid_t quick = child_exiting_after(10, 2);
    child_watch::note_child_created();
    h->join(f);
    CHECK(st.result == child_watch::result::changed);
    int status = 0;
    CHECK(waitpid(slow, &status, WNOHANG) == 0);  // woken by the new child, not the slow one
    CHECK(waitpid(quick, &status, 0) == quick);
    kill(slow, SIGKILL);
    CHECK(waitpid(slow, &status, 0) == slow);
}

TEST_CASE("the extra eventfd ends the wait; its flag set before the wait ends it at once", "[child]")
{
    hub* h = hub::for_this_thread();
    pid_t slow = child_exiting_after(5000, 1);
    int efd = fd_table::adopt_runtime_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    REQUIRE(efd >= 0);
    volatile bool flag = false;
    waiter_state st{P_PID, id_t(slow), {efd, &flag}};
    auto* f = spawn_waiter(h, st);
    h->yield();
    CHECK_FALSE(st.done);
    std::uint64_t one = 1;
    REQUIRE(write(efd, &one, sizeof one) == sizeof one);
    h->join(f);
    CHECK(st.result == child_watch::result::changed);

    flag = true;  // as a signal handler that wrote before the wait began
    waiter_state again{P_PID, id_t(slow), {efd, &flag}};
    f = spawn_waiter(h, again);
    h->join(f);
    CHECK(again.result == child_watch::result::changed);
    fd_table::release_runtime_fd(efd);
    kill(slow, SIGKILL);
    int status;
    CHECK(waitpid(slow, &status, 0) == slow);
}

TEST_CASE("a tracked runtime fd moves when its number is wanted", "[child]")
{
    int slot = fd_table::adopt_runtime_fd(eventfd(0, EFD_CLOEXEC));
    REQUIRE(slot >= 0);
    REQUIRE(fd_table::is_runtime_fd(slot));
    fd_table::track_runtime_fd_slot(&slot);
    int old = slot;
    int moved = fd_table::relocate_runtime_fd(old);
    REQUIRE(moved >= 0);
    CHECK(moved != old);
    CHECK(slot == moved);
    CHECK(fd_table::is_runtime_fd(moved));
    CHECK_FALSE(fd_table::is_runtime_fd(old));
    std::uint64_t one = 1, got = 0;
    CHECK(write(slot, &one, sizeof one) == sizeof one);  // the same eventfd, under its new number
    CHECK(read(old, &got, sizeof got) == sizeof got);
    CHECK(got == 1);
    close(old);  // the program's now
    fd_table::untrack_runtime_fd_slot(&slot);
    fd_table::release_runtime_fd(slot);
}

TEST_CASE("an untracked runtime fd cannot move unless it is disposable", "[child]")
{
    int fd = fd_table::adopt_runtime_fd(eventfd(0, EFD_CLOEXEC));
    REQUIRE(fd >= 0);
    errno = 0;
    CHECK(fd_table::relocate_runtime_fd(fd) == -1);  // as a c-ares socket: its number is kept
    CHECK(errno == EBUSY);
    CHECK(fd_table::is_runtime_fd(fd));
    fd_table::mark_runtime_fd_disposable(fd);
    CHECK(fd_table::relocate_runtime_fd(fd) == fd);  // given up where it is
    CHECK_FALSE(fd_table::is_runtime_fd(fd));
    close(fd);
}
