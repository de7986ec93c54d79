/* Threads outliving main: main starts 3 threads that sleep 100, 200 and 300 ms, then calls
 * pthread_exit(NULL). The process must live on until the last of them ends, then exit with
 * status 0 (running the atexit handlers, as exit(0) would). Each thread writes its line with
 * write(2) when its turn comes (a condvar chain), so the order never depends on scheduling. */
#include "transcript.h"

#include <pthread.h>
#include <unistd.h>

enum { THREADS = 3 };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;
static int turn;
static int slept_long_enough[THREADS];

static void line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void line(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    buf[n] = '\n';
    if (write(1, buf, (size_t)n + 1) != n + 1)
        _exit(3);
}

static void at_exit(void)
{
    line("atexit handler: turn %d", turn);
}

static void *sleeper(void *arg)
{
    long id = (long)arg;
    double t0 = mono_now();
    int rc = usleep((useconds_t)(100000 * (id + 1)));
    slept_long_enough[id] = mono_now() - t0 >= 0.1 * (id + 1) - 0.01;

    pthread_mutex_lock(&mu);
    while (turn != id)
        pthread_cond_wait(&turn_changed, &mu);
    line("thread %ld: usleep(%ld) = %d, slept long enough: %s", id, 100000 * (id + 1), rc,
         yesno(slept_long_enough[id]));
    if (id == THREADS - 1) {
        int all = 1;
        for (int i = 0; i < THREADS; i++)
            all &= slept_long_enough[i];
        line("last thread: all slept long enough: %s", yesno(all));
    }
    turn++;
    pthread_cond_broadcast(&turn_changed);
    pthread_mutex_unlock(&mu);
    return NULL;
}

int main(void)
{
    REQUIRE(atexit(at_exit) == 0);
    CALL(usleep(1000)); /* parks */
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++) {
        int rc = pthread_create(&t[i], NULL, sleeper, (void *)i);
        say("pthread_create(thread %ld) = %s", i, rc == 0 ? "0" : errno_name(rc));
    }
    pthread_mutex_lock(&mu);
    say("main: calling pthread_exit(NULL)");
    pthread_mutex_unlock(&mu);
    pthread_exit(NULL);
}
