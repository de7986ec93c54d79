/* POSIX message queues with threads: mq_receive on an empty queue while another thread posts
 * after ten sleeps, mq_send on a full queue while another thread drains it late,
 * mq_timedreceive and mq_timedsend timing out (ETIMEDOUT), and the errors (EMSGSIZE, EAGAIN on
 * a non-blocking queue, EINVAL for a bad timeout, EBADF). If a wait froze the OS thread it
 * runs on, and threads are fibers of one hub, the program would hang. */
#include "transcript.h"

#include <mqueue.h>
#include <pthread.h>
#include <unistd.h>

static mqd_t q;
static volatile int ticks;

static void ten_sleeps(void)
{
    for (int i = 0; i < 10; i++) {
        usleep(10000);
        ticks = i + 1;
    }
}

static void *post_late(void *arg)
{
    (void)arg;
    ten_sleeps();
    REQUIRE(mq_send(q, "late news", 9, 3) == 0);
    return NULL;
}

static void *drain_late(void *arg)
{
    char buf[64];
    long *got = arg;
    ten_sleeps();
    for (int i = 0; i < 3; i++)
        got[i] = mq_receive(q, buf, sizeof buf, NULL);
    return NULL;
}

int main(void)
{
    char name[64];
    char buf[64];
    unsigned prio = 0;
    snprintf(name, sizeof name, "/green-mqueue-test-%d", (int)getpid());
    struct mq_attr attr = {.mq_maxmsg = 2, .mq_msgsize = 32};
    q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    REQUIRE(q != (mqd_t)-1);
    REQUIRE(mq_unlink(name) == 0);

    say("== mq_receive on an empty queue while another thread posts");
    {
        pthread_t t;
        ticks = 0;
        REQUIRE(pthread_create(&t, NULL, post_late, NULL) == 0);
        long n = CALL(mq_receive(q, buf, sizeof buf, &prio));
        show_bytes("message", buf, n);
        say("priority %u, poster had slept %d times", prio, ticks);
        REQUIRE(pthread_join(t, NULL) == 0);
    }

    say("== mq_send on a full queue while another thread drains it late");
    {
        long got[3];
        pthread_t t;
        ticks = 0;
        CALL(mq_send(q, "one", 3, 1));
        CALL(mq_send(q, "two", 3, 1));
        REQUIRE(pthread_create(&t, NULL, drain_late, got) == 0);
        CALL(mq_send(q, "three", 5, 1));
        say("drainer had slept %d times", ticks);
        REQUIRE(pthread_join(t, NULL) == 0);
        say("drainer got %ld, %ld, %ld bytes", got[0], got[1], got[2]);
    }

    say("== timeouts");
    {
        struct timespec t = deadline(CLOCK_REALTIME, 100);
        double start = mono_now();
        CALL(mq_timedreceive(q, buf, sizeof buf, &prio, &t));
        double waited = mono_now() - start;
        say("waited at least 100 ms: %s", yesno(waited >= 0.095));
        struct timespec past = {0, 0};
        CALL(mq_timedreceive(q, buf, sizeof buf, &prio, &past));
        CALL(mq_send(q, "a", 1, 0));
        CALL(mq_send(q, "b", 1, 0));
        t = deadline(CLOCK_REALTIME, 50);
        CALL(mq_timedsend(q, "c", 1, 0, &t));
        struct timespec bad = {0, 1000000000L};
        CALL(mq_timedsend(q, "c", 1, 0, &bad));
        CALL(mq_timedreceive(q, buf, sizeof buf, &prio, &bad));
        t = deadline(CLOCK_REALTIME, 50);
        long n = CALL(mq_timedreceive(q, buf, sizeof buf, &prio, &t));
        show_bytes("message", buf, n);
    }

    say("== errors");
    {
        CALL(mq_receive(q, buf, 8, &prio));
        CALL(mq_send(q, "much too long for this queue's message size", 44, 0));
        struct mq_attr nb = {.mq_flags = O_NONBLOCK};
        CALL(mq_setattr(q, &nb, NULL));
        long n = CALL(mq_receive(q, buf, sizeof buf, &prio));
        show_bytes("message", buf, n);
        CALL(mq_receive(q, buf, sizeof buf, &prio));
        CALL(mq_send(q, "x", 1, 0));
        CALL(mq_send(q, "y", 1, 0));
        CALL(mq_send(q, "z", 1, 0));
        CALL(mq_close(q));
        CALL(mq_receive(q, buf, sizeof buf, &prio));
        CALL(mq_send(q, "x", 1, 0));
        CALL(mq_close(q));
    }

    say("== a new fd with the closed queue's number");
    {
        int p[2];
        REQUIRE(pipe(p) == 0);
        say("pipe took the old number: %s", yesno(p[0] == (int)q || p[1] == (int)q));
        CALL(write(p[1], "ok", 2));
        long n = CALL(read(p[0], buf, sizeof buf));
        show_bytes("read", buf, n);
    }
    return 0;
}
