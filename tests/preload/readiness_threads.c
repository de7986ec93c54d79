/* Readiness calls and threads. One thread waits in poll, select or epoll_wait with no timeout
 * while another keeps running (ten short sleeps) and only then writes what the first waits for:
 * if the wait froze the thread the other runs on, the program would hang. When threads are
 * fibers of one hub, that is exactly the proof that a parked poll does not freeze the hub.
 * Also: several threads waiting on one epoll set each get one event; ONE thread in poll woken
 * by a timer's thread and by its own signal handler; ppoll's mask on the thread a signal is
 * sent to. Threads record what they saw; main prints it after joining. */
#include "transcript.h"

#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/time.h>
#include <unistd.h>

enum { TICKS = 10 };

static int pipe_fds[2];
static int epfd;
static volatile int ticks;

/* Runs beside a waiter: keeps running, then wakes it. */
static void *ticker(void *arg)
{
    (void)arg;
    for (int i = 0; i < TICKS; i++) {
        usleep(10000);
        ticks = i + 1;
    }
    REQUIRE(write(pipe_fds[1], "t", 1) == 1);
    return NULL;
}

struct seen {
    int r;
    int err;
    int ticks_at_wake;
    short revents;
};

static void *poll_waiter(void *arg)
{
    struct seen *s = arg;
    struct pollfd f = {.fd = pipe_fds[0], .events = POLLIN};
    errno = 0;
    s->r = poll(&f, 1, -1);
    s->err = errno;
    s->ticks_at_wake = ticks;
    s->revents = f.revents;
    return NULL;
}

static void *select_waiter(void *arg)
{
    struct seen *s = arg;
    fd_set r;
    FD_ZERO(&r);
    FD_SET(pipe_fds[0], &r);
    errno = 0;
    s->r = select(pipe_fds[0] + 1, &r, NULL, NULL, NULL);
    s->err = errno;
    s->ticks_at_wake = ticks;
    s->revents = FD_ISSET(pipe_fds[0], &r) ? POLLIN : 0;
    return NULL;
}

static void *epoll_waiter(void *arg)
{
    struct seen *s = arg;
    struct epoll_event ev;
    errno = 0;
    s->r = epoll_wait(epfd, &ev, 1, -1);
    s->err = errno;
    s->ticks_at_wake = ticks;
    s->revents = (ev.events & EPOLLIN) ? POLLIN : 0;
    return NULL;
}

static void waiter_and_ticker(const char *name, void *(*waiter)(void *))
{
    struct seen s = {0};
    char c;
    pthread_t w, t;
    ticks = 0;
    REQUIRE(pthread_create(&w, NULL, waiter, &s) == 0);
    REQUIRE(pthread_create(&t, NULL, ticker, NULL) == 0);
    REQUIRE(pthread_join(w, NULL) == 0);
    REQUIRE(pthread_join(t, NULL) == 0);
    say("%s in one thread, %d sleeps in another: returned %d (%s), readable: %s, "
        "woke after the other thread's sleeps: %s",
        name, TICKS, s.r, s.r < 0 ? errno_name(s.err) : "ok", yesno(s.revents & POLLIN),
        yesno(s.ticks_at_wake == TICKS));
    REQUIRE(read(pipe_fds[0], &c, 1) == 1);
}

/* ---- several threads on one epoll set ---- */

enum { SHARERS = 3 };
static int share_pipes[SHARERS][2];
static int shared_ep;
static long got_data[SHARERS];

static void *sharer(void *arg)
{
    long id = (long)arg;
    struct epoll_event ev;
    int r = epoll_wait(shared_ep, &ev, 1, 10000);
    got_data[id] = r == 1 ? (long)ev.data.u64 : -1;
    if (r == 1) {
        char c;
        REQUIRE(read(share_pipes[ev.data.u64][0], &c, 1) == 1);
    }
    return NULL;
}

/* ---- one thread woken by a timer's thread, or by its own signal handler ---- */

static void timer_fired(union sigval v)
{
    (void)v;
    REQUIRE(write(pipe_fds[1], "T", 1) == 1);
}

static volatile sig_atomic_t handler_ran;

static void on_alarm(int sig)
{
    (void)sig;
    handler_ran++;
    int saved = errno;
    (void)!write(pipe_fds[1], "A", 1);
    errno = saved;
}

/* ---- ppoll's mask on the thread the signal is sent to ---- */

static volatile sig_atomic_t usr1_hits;
static void on_usr1(int sig)
{
    (void)sig;
    usr1_hits++;
}

static volatile int masked_started;
static void *masked_waiter(void *arg)
{
    struct seen *s = arg;
    int p[2];
    REQUIRE(pipe(p) == 0);
    struct pollfd f = {.fd = p[0], .events = POLLIN};
    sigset_t none;
    sigemptyset(&none);
    masked_started = 1;
    errno = 0;
    s->r = ppoll(&f, 1, NULL, &none);
    s->err = errno;
    close(p[0]);
    close(p[1]);
    return NULL;
}

int main(void)
{
    REQUIRE(pipe(pipe_fds) == 0);
    epfd = epoll_create1(0);
    REQUIRE(epfd >= 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
    REQUIRE(epoll_ctl(epfd, EPOLL_CTL_ADD, pipe_fds[0], &ev) == 0);

    say("== a wait with no timeout does not stop other threads");
    waiter_and_ticker("poll", poll_waiter);
    waiter_and_ticker("select", select_waiter);
    waiter_and_ticker("epoll_wait", epoll_waiter);

    say("== %d threads waiting on one epoll set, one-shot fds: each gets one", SHARERS);
    shared_ep = epoll_create1(0);
    REQUIRE(shared_ep >= 0);
    for (long i = 0; i < SHARERS; i++) {
        REQUIRE(pipe(share_pipes[i]) == 0);
        struct epoll_event e = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = (uint64_t)i};
        REQUIRE(epoll_ctl(shared_ep, EPOLL_CTL_ADD, share_pipes[i][0], &e) == 0);
    }
    pthread_t sharers[SHARERS];
    for (long i = 0; i < SHARERS; i++)
        REQUIRE(pthread_create(&sharers[i], NULL, sharer, (void *)i) == 0);
    usleep(100000);
    for (int i = 0; i < SHARERS; i++)
        REQUIRE(write(share_pipes[i][1], "s", 1) == 1);
    int seen_mask = 0;
    for (int i = 0; i < SHARERS; i++) {
        REQUIRE(pthread_join(sharers[i], NULL) == 0);
        if (got_data[i] >= 0 && got_data[i] < SHARERS)
            seen_mask |= 1 << got_data[i];
    }
    say("  every thread got an event, every fd once: %s", yesno(seen_mask == (1 << SHARERS) - 1));

    say("== one thread in poll, woken by a timer's own thread");
    {
        timer_t timer;
        struct sigevent sev = {.sigev_notify = SIGEV_THREAD, .sigev_notify_function = timer_fired};
        REQUIRE(timer_create(CLOCK_MONOTONIC, &sev, &timer) == 0);
        struct itimerspec its = {.it_value = {0, 100 * 1000 * 1000}};
        REQUIRE(timer_settime(timer, 0, &its, NULL) == 0);
        struct pollfd f = {.fd = pipe_fds[0], .events = POLLIN};
        CALL(poll(&f, 1, -1));
        char c = 0;
        CALL(read(pipe_fds[0], &c, 1));
        say("  read '%c'", c);
        timer_delete(timer);
    }

    say("== one thread in poll, woken by its own signal handler");
    {
        install_handler(SIGALRM, on_alarm, SA_RESTART);
        struct itimerval it = {.it_value = {0, 100000}};
        REQUIRE(setitimer(ITIMER_REAL, &it, NULL) == 0);
        struct pollfd f = {.fd = pipe_fds[0], .events = POLLIN};
        CALL(poll(&f, 1, -1));
        say("  handler ran: %d", (int)handler_ran);
        CALL(poll(&f, 1, -1));
        char c = 0;
        CALL(read(pipe_fds[0], &c, 1));
        say("  read '%c'", c);
    }

    say("== ppoll's mask applies to the thread that called it");
    {
        install_handler(SIGUSR1, on_usr1, 0);
        sigset_t usr1;
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        REQUIRE(pthread_sigmask(SIG_BLOCK, &usr1, NULL) == 0); /* inherited by new threads */
        struct seen s = {0};
        pthread_t w;
        REQUIRE(pthread_create(&w, NULL, masked_waiter, &s) == 0);
        while (!masked_started)
            usleep(1000);
        usleep(100000);
        REQUIRE(pthread_kill(w, SIGUSR1) == 0);
        REQUIRE(pthread_join(w, NULL) == 0);
        say("  ppoll returned %d (%s), handler ran: %d", s.r, s.r < 0 ? errno_name(s.err) : "ok",
            (int)usr1_hits);
        REQUIRE(pthread_sigmask(SIG_UNBLOCK, &usr1, NULL) == 0);
    }
    say("done");
    return 0;
}
