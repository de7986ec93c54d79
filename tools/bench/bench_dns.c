/* N threads resolving N different names at once with getaddrinfo, the way a
 * thread-per-request program does.
 *
 *   bench_dns N SUFFIX      thread i looks up "n<i>.SUFFIX" (AF_INET, SOCK_STREAM)
 *
 * The threads are created first and wait on a condition variable; they are released
 * together. Prints:
 *   n=N ok=... failed=... wall_ns=... p50_ns=... p99_ns=... threads=... first_error=...
 * wall_ns runs from the release to the last answer; threads is the process's OS thread
 * count while all N wait to start. */
#include "bench.h"

#include <netdb.h>
#include <pthread.h>
#include <sys/resource.h>

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cond = PTHREAD_COND_INITIALIZER, ready_cond = PTHREAD_COND_INITIALIZER;
static long ready;
static int go;
static const char* suffix;
static uint64_t* latency;
static int* results;

static void* lookup(void* arg)
{
    long i = (long)arg;
    char name[256];
    snprintf(name, sizeof name, "n%ld.%s", i, suffix);
    pthread_mutex_lock(&mutex);
    ++ready;
    pthread_cond_signal(&ready_cond);
    while (!go)
        pthread_cond_wait(&go_cond, &mutex);
    pthread_mutex_unlock(&mutex);

    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    uint64_t t0 = bench_now_ns();
    results[i] = getaddrinfo(name, "80", &hints, &res);
    latency[i] = bench_now_ns() - t0;
    if (results[i] == 0)
        freeaddrinfo(res);
    return NULL;
}

int main(int argc, char** argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_dns N SUFFIX\n");
        return 2;
    }
    long n = bench_arg(argv[1], "N");
    suffix = argv[2];
    struct rlimit nofile;
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);

    latency = calloc((size_t)n, sizeof *latency);
    results = calloc((size_t)n, sizeof *results);
    pthread_t* threads = calloc((size_t)n, sizeof *threads);
    for (long i = 0; i < n; ++i) {
        int rc = pthread_create(&threads[i], NULL, lookup, (void*)i);
        if (rc != 0) {
            fprintf(stderr, "bench_dns: pthread_create %ld: %s\n", i, strerror(rc));
            return 1;
        }
    }
    pthread_mutex_lock(&mutex);
    while (ready < n)
        pthread_cond_wait(&ready_cond, &mutex);
    long os_threads = bench_status_field("Threads");
    uint64_t t0 = bench_now_ns();
    go = 1;
    pthread_cond_broadcast(&go_cond);
    pthread_mutex_unlock(&mutex);
    for (long i = 0; i < n; ++i)
        pthread_join(threads[i], NULL);
    uint64_t wall = bench_now_ns() - t0;

    long ok = 0;
    int first_error = 0;
    for (long i = 0; i < n; ++i) {
        if (results[i] == 0)
            ++ok;
        else if (!first_error)
            first_error = results[i];
    }
    uint64_t p50 = bench_percentile(latency, (size_t)n, 50);
    uint64_t p99 = bench_percentile(latency, (size_t)n, 99);
    printf("n=%ld ok=%ld failed=%ld wall_ns=%llu p50_ns=%llu p99_ns=%llu threads=%ld first_error=\"%s\"\n",
           n, ok, n - ok, (unsigned long long)wall, (unsigned long long)p50,
           (unsigned long long)p99, os_threads,
           first_error ? gai_strerror(first_error) : "none");
    return 0;
}
