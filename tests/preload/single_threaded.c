/* glibc is told that the process became multi-threaded: __libc_single_threaded, which
 * libstdc++ reads to choose between atomic and plain reference counts and to tell recursion
 * from a second thread in a function-local static's initialisation, is 0 from the first
 * pthread_create on, as natively. */
#include "transcript.h"

#include <pthread.h>
#include <sys/single_threaded.h>
#include <unistd.h>

static void *sleeper(void *arg)
{
    (void)arg;
    usleep(10000);
    return NULL;
}

int main(void)
{
    say("before pthread_create: __libc_single_threaded = %d", __libc_single_threaded);
    pthread_t t;
    CALL(pthread_create(&t, NULL, sleeper, NULL));
    say("after pthread_create: __libc_single_threaded = %d", __libc_single_threaded);
    CALL(pthread_join(t, NULL));
    /* glibc never sets it back: threads may have been made that it cannot see end. */
    say("after pthread_join: __libc_single_threaded = %d", __libc_single_threaded);
    return 0;
}
