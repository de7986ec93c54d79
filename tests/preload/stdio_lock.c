/* flockfile sections of two threads on one stream, each blocking inside its section (a sleep,
 * a pipe read): the second waits for the first to unlock, and ftrylockfile fails meanwhile.
 * Under libgreen both are green threads of one hub; the first's park inside its section must
 * let the second run up to its flockfile and wait there, not block the hub thread. The same on
 * a regular-file stream, and a feof on a pipe stream whose reader is parked in fgets. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* A section on a regular-file stream with a sleep inside; the other thread's flockfile waits. */
static FILE* log_file;
static int log_held[2];

static void* log_first(void* arg)
{
    (void)arg;
    flockfile(log_file);
    fputs("first\n", log_file);
    if (write(log_held[1], "h", 1) != 1)
        abort();
    usleep(20000);
    fputs("first again\n", log_file);
    funlockfile(log_file);
    return NULL;
}

static void* log_second(void* arg)
{
    (void)arg;
    char c;
    if (read(log_held[0], &c, 1) != 1)
        abort();
    flockfile(log_file);
    fputs("second\n", log_file);
    funlockfile(log_file);
    return NULL;
}

/* A reader parked in fgets on a pipe stream while another thread asks feof about it. */
static FILE* pipe_in;
static int pipe_w;
static char line[64];

static void* line_reader(void* arg)
{
    (void)arg;
    if (!fgets(line, sizeof line, pipe_in))
        strcpy(line, "(none)\n");
    return NULL;
}

/* Natively feof waits for the reader's fgets to end (it holds the FILE's lock): the line comes
 * from a third thread. */
static void* feof_asker(void* arg)
{
    usleep(10000);  /* the reader is waiting in fgets by now */
    *(int*)arg = feof(pipe_in);
    return NULL;
}

static void* line_writer(void* arg)
{
    (void)arg;
    usleep(30000);
    if (write(pipe_w, "a line\n", 7) != 7)
        abort();
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

    char path[] = "/tmp/stdio_lock.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || pipe(log_held))
        return 1;
    unlink(path);
    log_file = fdopen(fd, "w+");
    pthread_create(&a, NULL, log_first, NULL);
    pthread_create(&b, NULL, log_second, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    rewind(log_file);
    char got[64];
    while (fgets(got, sizeof got, log_file))
        fprintf(out, "regular file: %s", got);
    fclose(log_file);

    int p[2];
    if (pipe(p))
        return 1;
    pipe_in = fdopen(p[0], "r");
    pipe_w = p[1];
    int at_eof = -1;
    pthread_create(&a, NULL, line_reader, NULL);
    pthread_create(&b, NULL, feof_asker, &at_eof);
    pthread_t w;
    pthread_create(&w, NULL, line_writer, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    pthread_join(w, NULL);
    fprintf(out, "feof while another thread read: %d; the reader got: %s", at_eof, line);
    return 0;
}
