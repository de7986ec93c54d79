/* Blocking I/O interrupted by a signal handler: EINTR without SA_RESTART; with SA_RESTART
 * the call goes on and returns the data that comes later, except on a socket with a
 * SO_RCVTIMEO/SO_SNDTIMEO timeout, which fails with EINTR anyway (signal(7)); a write that
 * moved some bytes before the signal returns the partial count; signal() installs with
 * SA_RESTART and siginterrupt(sig, 1) takes it away. The late data comes from a child
 * process (sh -c 'sleep ...; printf ...'): no threads. */
#include "transcript.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static volatile sig_atomic_t hits;

static void on_alarm(int sig)
{
    (void)sig;
    hits++;
}

static void install(int flags)
{
    install_handler(SIGALRM, on_alarm, flags);
}

/* One SIGALRM after ms milliseconds. */
static void arm_ms(long ms)
{
    struct itimerval it = {.it_interval = {0, 0}, .it_value = {ms / 1000, (ms % 1000) * 1000}};
    REQUIRE(setitimer(ITIMER_REAL, &it, NULL) == 0);
}


/* Start sh -c SCRIPT with stdout on fd out; returns its pid. */
static pid_t spawn_writer(const char *script, int out)
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

int main(void)
{
    char buf[256];
    long n;
    double t0;

    REQUIRE(signal(SIGPIPE, SIG_IGN) != SIG_ERR);

    say("== without SA_RESTART: EINTR");
    install(0);
    {
        int p[2], s[2], l;
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) == 0);
        arm_ms(100);
        CALL(read(p[0], buf, dyn(sizeof buf)));
        say("  handler ran: %d", (int)hits);
        arm_ms(100);
        CALL(recv(s[0], buf, dyn(sizeof buf), 0));
        say("  handler ran: %d", (int)hits);
        arm_ms(100);
        CALL(recvfrom(s[0], buf, dyn(sizeof buf), 0, NULL, NULL));
        say("  handler ran: %d", (int)hits);

        l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(l >= 0);
        sa_family_t fam = AF_UNIX; /* a bare family: the kernel picks an abstract name */
        REQUIRE(bind(l, (struct sockaddr *)&fam, sizeof fam) == 0);
        REQUIRE(listen(l, 1) == 0);
        arm_ms(100);
        CALL(accept(l, NULL, NULL));
        say("  handler ran: %d", (int)hits);
        close(l);

        say("-- a write into a full pipe");
        REQUIRE(fcntl(p[1], F_SETFL, O_NONBLOCK) == 0);
        long filled = 0;
        static char chunk[4096];
        for (;;) {
            long w = write(p[1], chunk, sizeof chunk);
            if (w <= 0)
                break;
            filled += w;
        }
        REQUIRE(fcntl(p[1], F_SETFL, 0) == 0);
        say("  pipe filled: %s", yesno(filled > 0));
        arm_ms(100);
        CALL(write(p[1], "x", 1));
        say("  handler ran: %d", (int)hits);
        /* Make room for one page, then ask for much more: part goes in, then the signal. */
        REQUIRE(read(p[0], chunk, dyn(sizeof chunk)) == (long)sizeof chunk);
        static char more[65536];
        arm_ms(100);
        errno = 0;
        long w = write(p[1], more, sizeof more);
        say("write(p[1], more, 65536): partial count: %s, errno %s",
            yesno(w > 0 && w < (long)sizeof more), errno ? errno_name(errno) : "0");
        say("  handler ran: %d", (int)hits);
        close(p[0]);
        close(p[1]);
        close(s[0]);
        close(s[1]);
    }

    say("== with SA_RESTART: the call goes on");
    install(SA_RESTART);
    {
        int p[2], s[2];
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        pid_t pid = spawn_writer("sleep 0.4; printf late", p[1]);
        close(p[1]);
        arm_ms(100);
        t0 = mono_now();
        n = CALL(read(p[0], buf, dyn(sizeof buf)));
        show_bytes("read", buf, n);
        say("  handler ran: %d, waited for the data: %s", (int)hits, yesno(mono_now() - t0 > 0.2));
        reap(pid);
        close(p[0]);

        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) == 0);
        pid = spawn_writer("sleep 0.4; printf 'late too'", s[1]);
        close(s[1]);
        arm_ms(100);
        n = CALL(recv(s[0], buf, dyn(sizeof buf), MSG_WAITALL));
        show_bytes("recv", buf, n);
        say("  handler ran: %d", (int)hits);
        reap(pid);

        say("-- but not on a socket with SO_RCVTIMEO (signal(7))");
        close(s[0]);
        struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
        int u[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, u) == 0);
        CALL(setsockopt(u[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
        arm_ms(100);
        t0 = mono_now();
        CALL(recv(u[0], buf, dyn(sizeof buf), 0));
        say("  handler ran: %d, returned early: %s", (int)hits, yesno(mono_now() - t0 < 1.5));
        close(u[0]);
        close(u[1]);

        int t[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, t) == 0);
        CALL(setsockopt(t[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
        arm_ms(100);
        t0 = mono_now();
        CALL(recv(t[0], buf, dyn(sizeof buf), 0));
        say("  handler ran: %d, returned early: %s", (int)hits, yesno(mono_now() - t0 < 1.5));
        close(t[0]);
        close(t[1]);
    }

    say("== signal() installs with SA_RESTART, siginterrupt(SIGALRM, 1) removes it");
    {
        struct sigaction cur;
        CALL(signal(SIGALRM, on_alarm) == SIG_ERR);
        REQUIRE(sigaction(SIGALRM, NULL, &cur) == 0);
        say("  SA_RESTART: %s, handler reported back: %s", yesno(cur.sa_flags & SA_RESTART),
            yesno(cur.sa_handler == on_alarm));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        CALL(siginterrupt(SIGALRM, 1));
#pragma GCC diagnostic pop
        REQUIRE(sigaction(SIGALRM, NULL, &cur) == 0);
        say("  SA_RESTART: %s", yesno(cur.sa_flags & SA_RESTART));
        int p[2];
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        arm_ms(100);
        CALL(read(p[0], buf, dyn(sizeof buf)));
        say("  handler ran: %d", (int)hits);
        close(p[0]);
        close(p[1]);
    }

    say("== an ignored signal interrupts nothing");
    {
        REQUIRE(signal(SIGALRM, SIG_IGN) != SIG_ERR);
        int p[2];
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        pid_t pid = spawn_writer("sleep 0.3; printf ignored", p[1]);
        close(p[1]);
        arm_ms(100);
        n = CALL(read(p[0], buf, dyn(sizeof buf)));
        show_bytes("read", buf, n);
        reap(pid);
        close(p[0]);
    }
    say("done");
    return 0;
}
