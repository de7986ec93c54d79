/* A shared library whose constructor does I/O and sleeps before main runs, possibly before
 * libgreen has initialised itself: the calls must pass through and behave as without it. */
#include "transcript.h"

#include <unistd.h>

static int ctor_steps;

static void line(const char *s)
{
    /* Straight to fd 1 with write(2), not stdio: this is one of the calls under test. */
    size_t len = strlen(s);
    ssize_t w = write(1, s, len);
    if (w == (ssize_t)len)
        ctor_steps++;
}

__attribute__((constructor)) static void early(void)
{
    char msg[160], buf[32];
    int p[2];
    line("ctor: before main\n");
    errno = 0;
    int r = pipe(p);
    snprintf(msg, sizeof msg, "ctor: pipe = %d%s%s\n", r, r ? " " : "", r ? errno_name(errno) : "");
    line(msg);
    if (r != 0)
        return;
    long w = write(p[1], "early", 5);
    long n = read(p[0], buf, dyn(sizeof buf));
    snprintf(msg, sizeof msg, "ctor: fds %d %d, write = %ld, read = %ld \"%.*s\"\n", p[0], p[1], w,
             n, n > 0 ? (int)n : 0, buf);
    line(msg);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    errno = 0;
    r = usleep(1000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    snprintf(msg, sizeof msg, "ctor: usleep(1000) = %d, elapsed ok: %s\n", r, yesno(el >= 0.001));
    line(msg);
    close(p[0]);
    close(p[1]);
}

int ctor_lib_steps(void) { return ctor_steps; }
