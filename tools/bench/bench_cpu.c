/* A program that never blocks: a CPU-bound loop (xorshift64 steps), for the overhead the
 * library adds to programs it has nothing to do for.
 *
 *   bench_cpu STEPS      prints: steps=STEPS checksum=... ns=...
 */
#include "bench.h"

int main(int argc, char** argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench_cpu STEPS\n");
        return 2;
    }
    long steps = bench_arg(argv[1], "STEPS");
    uint64_t x = 88172645463325252ull, sum = 0;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < steps; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sum += x >> 60;
    }
    printf("steps=%ld checksum=%llu ns=%llu\n", steps, (unsigned long long)sum,
           (unsigned long long)(bench_now_ns() - t0));
    return 0;
}
