/* flockfile sections of two threads on one stream, each blocking inside its section (a sleep,
 * a pipe read): the second waits for the first to unlock, and ftrylockfile fails meanwhile.
 * Under libgreen both are green threads of one hub; the first's park inside its section must
 * let the second run up to its flockfile and wait there, not block the hub thread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int held_pipe[2];   /* A writes when it holds the lock */
static int go_pipe[2];     /* B writes when A may go on */
static FILE* out;

static void* first(void* arg)
{
    (void)arg;
    flockfile(out);
    fprintf(out, "first: locked\n");
    if (write(held_pipe[1], "h", 1) != 1)
        abort();
    char c;
    if (read(go_pipe[0], &c, 1) != 1)  /* blocks holding the lock */
        abort();
    usleep(20000);                     /* and sleeps holding it */
    fprintf(out, "first: unlocking\n");
    funlockfile(out);
    return NULL;
}

static void* second(void* arg)
{
    (void)arg;
    char c;
    if (read(held_pipe[0], &c, 1) != 1)
        abort();
    int busy = ftrylockfile(out);
    if (busy == 0)
        funlockfile(out);
    if (write(go_pipe[1], "g", 1) != 1)
        abort();
    flockfile(out);  /* waits for the first thread's funlockfile */
    fprintf(out, "second: ftrylockfile while held returned %s\n", busy ? "nonzero" : "0");
    fprintf(out, "second: locked after the first unlocked\n");
    funlockfile(out);
    return NULL;
}

int main(void)
{
    out = stdout;
    setvbuf(out, NULL, _IOLBF, 0);
    if (pipe(held_pipe) || pipe(go_pipe))
        return 1;
    pthread_t a, b;
    pthread_create(&a, NULL, first, NULL);
    pthread_create(&b, NULL, second, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    /* Recursive, as glibc's: the same thread locks twice and unlocks twice. */
    flockfile(out);
    flockfile(out);
    fprintf(out, "main: ftrylockfile by the holder returns %d\n", ftrylockfile(out));
    funlockfile(out);
    funlockfile(out);
    funlockfile(out);
    return 0;
}
