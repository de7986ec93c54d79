/* A program built against include/green.h: what it learns about libgreen, with or without it.
 * Prints whether the library is active, whether the stats can be read (and whether they count),
 * and whether green thread ids are given: nonzero, and different for two green threads. */
#include <green.h>

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *thread_main(void *arg)
{
    *(uint64_t *)arg = green_thread_id();
    return NULL;
}

int main(void)
{
    printf("green_active() = %d\n", green_active());
    uint64_t main_id = green_thread_id();
    uint64_t other_id = 0;
    pthread_t t;
    if (pthread_create(&t, NULL, thread_main, &other_id) != 0 || pthread_join(t, NULL) != 0)
        return 2;
    usleep(1000);
    struct green_stats s;
    int r = green_read_stats(&s);
    printf("green_read_stats() = %d, counting %d, parked: %s, green threads >= 2: %s\n", r,
           s.counting, s.parks > 0 ? "yes" : "no", s.green_threads >= 2 ? "yes" : "no");
    printf("green_thread_id(): main %s, a thread %s, different: %s\n",
           main_id ? "nonzero" : "0", other_id ? "nonzero" : "0",
           main_id != other_id ? "yes" : "no");
    return 0;
}
