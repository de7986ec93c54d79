/* The program's fds stay its own: EBADF from close, close_range and a close(3..1024) loop
 * after which pipes, sockets and sleeps keep working, fclose of an fdopen'ed socket and reuse
 * of its number, F_GETFL of the inherited 0-2, and socket option round trips. */
#include "transcript.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

int close_range(unsigned int first, unsigned int last, int flags);

/* Pipe, write/read, a sleep, socketpair send/recv, then close what was opened. */
static void still_works(const char *when)
{
    char buf[64];
    int p[2], s[2];
    long n;
    say("-- still works %s", when);
    CALL(pipe(p));
    say("fds %d %d", p[0], p[1]);
    CALL(write(p[1], "pipe ok", 7));
    n = CALL(read(p[0], buf, dyn(sizeof buf)));
    show_bytes("read", buf, n);
    double t0 = mono_now();
    CALL(usleep(1000));
    say("  elapsed ok: %s", yesno(mono_now() - t0 >= 0.001));
    CALL(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
    say("fds %d %d", s[0], s[1]);
    CALL(send(s[0], "socket ok", 9, 0));
    n = CALL(recv(s[1], buf, dyn(sizeof buf), 0));
    show_bytes("recv", buf, n);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 20000};
    CALL(setsockopt(s[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    t0 = mono_now();
    CALL(recv(s[1], buf, dyn(sizeof buf), 0));
    say("  timeout respected: %s", yesno(mono_now() - t0 >= 0.015));
    CALL(close(p[0]));
    CALL(close(p[1]));
    CALL(close(s[0]));
    CALL(close(s[1]));
}

/* Open a handful of fds of several kinds and use some of them, so a library has had the
 * chance to register them before they are closed behind its back. */
static void open_several(void)
{
    char buf[8];
    int p[2], s[2];
    REQUIRE(pipe(p) == 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
    REQUIRE(dup(p[0]) >= 0);
    REQUIRE(socket(AF_INET, SOCK_STREAM, 0) >= 0);
    REQUIRE(write(p[1], "x", 1) == 1);
    REQUIRE(read(p[0], buf, dyn(sizeof buf)) == 1);
    REQUIRE(send(s[0], "y", 1, 0) == 1);
    REQUIRE(recv(s[1], buf, dyn(sizeof buf), 0) == 1);
    say("opened 6 fds, highest %d", s[1] + 2);
}

static void show_sockopt_tv(int fd, int opt, const char *name)
{
    struct timeval tv = {0};
    socklen_t len = sizeof tv;
    errno = 0;
    int r = getsockopt(fd, SOL_SOCKET, opt, &tv, &len);
    if (r == -1)
        say("getsockopt(%s) = -1 %s", name, errno_name(errno));
    else
        say("getsockopt(%s) = 0: %ld s %ld us", name, (long)tv.tv_sec, (long)tv.tv_usec);
}

static void show_sockopt_int(int fd, int level, int opt, const char *name)
{
    int v = -1;
    socklen_t len = sizeof v;
    errno = 0;
    int r = getsockopt(fd, level, opt, &v, &len);
    if (r == -1)
        say("getsockopt(%s) = -1 %s", name, errno_name(errno));
    else
        say("getsockopt(%s) = 0: %d", name, v != 0);
}

int main(void)
{
    char buf[64];

    REQUIRE(signal(SIGPIPE, SIG_IGN) != SIG_ERR);

    say("== inherited descriptors");
    show_fl("stdin", 0);
    show_fl("stdout", 1);
    show_fl("stderr", 2);
    show_fd("stdin", 0);
    show_fd("stdout", 1);

    say("== EBADF from close");
    {
        int p[2];
        REQUIRE(pipe(p) == 0);
        CALL(close(p[0]));
        CALL(close(p[0]));
        CALL(close(p[1]));
        CALL(close(-1));
        CALL(close(1000));
    }

    say("== close_range(3, ~0U, 0)");
    open_several();
    CALL(close_range(3, ~0U, 0));
    CALL(fcntl(3, F_GETFD));
    CALL(fcntl(4, F_GETFD));
    show_fl("stdout", 1);
    still_works("after close_range");

    say("== close_range with CLOSE_RANGE_CLOEXEC");
    {
        int p[2];
        REQUIRE(pipe(p) == 0);
        CALL(close_range(p[0], p[1], CLOSE_RANGE_CLOEXEC));
        show_fd("p[0]", p[0]);
        show_fd("p[1]", p[1]);
        CALL(write(p[1], "cloexec", 7));
        long n = CALL(read(p[0], buf, dyn(sizeof buf)));
        show_bytes("read", buf, n);
        CALL(close(p[0]));
        CALL(close(p[1]));
    }

    say("== close(fd) for fd in 3..1024, errors ignored");
    open_several();
    {
        int closed = 0;
        for (int fd = 3; fd <= 1024; fd++)
            if (close(fd) == 0)
                closed++;
        /* Not the count itself: fds the library keeps in that range would change it. */
        say("closed at least the 6 opened: %s", yesno(closed >= 6));
    }
    still_works("after the close loop");

    say("== fclose of an fdopen'ed socket, then the number is reused");
    {
        int s[2];
        CALL(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
        say("fds %d %d", s[0], s[1]);
        CALL(send(s[1], "before fclose", 13, 0));
        long n = CALL(recv(s[0], buf, dyn(sizeof buf), 0));
        show_bytes("recv", buf, n);
        FILE *f = fdopen(s[0], "r+");
        REQUIRE(f != NULL);
        CALL(fclose(f));
        CALL(fcntl(s[0], F_GETFD));
        CALL(recv(s[1], buf, dyn(sizeof buf), 0));
        int t[2];
        CALL(socketpair(AF_UNIX, SOCK_DGRAM, 0, t));
        say("fds %d %d, first reused: %s", t[0], t[1], yesno(t[0] == s[0]));
        CALL(send(t[1], "reused", 6, 0));
        n = CALL(recv(t[0], buf, dyn(sizeof buf), 0));
        show_bytes("recv", buf, n);
        CALL(recv(t[0], buf, dyn(sizeof buf), MSG_DONTWAIT));
        CALL(close(t[0]));
        CALL(close(t[1]));

        int p[2];
        CALL(pipe(p));
        say("fds %d %d", p[0], p[1]);
        FILE *g = fdopen(p[0], "r");
        REQUIRE(g != NULL);
        CALL(fclose(g));
        int u = CALL(socket(AF_UNIX, SOCK_STREAM, 0));
        say("socket reused the pipe's number: %s", yesno(u == p[0]));
        CALL(recv(u, buf, dyn(sizeof buf), MSG_DONTWAIT));
        CALL(write(p[1], "x", 1));
        CALL(close(u));
        CALL(close(p[1]));
    }

    say("== socket option round trips");
    {
        int s = CALL(socket(AF_INET, SOCK_STREAM, 0));
        struct timeval tv = {.tv_sec = 1, .tv_usec = 500000};
        show_sockopt_tv(s, SO_RCVTIMEO, "SO_RCVTIMEO");
        CALL(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
        show_sockopt_tv(s, SO_RCVTIMEO, "SO_RCVTIMEO");
        tv.tv_sec = 2;
        tv.tv_usec = 0;
        CALL(setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
        show_sockopt_tv(s, SO_SNDTIMEO, "SO_SNDTIMEO");
        tv.tv_sec = 0;
        tv.tv_usec = 2000000;
        CALL(setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
        tv.tv_usec = -1;
        CALL(setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
        CALL(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, 3));
        show_sockopt_tv(s, SO_SNDTIMEO, "SO_SNDTIMEO");
        show_sockopt_int(s, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR");
        int one = 1;
        CALL(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
        show_sockopt_int(s, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR");
        show_sockopt_int(s, SOL_SOCKET, SO_ERROR, "SO_ERROR");
        show_fl("socket", s);
        CALL(close(s));
        CALL(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
        CALL(setsockopt(0, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1);
    }

    say("== inherited descriptors at the end");
    show_fl("stdin", 0);
    show_fl("stdout", 1);
    show_fl("stderr", 2);
    say("done");
    return 0;
}
