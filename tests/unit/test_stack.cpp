// Stacks: sizes, pooling, guards, and the overflow report (in a child process).
#include "hub.hpp"
#include "overflow.hpp"
#include "stack.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <pthread.h>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

std::size_t native_default()
{
    pthread_attr_t attr;
    std::size_t size = 0;
    pthread_getattr_default_np(&attr);
    pthread_attr_getstacksize(&attr, &size);
    pthread_attr_destroy(&attr);
    return size;
}

// Runs `body` in a child process; returns its exit status and what it wrote to stderr.
template <class Body>
std::pair<int, std::string> in_child(Body body)
{
    int pipe_fds[2];
    REQUIRE(pipe(pipe_fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(pipe_fds[1], STDERR_FILENO);
        close(pipe_fds[0]);
        body();
        _exit(0);
    }
    close(pipe_fds[1]);
    std::string err;
    char buf[512];
    ssize_t n;
    while ((n = read(pipe_fds[0], buf, sizeof buf)) > 0)
        err.append(buf, std::size_t(n));
    close(pipe_fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return {status, err};
}

int recurse(int depth)
{
    volatile char frame[1024];
    frame[0] = char(depth);
    return depth > 0 ? recurse(depth + 1) + frame[0] : 0;  // never stops: overflows
}

void overflow_entry(void*)
{
    recurse(1);
}

}  // namespace

TEST_CASE("the default stack size is a native thread's", "[stack]")
{
    green::configure_stacks({});
    CHECK(green::default_stack_size() == native_default());
}

TEST_CASE("released stacks are reused", "[stack]")
{
    green::configure_stacks({});
    green::stack a;
    REQUIRE(green::allocate_stack(0, a));
    void* mapping = a.mapping;
    green::release_stack(a);
    green::stack b;
    REQUIRE(green::allocate_stack(0, b));
    CHECK(b.mapping == mapping);
    green::release_stack(b);
}

TEST_CASE("a requested size is honoured and guarded", "[stack]")
{
    green::configure_stacks({0, green::guard_policy::always, 16});
    green::stack s;
    REQUIRE(green::allocate_stack(100 * 1024, s));
    CHECK(s.usable_size() >= 100 * 1024);
    CHECK(s.guarded);
    CHECK(s.in_guard(static_cast<char*>(s.limit) - 1));
    green::release_stack(s);
    green::configure_stacks({});
}

TEST_CASE("stacks without guards when asked", "[stack]")
{
    green::configure_stacks({0, green::guard_policy::never, 16});
    green::stack s;
    REQUIRE(green::allocate_stack(64 * 1024, s));
    CHECK_FALSE(s.guarded);
    green::release_stack(s);
    green::configure_stacks({});
}

TEST_CASE("a stack overflow prints one line naming the green thread and aborts", "[stack]")
{
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    auto [status, err] = in_child([&] {
        green::configure_stacks({64 * 1024, green::guard_policy::always, 16});
        green::install_overflow_handler();
        green::hub* h = green::hub::for_this_thread();
        green::fiber* f = h->spawn(&overflow_entry, nullptr);
        (void)!write(fds[1], &f->id, sizeof f->id);  // tell the parent which thread it is
        h->join(f);
    });
    std::uint64_t id = 0;
    REQUIRE(read(fds[0], &id, sizeof id) == sizeof id);
    close(fds[0]);
    close(fds[1]);
    INFO("child status " << status << ", stderr: " << err);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGABRT);
    CHECK(err == "libgreen: green thread " + std::to_string(id) +
                     " overflowed its stack of 64 KiB; raise GREEN_STACK_SIZE (or the size the "
                     "program gives pthread_attr_setstacksize)\n");
}

TEST_CASE("an unguarded stack overflow is caught at the next switch", "[stack]")
{
    auto [status, err] = in_child([] {
        green::hub* h = green::hub::for_this_thread();
        // An unguarded 64 KiB stack with mapped memory below it, as among many unguarded
        // stacks: the overflow does not fault, so only the check at the switch can see it.
        constexpr std::size_t size = 64 * 1024;
        char* region = static_cast<char*>(mmap(nullptr, 4 * size, PROT_READ | PROT_WRITE,
                                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        green::spawn_options options;
        options.stack_base = region + 3 * size;
        options.stack_size = size;
        green::fiber* f = h->spawn(
            [](void*) {
                volatile char big[64 * 1024 + 1024];
                big[sizeof big - 1] = 1;
                green::hub::current()->yield();
                big[sizeof big - 2] = big[sizeof big - 1];
            },
            nullptr, options);
        h->join(f);
    });
    INFO("child status " << status << ", stderr: " << err);
    CHECK(WIFSIGNALED(status));
    CHECK(err.find("overflowed its stack of 64 KiB") != std::string::npos);
}

TEST_CASE("an unguarded stack's overflow stays in its own mapping", "[stack]")
{
    // Past the guard budget, stacks are mapped next to each other. An overflow of less than
    // the red zone (64 KiB) must land in the overflowing stack's own untouched memory, not in
    // the frames of the stack below it, so the switch check reports it before harm is done.
    green::configure_stacks({0, green::guard_policy::never, 0});
    constexpr std::size_t size = 64 * 1024;
    green::stack stacks[8];
    for (auto& s : stacks)
        REQUIRE(green::allocate_stack(size, s));
    for (auto& s : stacks) {
        CHECK_FALSE(s.guarded);
        CHECK(static_cast<char*>(s.limit) - static_cast<char*>(s.mapping) >= 32 * 1024);
        // The top of every other stack holds its oldest frames.
        for (auto& o : stacks)
            if (&o != &s)
                std::memset(static_cast<char*>(o.top) - 4096, 0x5a, 4096);
        std::memset(static_cast<char*>(s.limit) - 32 * 1024, 0xa5, 32 * 1024);  // the overflow
        for (auto& o : stacks) {
            if (&o == &s)
                continue;
            const char* t = static_cast<const char*>(o.top) - 4096;
            bool intact = true;
            for (std::size_t i = 0; i < 4096; ++i)
                intact = intact && t[i] == 0x5a;
            CHECK(intact);
        }
    }
    for (auto& s : stacks)
        green::release_stack(s);
    green::configure_stacks({});
}
