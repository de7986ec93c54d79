/* N threads resolving N different names at once with getaddrinfo, the way a
 * thread-per-request program does.
 *
 *   bench_dns N SUFFIX DEADLINE_SECONDS    thread i looks up "n<i>.SUFFIX" (AF_INET, SOCK_STREAM)
 *
 * The threads are created first and wait on a condition variable; they are released
 * together. Prints:
 *   n=N ok=... failed=... pending=... wall_ns=... p50_ns=... p99_ns=... threads=... first_error=...
 * wall_ns runs from the release to the last answer, or to the deadline when lookups are still
 * pending then (a resolver that runs lookups one after another takes N times the delay); the
 * percentiles are over the lookups that finished. threads is the process's OS thread count
 * while all N wait to start. The process exits without waiting for pending lookups. */
#include "bench.h"

#include <netdb.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cond = PTHREAD_COND_INITIALIZER, ready_cond = PTHREAD_COND_INITIALIZER,
                      done_cond = PTHREAD_COND_INITIALIZER;
static long n;
static long ready, finished;
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
    int rc = getaddrinfo(name, "80", &hints, &res);
    uint64_t took = bench_now_ns() - t0;
    if (rc == 0)
        freeaddrinfo(res);
    pthread_mutex_lock(&mutex);
    results[i] = rc;
    latency[i] = took ? took : 1; /* 0 means "not finished" */
    if (++finished == n)
        pthread_cond_signal(&done_cond);
    pthread_mutex_unlock(&mutex);
    return NULL;
}

int main(int argc, char** argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_dns N SUFFIX DEADLINE_SECONDS\n");
        return 2;
    }
    n = bench_arg(argv[1], "N");
    long deadline_s = bench_arg(argv[3], "DEADLINE_SECONDS");
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
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += deadline_s;
    while (finished < n)
        if (pthread_cond_timedwait(&done_cond, &mutex, &deadline) == ETIMEDOUT)
            break;
    uint64_t wall = bench_now_ns() - t0;
    /* Still under the mutex: the counts and the finished lookups' results are settled. */
    long ok = 0, failed = 0, done = 0;
    int first_error = 0;
    for (long i = 0; i < n; ++i) {
        if (!latency[i])
            continue;
        latency[done++] = latency[i];
        if (results[i] == 0)
            ++ok;
        else if (++failed, !first_error)
            first_error = results[i];
    }
    uint64_t p50 = done ? bench_percentile(latency, (size_t)done, 50) : 0;
    uint64_t p99 = done ? bench_percentile(latency, (size_t)done, 99) : 0;
    printf("n=%ld ok=%ld failed=%ld pending=%ld wall_ns=%llu p50_ns=%llu p99_ns=%llu threads=%ld "
           "first_error=\"%s\"\n",
           n, ok, failed, n - done, (unsigned long long)wall, (unsigned long long)p50,
           (unsigned long long)p99, os_threads, first_error ? gai_strerror(first_error) : "none");
    fflush(stdout);
    _exit(0);
}
