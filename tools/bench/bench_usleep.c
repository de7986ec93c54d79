/* usleep(100) and usleep(1000) as a program sees them: run natively and under
 * LD_PRELOAD=libgreen.so by tools/bench/run. Prints, for each request:
 *   usleep <usec> <median_ns> <p90_ns> <samples>
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

int main(void)
{
    static const unsigned requests[] = {100, 1000};
    for (size_t r = 0; r < sizeof requests / sizeof requests[0]; ++r) {
        uint64_t v[samples];
        for (int i = 0; i < samples + warmup; ++i) {
            uint64_t t0 = now_ns();
            usleep(requests[r]);
            uint64_t t1 = now_ns();
            if (i >= warmup)
                v[i - warmup] = t1 - t0;
        }
        qsort(v, samples, sizeof v[0], by_value);
        uint64_t median = (v[samples / 2 - 1] + v[samples / 2]) / 2;
        uint64_t p90 = v[(samples * 90 + 99) / 100 - 1]; /* nearest rank */
        printf("usleep %u %llu %llu %d\n", requests[r], (unsigned long long)median,
               (unsigned long long)p90, samples);
    }
    return 0;
}
