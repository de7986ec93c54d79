/* How long sleeps and timeouts really take, as a program sees them.
 *
 *   bench_sleep SECONDS_PER_CASE     (e.g. 0.3; each case takes at most about this long)
 *
 * For 10 µs, 100 µs, 1 ms and 10 ms: usleep, nanosleep, and the timeouts of ppoll, select and
 * epoll_pwait2 waiting on an empty pipe. Prints, for each:
 *   call=usleep req_ns=10000 median_ns=... p90_ns=... p99_ns=... samples=...
 * At least 20 and at most 2,000 samples per case, after 5 not counted. */
#include "bench.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <unistd.h>

static int pipe_fds[2];
static int epoll_fd;

static void wait_usleep(long us) { usleep((useconds_t)us); }

static void wait_nanosleep(long us)
{
    struct timespec ts = {us / 1000000, us % 1000000 * 1000};
    nanosleep(&ts, NULL);
}

static void wait_ppoll(long us)
{
    struct pollfd f = {.fd = pipe_fds[0], .events = POLLIN};
    struct timespec ts = {us / 1000000, us % 1000000 * 1000};
    ppoll(&f, 1, &ts, NULL);
}

static void wait_select(long us)
{
    fd_set r;
    FD_ZERO(&r);
    FD_SET(pipe_fds[0], &r);
    struct timeval tv = {us / 1000000, us % 1000000};
    select(pipe_fds[0] + 1, &r, NULL, NULL, &tv);
}

static void wait_epoll(long us)
{
    struct epoll_event ev;
    struct timespec ts = {us / 1000000, us % 1000000 * 1000};
    epoll_pwait2(epoll_fd, &ev, 1, &ts, NULL);
}

int main(int argc, char** argv)
{
    double budget = argc == 2 ? strtod(argv[1], NULL) : 0.3;
    if (argc > 2 || !(budget > 0 && budget < 60)) {
        fprintf(stderr, "usage: bench_sleep [SECONDS_PER_CASE]\n");
        return 2;
    }
    struct epoll_event ev = {.events = EPOLLIN};
    if (pipe(pipe_fds) != 0 || (epoll_fd = epoll_create1(0)) < 0 ||
        epoll_ctl(epoll_fd, EPOLL_CTL_ADD, pipe_fds[0], &ev) != 0) {
        perror("bench_sleep: pipe or epoll");
        return 1;
    }
    static const struct {
        const char* name;
        void (*wait)(long);
    } calls[] = {{"usleep", wait_usleep}, {"nanosleep", wait_nanosleep}, {"ppoll", wait_ppoll},
                 {"select", wait_select}, {"epoll_pwait2", wait_epoll}};
    static const long requests_us[] = {10, 100, 1000, 10000};
    static uint64_t v[2000];
    for (size_t c = 0; c < sizeof calls / sizeof calls[0]; ++c)
        for (size_t r = 0; r < sizeof requests_us / sizeof requests_us[0]; ++r) {
            long us = requests_us[r];
            long samples = (long)(budget * 1e6 / (double)us / 1.2);
            samples = samples < 20 ? 20 : samples > 2000 ? 2000 : samples;
            for (long i = -5; i < samples; ++i) {
                uint64_t t0 = bench_now_ns();
                calls[c].wait(us);
                uint64_t t1 = bench_now_ns();
                if (i >= 0)
                    v[i] = t1 - t0;
            }
            uint64_t median = bench_percentile(v, (size_t)samples, 50);
            uint64_t p90 = bench_percentile(v, (size_t)samples, 90);
            uint64_t p99 = bench_percentile(v, (size_t)samples, 99);
            printf("call=%s req_ns=%ld median_ns=%llu p90_ns=%llu p99_ns=%llu samples=%ld\n",
                   calls[c].name, us * 1000, (unsigned long long)median,
                   (unsigned long long)p90, (unsigned long long)p99, samples);
        }
    return 0;
}
