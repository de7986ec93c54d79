/* Helpers shared by the thread-scale programs (echo_server.c, echo_client.c, sleepers.c). */
#ifndef GREEN_TESTS_THREADS_OS_THREADS_H
#define GREEN_TESTS_THREADS_OS_THREADS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* The number of OS threads of this process, from the "Threads:" line of /proc/self/status (what
 * the kernel counts, so green threads that are fibers do not show), or -1. */
static inline int os_threads(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof buf - 1)
            break;
    }
    close(fd);
    buf[len] = '\0';
    const char *p = strstr(buf, "\nThreads:");
    return p ? atoi(p + strlen("\nThreads:")) : -1;
}

/* Thousands of sockets need more than the usual soft limit of 1,024 fds; the hard limit is
 * what an unprivileged process may raise it to. Dies on failure: the test cannot run. */
static inline void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        perror("getrlimit(RLIMIT_NOFILE)");
        exit(2);
    }
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        perror("setrlimit(RLIMIT_NOFILE)");
        exit(2);
    }
}

static inline double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
