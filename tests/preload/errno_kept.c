/* A call that succeeds leaves errno as the program left it: before each call errno is set to a
 * sentinel (ENOTRECOVERABLE, which none of these calls sets), and after each successful one the
 * transcript says whether it is still there. The first use of an fd is the interesting one: it
 * is when a preload classifies the fd (fstat, fcntl, getsockopt, an epoll probe that a driver
 * without a poll method refuses with EPERM). One blocking read parks, so the green run shows
 * that the calls did go through the green path. */
#include "transcript.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#define SENTINEL ENOTRECOVERABLE

/* KEPT(expr): run expr with errno at the sentinel; print its result and whether errno stayed. */
#define KEPT(expr)                                                                         \
    ({                                                                                     \
        errno = SENTINEL;                                                                  \
        long kept_r_ = (long)(expr);                                                       \
        int kept_e_ = errno;                                                               \
        if (kept_r_ == -1)                                                                 \
            printf("%s = -1 %s\n", #expr, errno_name(kept_e_));                            \
        else                                                                               \
            printf("%s = %ld, errno %s\n", #expr, kept_r_,                                 \
                   kept_e_ == SENTINEL ? "kept" : errno_name(kept_e_));                    \
        fflush(stdout);                                                                    \
        kept_r_;                                                                           \
    })

static char buf[64];

/* First read, then write, then the other calls, on one fresh fd of a kind. */
static void fd_calls(const char *what, int rfd, int wfd)
{
    say("-- %s", what);
    struct iovec v = {buf, 8};
    KEPT(write(wfd, "12345678", dyn(8)));
    KEPT(read(rfd, buf, dyn(8)));
    KEPT(write(wfd, "12345678", dyn(8)));
    KEPT(readv(rfd, &v, 1));
    struct pollfd p = {rfd, POLLIN, 0};
    KEPT(poll(&p, 1, 0));
    fd_set set;
    FD_ZERO(&set);
    FD_SET(rfd, &set);
    struct timeval tv = {0, 0};
    KEPT(select(rfd + 1, &set, NULL, NULL, &tv));
    KEPT(fcntl(rfd, F_GETFL) >= 0);
    int d = (int)KEPT(dup(rfd));
    KEPT(close(d));
}

/* The first read of a fresh fd of these kinds, alone (no write first). */
static void first_read(const char *what, const char *path, size_t n)
{
    say("-- first read of %s", what);
    int fd = open(path, O_RDONLY);
    REQUIRE(fd >= 0);
    KEPT(read(fd, buf, dyn(n)));
    KEPT(close(fd));
    fd = open(path, O_WRONLY);
    REQUIRE(fd >= 0);
    KEPT(write(fd, "x", 1));
    KEPT(close(fd));
}

static int pipe_fds[2];

static void *writer(void *arg)
{
    (void)arg;
    usleep(20000);
    if (write(pipe_fds[1], "late", 4) < 0)
        abort();  /* the transcript would not show why */
    return NULL;
}

int main(void)
{
    first_read("/dev/null", "/dev/null", 8);
    first_read("/dev/zero", "/dev/zero", 8);

    char path[] = "/tmp/green-errno-XXXXXX";
    int f = mkstemp(path);
    REQUIRE(f >= 0);
    unlink(path);
    say("-- regular file");
    KEPT(write(f, "12345678", dyn(8)));
    KEPT(lseek(f, 0, SEEK_SET));
    KEPT(read(f, buf, dyn(8)));
    KEPT(close(f));

    int p[2];
    REQUIRE(pipe(p) == 0);
    fd_calls("pipe", p[0], p[1]);
    close(p[0]);
    close(p[1]);

    int s[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
    fd_calls("socketpair", s[0], s[1]);
    say("-- socket calls");
    KEPT(send(s[1], "abc", 3, 0));
    KEPT(recv(s[0], buf, dyn(sizeof buf), 0));
    int one = 1;
    KEPT(setsockopt(s[0], SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one));
    close(s[0]);
    close(s[1]);

    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0) {
        int t = open(ptsname(m), O_RDWR | O_NOCTTY);
        REQUIRE(t >= 0);
        say("-- pty");
        KEPT(write(m, "tty\n", 4));
        KEPT(read(t, buf, dyn(sizeof buf)));
        KEPT(write(t, "back", 4));
        KEPT(read(m, buf, dyn(4)));
        close(t);
        close(m);
    } else {
        say("-- pty: none on this machine");
    }

    say("-- eventfd");
    int e = eventfd(0, 0);
    REQUIRE(e >= 0);
    uint64_t one64 = 1;
    KEPT(write(e, &one64, sizeof one64));
    KEPT(read(e, &one64, sizeof one64));
    close(e);

    say("-- timerfd");
    int tf = timerfd_create(CLOCK_MONOTONIC, 0);
    REQUIRE(tf >= 0);
    struct itimerspec its = {{0, 0}, {0, 1000000}};
    KEPT(timerfd_settime(tf, 0, &its, NULL));
    uint64_t ticks;
    KEPT(read(tf, &ticks, sizeof ticks));
    close(tf);

    say("-- epoll");
    int ep = (int)KEPT(epoll_create1(0));
    REQUIRE(pipe(p) == 0);
    struct epoll_event ev = {.events = EPOLLIN};
    KEPT(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    KEPT(write(p[1], "e", 1));
    KEPT(epoll_wait(ep, &ev, 1, 1000));
    close(ep);
    close(p[0]);
    close(p[1]);

    say("-- sleeps and waits");
    KEPT(usleep(1000));
    struct timespec ts = {0, 1000000};
    KEPT(nanosleep(&ts, NULL));
    KEPT(poll(NULL, 0, 1));
    struct timeval tv = {0, 1000};
    KEPT(select(0, NULL, NULL, NULL, &tv));
    KEPT(sleep(0));

    say("-- a read that parks until another thread writes");
    REQUIRE(pipe(pipe_fds) == 0);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, writer, NULL) == 0);
    KEPT(read(pipe_fds[0], buf, dyn(sizeof buf)));
    KEPT(pthread_join(th, NULL));
    say("-- fd lifecycle");
    KEPT(dup2(pipe_fds[0], 40));
    KEPT(fcntl(40, F_SETFD, FD_CLOEXEC));
    KEPT(close(40));
    KEPT(close(pipe_fds[0]));
    KEPT(close(pipe_fds[1]));
    return 0;
}
