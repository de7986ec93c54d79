/* A thread that busy-polls must not starve the others. Each round, one thread spins on a call
 * that returns at once (select with an always-writable fd, poll and epoll_wait with a zero
 * timeout, recv with MSG_DONTWAIT, read on an O_NONBLOCK socket, pthread_mutex_trylock,
 * sched_yield) until something only another thread can do has happened; that thread first
 * waits in a timed wait (pthread_cond_timedwait or nanosleep, 5 ms), then makes it happen.
 * Natively the kernel preempts the spinner. As green threads of one hub, the waiter's timer
 * fires only when the hub runs, so the spinner must give the hub its turn: without that the
 * program spins until the alarm below kills it. */
#include "transcript.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

enum { ROUNDS = 3 };

static int pair[2];          /* the spinner reads pair[0]; the waker writes pair[1] */
static int always_writable;  /* the write end of an empty pipe */
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;  /* the waker holds it, then unlocks */
static atomic_int done_flag;
static sem_t started;  /* the waker has begun (and holds `held` if it will unlock it) */
static int use_nanosleep;

/* What the waker does after its timed wait. */
enum action { WRITE_BYTE, UNLOCK, SET_FLAG };

static void timed_wait_5ms(void)
{
    if (use_nanosleep) {
        struct timespec d = {0, 5000000};
        REQUIRE(nanosleep(&d, NULL) == 0);
        return;
    }
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_nsec += 5000000;
    if (at.tv_nsec >= 1000000000) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&m);
    int e;
    while ((e = pthread_cond_timedwait(&c, &m, &at)) == 0) {
    }
    REQUIRE(e == ETIMEDOUT);
    pthread_mutex_unlock(&m);
}

static void *waker(void *arg)
{
    enum action a = (enum action)(long)arg;
    /* A mutex is unlocked by its owner: the waker takes it before the spinner starts. */
    if (a == UNLOCK)
        REQUIRE(pthread_mutex_lock(&held) == 0);
    REQUIRE(sem_post(&started) == 0);
    timed_wait_5ms();
    switch (a) {
    case WRITE_BYTE: REQUIRE(write(pair[1], "x", 1) == 1); break;
    case UNLOCK: REQUIRE(pthread_mutex_unlock(&held) == 0); break;
    case SET_FLAG: atomic_store(&done_flag, 1); break;
    }
    return NULL;
}

/* Each spinner returns once the waker's action is seen. */

static void spin_select(void)
{
    for (;;) {
        fd_set r, w;
        FD_ZERO(&r);
        FD_ZERO(&w);
        FD_SET(pair[0], &r);
        FD_SET(always_writable, &w);
        int n = select((pair[0] > always_writable ? pair[0] : always_writable) + 1, &r, &w,
                       NULL, NULL);
        REQUIRE(n >= 1 && FD_ISSET(always_writable, &w));
        if (FD_ISSET(pair[0], &r))
            return;
    }
}

static void spin_poll0(void)
{
    for (;;) {
        struct pollfd p = {.fd = pair[0], .events = POLLIN};
        int n = poll(&p, 1, 0);
        REQUIRE(n >= 0);
        if (n == 1)
            return;
    }
}

static void spin_epoll0(void)
{
    int ep = epoll_create1(0);
    REQUIRE(ep >= 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = pair[0]};
    REQUIRE(epoll_ctl(ep, EPOLL_CTL_ADD, pair[0], &ev) == 0);
    for (;;) {
        struct epoll_event out;
        int n = epoll_wait(ep, &out, 1, 0);
        REQUIRE(n >= 0);
        if (n == 1)
            break;
    }
    close(ep);
}

static void spin_recv_dontwait(void)
{
    for (;;) {
        char c;
        ssize_t n = recv(pair[0], &c, 1, MSG_DONTWAIT);
        if (n == 1) {
            REQUIRE(send(pair[1], &c, 1, 0) == 1);  /* put the byte back for drain() */
            return;
        }
        REQUIRE(n == -1 && errno == EAGAIN);
    }
}

static void spin_read_nonblock(void)
{
    int fl = fcntl(pair[0], F_GETFL);
    REQUIRE(fcntl(pair[0], F_SETFL, fl | O_NONBLOCK) == 0);
    for (;;) {
        char c;
        ssize_t n = read(pair[0], &c, 1);
        if (n == 1) {
            REQUIRE(send(pair[1], &c, 1, 0) == 1);
            break;
        }
        REQUIRE(n == -1 && errno == EAGAIN);
    }
    REQUIRE(fcntl(pair[0], F_SETFL, fl) == 0);
}

static void spin_trylock(void)
{
    int e;
    while ((e = pthread_mutex_trylock(&held)) == EBUSY) {
    }
    REQUIRE(e == 0);
    REQUIRE(pthread_mutex_unlock(&held) == 0);
}

static void spin_sched_yield(void)
{
    while (!atomic_load(&done_flag))
        REQUIRE(sched_yield() == 0);
}

/* Takes the byte the waker wrote. */
static void drain(void)
{
    char c;
    REQUIRE(read(pair[0], &c, 1) == 1 && c == 'x');
}

struct spinner {
    const char *name;
    void (*spin)(void);
    enum action action;
};

int main(void)
{
    alarm(20); /* the failure mode is a spin that never ends */
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    int p[2];
    REQUIRE(pipe(p) == 0);
    always_writable = p[1];
    REQUIRE(sem_init(&started, 0, 0) == 0);

    const struct spinner spinners[] = {
        {"select with an always-writable fd", spin_select, WRITE_BYTE},
        {"poll with a zero timeout", spin_poll0, WRITE_BYTE},
        {"epoll_wait with a zero timeout", spin_epoll0, WRITE_BYTE},
        {"recv with MSG_DONTWAIT", spin_recv_dontwait, WRITE_BYTE},
        {"read on an O_NONBLOCK socket", spin_read_nonblock, WRITE_BYTE},
        {"pthread_mutex_trylock", spin_trylock, UNLOCK},
        {"sched_yield", spin_sched_yield, SET_FLAG},
    };
    for (size_t s = 0; s < sizeof spinners / sizeof spinners[0]; s++) {
        for (int round = 0; round < ROUNDS; round++) {
            use_nanosleep = round % 2;
            atomic_store(&done_flag, 0);
            pthread_t t;
            REQUIRE(pthread_create(&t, NULL, waker, (void *)(long)spinners[s].action) == 0);
            REQUIRE(sem_wait(&started) == 0);
            spinners[s].spin();
            REQUIRE(pthread_join(t, NULL) == 0);
            if (spinners[s].action == WRITE_BYTE)
                drain();
            say("%s, waker in %s: the spinner saw the waker's action", spinners[s].name,
                use_nanosleep ? "nanosleep" : "pthread_cond_timedwait");
        }
    }
    return 0;
}
