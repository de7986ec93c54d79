/* epoll_wait, epoll_pwait and epoll_pwait2 on the program's own epoll sets: timeouts, data that
 * arrives later, the program's registrations kept exactly (its data, level- and edge-triggered,
 * EPOLLONESHOT) even for fds the library also waits on for a blocking read, a nested epoll set,
 * errors, EINTR with SA_RESTART, and the signal masks of epoll_pwait and epoll_pwait2.
 * No threads. */
#include "transcript.h"

#include <spawn.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t hits;

static void on_signal(int sig)
{
    (void)sig;
    hits++;
}

static void arm_ms(long ms)
{
    struct itimerval it = {.it_interval = {0, 0}, .it_value = {ms / 1000, (ms % 1000) * 1000}};
    REQUIRE(setitimer(ITIMER_REAL, &it, NULL) == 0);
}

static pid_t spawn_sh(const char *script, int out)
{
    pid_t pid;
    posix_spawn_file_actions_t fa;
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    REQUIRE(posix_spawn_file_actions_init(&fa) == 0);
    REQUIRE(posix_spawn_file_actions_adddup2(&fa, out, 1) == 0);
    REQUIRE(posix_spawnp(&pid, "sh", &fa, NULL, argv, child_env()) == 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static void reap(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
        ;
    say("  child exit: %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void show_events(const struct epoll_event *ev, int n)
{
    for (int i = 0; i < n; i++)
        say("  event: data %llu, %s%s%s", (unsigned long long)ev[i].data.u64,
            (ev[i].events & EPOLLIN) ? "EPOLLIN " : "", (ev[i].events & EPOLLOUT) ? "EPOLLOUT " : "",
            (ev[i].events & EPOLLHUP) ? "EPOLLHUP" : "");
}

static void add(int ep, int fd, uint32_t events, uint64_t data)
{
    struct epoll_event ev = {.events = events, .data.u64 = data};
    REQUIRE(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
}

int main(void)
{
    char buf[64];
    double t0;
    struct epoll_event ev[8];
    long n;

    REQUIRE(signal(SIGPIPE, SIG_IGN) != SIG_ERR);

    say("== timeouts and data that comes later");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    REQUIRE(ep >= 0);
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    add(ep, p[0], EPOLLIN, 1001);
    CALL(epoll_wait(ep, ev, 8, 0));
    t0 = mono_now();
    CALL(epoll_wait(ep, ev, 8, 50));
    say("  waited for the timeout: %s", yesno(mono_now() - t0 >= 0.045));
    pid_t pid = spawn_sh("sleep 0.2; printf later", p[1]);
    n = CALL(epoll_wait(ep, ev, 8, -1));
    show_events(ev, (int)n);
    reap(pid);
    say("-- level-triggered: still reported while unread");
    n = CALL(epoll_wait(ep, ev, 8, 1000));
    show_events(ev, (int)n);
    n = CALL(read(p[0], buf, sizeof buf));
    show_bytes("read", buf, n);

    say("== an fd the library waited on for a blocking read keeps the program's registration");
    {
        pid = spawn_sh("sleep 0.1; printf r", p[1]);
        n = CALL(read(p[0], buf, sizeof buf)); /* parks: the library registers p[0] itself */
        show_bytes("read", buf, n);
        reap(pid);
        CALL(epoll_wait(ep, ev, 8, 30));
        pid = spawn_sh("sleep 0.1; printf s", p[1]);
        n = CALL(epoll_wait(ep, ev, 8, 5000));
        show_events(ev, (int)n);
        reap(pid);
        REQUIRE(read(p[0], buf, sizeof buf) == 1);
    }

    say("== edge-triggered and one-shot registrations behave as the program set them");
    {
        int et = epoll_create1(EPOLL_CLOEXEC), q[2];
        REQUIRE(et >= 0);
        REQUIRE(pipe2(q, O_CLOEXEC) == 0);
        add(et, q[0], EPOLLIN | EPOLLET, 7);
        pid = spawn_sh("sleep 0.1; printf ab", q[1]);
        n = CALL(epoll_wait(et, ev, 8, 5000));
        show_events(ev, (int)n);
        reap(pid);
        CALL(epoll_wait(et, ev, 8, 50)); /* no new edge: nothing, though unread */
        REQUIRE(read(q[0], buf, 1) == 1);

        int os = epoll_create1(EPOLL_CLOEXEC);
        REQUIRE(os >= 0);
        add(os, q[0], EPOLLIN | EPOLLONESHOT, 8);
        n = CALL(epoll_wait(os, ev, 8, 5000));
        show_events(ev, (int)n);
        CALL(epoll_wait(os, ev, 8, 50)); /* disarmed until EPOLL_CTL_MOD */
        struct epoll_event re = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = 9};
        CALL(epoll_ctl(os, EPOLL_CTL_MOD, q[0], &re));
        n = CALL(epoll_wait(os, ev, 8, 5000));
        show_events(ev, (int)n);

        say("-- a nested epoll set");
        int outer = epoll_create1(EPOLL_CLOEXEC);
        REQUIRE(outer >= 0);
        REQUIRE(read(q[0], buf, sizeof buf) == 1);
        int inner = epoll_create1(EPOLL_CLOEXEC);
        REQUIRE(inner >= 0);
        add(inner, q[0], EPOLLIN, 11);
        add(outer, inner, EPOLLIN, 12);
        pid = spawn_sh("sleep 0.1; printf n", q[1]);
        n = CALL(epoll_wait(outer, ev, 8, 5000));
        show_events(ev, (int)n);
        n = CALL(epoll_wait(inner, ev, 8, 0));
        show_events(ev, (int)n);
        reap(pid);

        say("-- a hang-up");
        close(q[1]);
        n = CALL(epoll_wait(inner, ev, 8, 5000));
        show_events(ev, (int)n);
        close(et);
        close(os);
        close(outer);
        close(inner);
        close(q[0]);
    }

    say("== errors");
    {
        CALL(epoll_wait(ep, ev, 0, 10));
        CALL(epoll_wait(-1, ev, 8, 10));
        CALL(epoll_wait(p[0], ev, 8, 10));
        struct timespec bad = {0, -1};
        CALL(epoll_pwait2(ep, ev, 8, &bad, NULL));
    }

    say("== a signal handler interrupts epoll_wait, SA_RESTART or not");
    install_handler(SIGALRM, on_signal, SA_RESTART);
    arm_ms(50);
    CALL(epoll_wait(ep, ev, 8, -1));
    say("  handler ran: %d", (int)hits);
    arm_ms(50);
    CALL(epoll_pwait(ep, ev, 8, 5000, NULL));
    say("  handler ran: %d", (int)hits);
    arm_ms(50);
    CALL(epoll_pwait2(ep, ev, 8, NULL, NULL));
    say("  handler ran: %d", (int)hits);

    say("== epoll_pwait2's timeout and the masks of epoll_pwait and epoll_pwait2");
    {
        struct timespec ts = {0, 40 * 1000 * 1000};
        t0 = mono_now();
        CALL(epoll_pwait2(ep, ev, 8, &ts, NULL));
        say("  waited for the timeout: %s", yesno(mono_now() - t0 >= 0.035));

        install_handler(SIGUSR1, on_signal, 0);
        sigset_t usr1, none, with_alrm;
        sigemptyset(&none);
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        sigemptyset(&with_alrm);
        sigaddset(&with_alrm, SIGALRM);
        REQUIRE(sigprocmask(SIG_BLOCK, &usr1, NULL) == 0);

        hits = 0;
        raise(SIGUSR1);
        CALL(epoll_pwait(ep, ev, 8, 5000, &none));
        say("  handler ran: %d", (int)hits);

        hits = 0;
        pid_t parent = getpid();
        pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            struct timespec d = {0, 100 * 1000 * 1000};
            nanosleep(&d, NULL);
            kill(parent, SIGUSR1);
            _exit(0);
        }
        struct timespec long_wait = {5, 0};
        t0 = mono_now();
        CALL(epoll_pwait2(ep, ev, 8, &long_wait, &none));
        say("  handler ran: %d, early: %s", (int)hits, yesno(mono_now() - t0 < 2.0));
        reap(pid);

        hits = 0;
        install_handler(SIGALRM, on_signal, 0);
        arm_ms(30);
        CALL(epoll_pwait(ep, ev, 8, 150, &with_alrm));
        say("  handler ran: %d (after the call)", (int)hits);
        REQUIRE(sigprocmask(SIG_UNBLOCK, &usr1, NULL) == 0);
    }
    close(ep);
    close(p[0]);
    close(p[1]);
    say("done");
    return 0;
}
