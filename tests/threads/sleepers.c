/* Thousands of threads sleeping at once.
 *
 * usage: sleepers THREADS MILLISECONDS
 *
 * Main first times one sleep of MILLISECONDS on its own (the reference, measured in this run
 * so a loaded machine slows both alike). Then it creates THREADS threads; each waits at a
 * barrier until all exist, sleeps MILLISECONDS with usleep, and checks that its sleep lasted
 * at least that long. Main reads its OS thread count (/proc/self/status) when all threads exist
 * and again halfway through their sleeps, and times everything from the barrier to the last
 * join.
 *
 * stdout: a transcript independent of scheduling, including whether all sleeps together took
 * less than 10 reference sleeps, and one line
 * "measured: os_threads_peak=N total_over_one_sleep=R" the test driver takes out and checks.
 * Exit status 0 when every thread slept its time and the total stayed under 10 sleeps.
 */
#include "os_threads.h"

#include <pthread.h>

static long sleep_us;
static pthread_barrier_t all_created;
static int *short_sleeps; /* per thread: usleep failed or returned early */

static void *sleeper(void *arg)
{
    long i = (long)arg;
    pthread_barrier_wait(&all_created);
    double t0 = mono_seconds();
    int rc = usleep((useconds_t)sleep_us);
    double slept = mono_seconds() - t0;
    short_sleeps[i] = rc != 0 || slept < (double)sleep_us / 1e6;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: sleepers THREADS MILLISECONDS\n");
        return 2;
    }
    long n = atol(argv[1]);
    long ms = atol(argv[2]);
    if (n <= 0 || ms <= 0) {
        fprintf(stderr, "sleepers: bad arguments\n");
        return 2;
    }
    sleep_us = ms * 1000;
    /* With a hub per native thread (before threads are fibers) each thread holds fds. */
    raise_nofile();
    short_sleeps = calloc((size_t)n, sizeof *short_sleeps);
    pthread_t *tids = calloc((size_t)n, sizeof *tids);
    if (!short_sleeps || !tids) {
        fprintf(stderr, "sleepers: out of memory\n");
        return 1;
    }

    double t0 = mono_seconds();
    usleep((useconds_t)sleep_us);
    double one = mono_seconds() - t0;

    pthread_barrier_init(&all_created, NULL, (unsigned)n + 1);
    for (long i = 0; i < n; i++) {
        int rc = pthread_create(&tids[i], NULL, sleeper, (void *)i);
        if (rc != 0) {
            printf("pthread_create for thread %ld = %s\n", i, strerrorname_np(rc));
            fflush(stdout);
            return 1;
        }
    }
    /* No thread can leave the barrier before main arrives: all n exist now. */
    int peak = os_threads();
    t0 = mono_seconds();
    pthread_barrier_wait(&all_created);
    usleep((useconds_t)sleep_us / 2);
    int mid = os_threads();
    if (mid > peak)
        peak = mid;
    long joined = 0, short_count = 0;
    for (long i = 0; i < n; i++) {
        if (pthread_join(tids[i], NULL) == 0)
            joined++;
        short_count += short_sleeps[i];
    }
    double total = mono_seconds() - t0;

    printf("measured: os_threads_peak=%d total_over_one_sleep=%.2f\n", peak, total / one);
    printf("threads: %ld, each sleeping %ld ms\n", n, ms);
    printf("threads joined: %ld\n", joined);
    printf("sleeps that failed or ended early: %ld\n", short_count);
    printf("all of them took less than 10 single sleeps: %s\n", total < 10 * one ? "yes" : "no");
    return joined == n && short_count == 0 && total < 10 * one ? 0 : 1;
}
