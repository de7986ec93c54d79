/* How long usleep and nanosleep really take, as a program sees them.
 *
 *   bench_sleep SECONDS_PER_CASE     (e.g. 0.3; each case takes at most about this long)
 *
 * For 10 µs, 100 µs, 1 ms and 10 ms, with usleep and with nanosleep, prints:
 *   call=usleep req_ns=10000 median_ns=... p90_ns=... p99_ns=... samples=...
 * At least 20 and at most 2,000 samples per case, after 5 not counted. */
#include "bench.h"

#include <unistd.h>

int main(int argc, char** argv)
{
    double budget = argc == 2 ? strtod(argv[1], NULL) : 0.3;
    if (argc > 2 || !(budget > 0 && budget < 60)) {
        fprintf(stderr, "usage: bench_sleep [SECONDS_PER_CASE]\n");
        return 2;
    }
    static const long requests_us[] = {10, 100, 1000, 10000};
    static uint64_t v[2000];
    for (int call = 0; call < 2; ++call)
        for (size_t r = 0; r < sizeof requests_us / sizeof requests_us[0]; ++r) {
            long us = requests_us[r];
            long samples = (long)(budget * 1e6 / (double)us / 1.2);
            samples = samples < 20 ? 20 : samples > 2000 ? 2000 : samples;
            struct timespec req = {us / 1000000, us % 1000000 * 1000};
            for (long i = -5; i < samples; ++i) {
                uint64_t t0 = bench_now_ns();
                if (call == 0)
                    usleep((useconds_t)us);
                else
                    nanosleep(&req, NULL);
                uint64_t t1 = bench_now_ns();
                if (i >= 0)
                    v[i] = t1 - t0;
            }
            uint64_t median = bench_percentile(v, (size_t)samples, 50);
            uint64_t p90 = bench_percentile(v, (size_t)samples, 90);
            uint64_t p99 = bench_percentile(v, (size_t)samples, 99);
            printf("call=%s req_ns=%ld median_ns=%llu p90_ns=%llu p99_ns=%llu samples=%ld\n",
                   call == 0 ? "usleep" : "nanosleep", us * 1000, (unsigned long long)median,
                   (unsigned long long)p90, (unsigned long long)p99, samples);
        }
    return 0;
}
