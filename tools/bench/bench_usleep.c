/* usleep(100) and usleep(1000), and 100 µs timeouts of ppoll, select and epoll_pwait2 on an
 * empty pipe, as a program sees them: run natively and under LD_PRELOAD=libgreen.so by
 * tools/bench/run. Prints, for each:
 *   <call> <usec> <median_ns> <p90_ns> <samples>
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

enum { samples = 200, warmup = 5 };

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int by_value(const void* a, const void* b)
{
    uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
    return x < y ? -1 : x > y;
}

static int pipe_fds[2];
static int epoll_fd;

static void wait_usleep(unsigned usec)
{
    usleep(usec);
}

static void wait_ppoll(unsigned usec)
{
    struct pollfd f = {.fd = pipe_fds[0], .events = POLLIN};
    struct timespec ts = {0, (long)usec * 1000};
    ppoll(&f, 1, &ts, NULL);
}

static void wait_select(unsigned usec)
{
    fd_set r;
    FD_ZERO(&r);
    FD_SET(pipe_fds[0], &r);
    struct timeval tv = {0, (long)usec};
    select(pipe_fds[0] + 1, &r, NULL, NULL, &tv);
}

static void wait_epoll(unsigned usec)
{
    struct epoll_event ev;
    struct timespec ts = {0, (long)usec * 1000};
    epoll_pwait2(epoll_fd, &ev, 1, &ts, NULL);
}

static void measure(const char* name, void (*wait)(unsigned), unsigned usec)
{
    uint64_t v[samples];
    for (int i = 0; i < samples + warmup; ++i) {
        uint64_t t0 = now_ns();
        wait(usec);
        uint64_t t1 = now_ns();
        if (i >= warmup)
            v[i - warmup] = t1 - t0;
    }
    qsort(v, samples, sizeof v[0], by_value);
    uint64_t median = (v[samples / 2 - 1] + v[samples / 2]) / 2;
    uint64_t p90 = v[(samples * 90 + 99) / 100 - 1]; /* nearest rank */
    printf("%s %u %llu %llu %d\n", name, usec, (unsigned long long)median,
           (unsigned long long)p90, samples);
}

int main(void)
{
    if (pipe(pipe_fds) != 0 || (epoll_fd = epoll_create1(0)) < 0)
        return 1;
    struct epoll_event ev = {.events = EPOLLIN};
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, pipe_fds[0], &ev) != 0)
        return 1;
    measure("usleep", wait_usleep, 100);
    measure("usleep", wait_usleep, 1000);
    measure("ppoll", wait_ppoll, 100);
    measure("select", wait_select, 100);
    measure("epoll_pwait2", wait_epoll, 100);
    return 0;
}
