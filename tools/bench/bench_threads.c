/* Thread micro-benchmarks of an ordinary pthread program.
 *
 *   bench_threads create  ITERATIONS REPS   pthread_create + pthread_join, one at a time
 *   bench_threads condvar ITERATIONS REPS   round trip between two threads: mutex + two condvars
 *   bench_threads pipe    ITERATIONS REPS   round trip between two threads over two pipes
 *   bench_threads mutex   ITERATIONS REPS   uncontended pthread_mutex_lock + unlock
 *   bench_threads mutex-semopen ITERATIONS REPS   the same in a process with one sem_open
 *   bench_threads futex   ITERATIONS REPS   round trip between two threads on a raw futex word
 *                                           (syscall(SYS_futex), FUTEX_WAIT/WAKE_PRIVATE, as
 *                                           std::atomic::wait and Rust's Mutex wait)
 *   bench_threads futex-shared ...          the same with the shared operations (libstdc++'s)
 *   bench_threads futex-shm ...             shared operations on a MAP_SHARED word, which another
 *                                           process could wake (green: a helper thread waits)
 *   bench_threads ready_read ITERATIONS REPS  read() of 1 byte from a socket that has data
 *   bench_threads eagain_read ITERATIONS REPS read() on an empty O_NONBLOCK socket (EAGAIN)
 *   bench_threads sigmask ITERATIONS REPS   pthread_sigmask blocking, then unblocking, SIGUSR1
 *                                           in a process of one thread (per call)
 *   bench_threads sigmask-open ...          the same while another thread leaves SIGUSR1 open
 *                                           (green: the kernel's mask need not change)
 *   bench_threads open ITERATIONS REPS      open() and close() of a regular file while another
 *                                           thread waits (green: the open is looked at for a
 *                                           FIFO, which could wait on that thread)
 *
 * Each repetition times ITERATIONS operations and gives a mean; prints the median and the
 * smallest of the REPS means:
 *   op=create ns=<median> min_ns=<min> iterations=N reps=R
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void* empty(void* arg) { return arg; }

static uint64_t run_create(long n)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; ++i) {
        pthread_t t;
        int rc = pthread_create(&t, NULL, empty, NULL);
        if (rc != 0) {
            fprintf(stderr, "pthread_create: %s\n", strerror(rc));
            exit(1);
        }
        pthread_join(t, NULL);
    }
    return bench_now_ns() - t0;
}

/* Ping-pong on a shared turn: the main thread hands the turn over and waits to get it back. */
static struct {
    pthread_mutex_t mutex;
    pthread_cond_t to_peer, to_main;
    int turn; /* 0: main's, 1: the peer's */
    long n;
} cv = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static void* condvar_peer(void* arg)
{
    (void)arg;
    pthread_mutex_lock(&cv.mutex);
    for (long i = 0; i < cv.n; ++i) {
        while (cv.turn != 1)
            pthread_cond_wait(&cv.to_peer, &cv.mutex);
        cv.turn = 0;
        pthread_cond_signal(&cv.to_main);
    }
    pthread_mutex_unlock(&cv.mutex);
    return NULL;
}

static uint64_t run_condvar(long n)
{
    pthread_t t;
    cv.n = n;
    cv.turn = 0;
    pthread_create(&t, NULL, condvar_peer, NULL);
    uint64_t t0 = bench_now_ns();
    pthread_mutex_lock(&cv.mutex);
    for (long i = 0; i < n; ++i) {
        cv.turn = 1;
        pthread_cond_signal(&cv.to_peer);
        while (cv.turn != 0)
            pthread_cond_wait(&cv.to_main, &cv.mutex);
    }
    pthread_mutex_unlock(&cv.mutex);
    uint64_t elapsed = bench_now_ns() - t0;
    pthread_join(t, NULL);
    return elapsed;
}

static int to_peer[2], to_main[2];
static long pipe_n;

static void* pipe_peer(void* arg)
{
    (void)arg;
    char c;
    for (long i = 0; i < pipe_n; ++i) {
        if (read(to_peer[0], &c, 1) != 1 || write(to_main[1], &c, 1) != 1) {
            perror("pipe peer");
            exit(1);
        }
    }
    return NULL;
}

static uint64_t run_pipe(long n)
{
    pthread_t t;
    pipe_n = n;
    if (pipe(to_peer) || pipe(to_main)) {
        perror("pipe");
        exit(1);
    }
    pthread_create(&t, NULL, pipe_peer, NULL);
    char c = 'x';
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; ++i) {
        if (write(to_peer[1], &c, 1) != 1 || read(to_main[0], &c, 1) != 1) {
            perror("pipe main");
            exit(1);
        }
    }
    uint64_t elapsed = bench_now_ns() - t0;
    pthread_join(t, NULL);
    close(to_peer[0]);
    close(to_peer[1]);
    close(to_main[0]);
    close(to_main[1]);
    return elapsed;
}

static pthread_mutex_t plain_mutex = PTHREAD_MUTEX_INITIALIZER;

static uint64_t run_mutex(long n)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; ++i) {
        pthread_mutex_lock(&plain_mutex);
        pthread_mutex_unlock(&plain_mutex);
    }
    return bench_now_ns() - t0;
}

/* A process that has a named semaphore open: its mutexes must cost what they cost without. */
static uint64_t run_mutex_semopen(long n)
{
    static sem_t* named;
    if (!named) {
        char name[64];
        snprintf(name, sizeof name, "/bench_threads.%d", (int)getpid());
        named = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
        if (named == SEM_FAILED) {
            perror("sem_open");
            exit(1);
        }
        sem_unlink(name);
    }
    return run_mutex(n);
}

/* Ping-pong on one futex word: 1 is the peer's turn, 0 main's; each side waits while the word
 * is not its own value and wakes the other after flipping it. */
static uint32_t futex_word, *futex_turn_at = &futex_word;
#define futex_turn (*futex_turn_at)
static long futex_n;
static int futex_flag; /* FUTEX_PRIVATE_FLAG or 0 */

static void futex_pass(uint32_t to)
{
    __atomic_store_n(&futex_turn, to, __ATOMIC_SEQ_CST);
    syscall(SYS_futex, &futex_turn, FUTEX_WAKE | futex_flag, 1, NULL, NULL, 0);
}

static void futex_await(uint32_t mine)
{
    uint32_t v;
    while ((v = __atomic_load_n(&futex_turn, __ATOMIC_SEQ_CST)) != mine)
        syscall(SYS_futex, &futex_turn, FUTEX_WAIT | futex_flag, v, NULL, NULL, 0);
}

static void* futex_peer(void* arg)
{
    (void)arg;
    for (long i = 0; i < futex_n; ++i) {
        futex_await(1);
        futex_pass(0);
    }
    return NULL;
}

static uint64_t run_futex_with(long n, int flag)
{
    pthread_t t;
    futex_n = n;
    futex_flag = flag;
    futex_turn = 0;
    pthread_create(&t, NULL, futex_peer, NULL);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; ++i) {
        futex_pass(1);
        futex_await(0);
    }
    uint64_t elapsed = bench_now_ns() - t0;
    pthread_join(t, NULL);
    return elapsed;
}

static uint64_t run_futex(long n) { return run_futex_with(n, FUTEX_PRIVATE_FLAG); }
static uint64_t run_futex_shared(long n) { return run_futex_with(n, 0); }

static uint64_t run_futex_shm(long n)
{
    void* page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    futex_turn_at = page;
    uint64_t elapsed = run_futex_with(n, 0);
    futex_turn_at = &futex_word;
    munmap(page, 4096);
    return elapsed;
}

/* Calls that return at once: the hooks' fast path, where the green thread keeps running (and
 * only counts toward its time slice). A second thread exists, so that green threads are in use
 * and the slice is looked at as in a real program; it stays parked. */
static int quiet[2];

static void* parked_peer(void* arg)
{
    char c;
    (void)arg;
    return read(quiet[0], &c, 1) == 1 ? NULL : arg;
}

static uint64_t run_reads(long n, int ready)
{
    int s[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) || pipe(quiet)) {
        perror("socketpair");
        exit(1);
    }
    if (!ready)
        fcntl(s[0], F_SETFL, O_NONBLOCK);
    pthread_t t;
    pthread_create(&t, NULL, parked_peer, NULL);
    enum { batch = 1024 };
    char buf[batch] = {0};
    uint64_t elapsed = 0;
    for (long done = 0; done < n; done += batch) {
        long k = n - done < batch ? n - done : batch;
        if (ready && write(s[1], buf, (size_t)k) != k) {
            perror("write");
            exit(1);
        }
        uint64_t t0 = bench_now_ns();
        for (long i = 0; i < k; ++i) {
            ssize_t r = read(s[0], buf, 1);
            if (ready ? r != 1 : (r != -1 || errno != EAGAIN)) {
                perror("read");
                exit(1);
            }
        }
        elapsed += bench_now_ns() - t0;
    }
    if (write(quiet[1], "", 1) != 1) {
        perror("write");
        exit(1);
    }
    pthread_join(t, NULL);
    close(s[0]);
    close(s[1]);
    close(quiet[0]);
    close(quiet[1]);
    return elapsed;
}

static void* wait_for_byte(void* arg)
{
    char c;
    if (read(*(int*)arg, &c, 1) != 1)
        perror("read");
    return NULL;
}

// Mean per call of n pairs of pthread_sigmask (block, unblock), with another thread alive
// that never blocks the signal if `other`.
static uint64_t run_sigmasks(long n, int other)
{
    int quiet[2];
    pthread_t t;
    if (other && (pipe(quiet) != 0 || pthread_create(&t, NULL, wait_for_byte, &quiet[0]) != 0)) {
        perror("pipe/pthread_create");
        exit(1);
    }
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    long pairs = n / 2 ? n / 2 : 1;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < pairs; ++i) {
        pthread_sigmask(SIG_BLOCK, &usr1, NULL);
        pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
    }
    uint64_t elapsed = (bench_now_ns() - t0) * (uint64_t)n / (uint64_t)(2 * pairs);
    if (other) {
        if (write(quiet[1], "", 1) != 1) {
            perror("write");
            exit(1);
        }
        pthread_join(t, NULL);
        close(quiet[0]);
        close(quiet[1]);
    }
    return elapsed;
}

static uint64_t run_open(long n)
{
    int quiet[2];
    pthread_t t;
    if (pipe(quiet) != 0 || pthread_create(&t, NULL, wait_for_byte, &quiet[0]) != 0) {
        perror("pipe/pthread_create");
        exit(1);
    }
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; ++i) {
        int fd = open("/etc/passwd", O_RDONLY);
        if (fd < 0) {
            perror("open");
            exit(1);
        }
        close(fd);
    }
    uint64_t elapsed = bench_now_ns() - t0;
    if (write(quiet[1], "", 1) != 1) {
        perror("write");
        exit(1);
    }
    pthread_join(t, NULL);
    close(quiet[0]);
    close(quiet[1]);
    return elapsed;
}

static uint64_t run_sigmask(long n) { return run_sigmasks(n, 0); }
static uint64_t run_sigmask_open(long n) { return run_sigmasks(n, 1); }

static uint64_t run_ready_read(long n) { return run_reads(n, 1); }
static uint64_t run_eagain_read(long n) { return run_reads(n, 0); }

int main(int argc, char** argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_threads create|condvar|pipe|mutex|mutex-semopen|futex|"
                        "futex-shared|futex-shm|ready_read|eagain_read|sigmask|sigmask-open|open "
                        "ITERATIONS REPS\n");
        return 2;
    }
    long n = bench_arg(argv[2], "ITERATIONS"), reps = bench_arg(argv[3], "REPS");
    if (n < 1 || reps < 1 || reps > 1000) {
        fprintf(stderr, "ITERATIONS and REPS must be positive (REPS at most 1000)\n");
        return 2;
    }
    uint64_t (*run)(long);
    if (strcmp(argv[1], "create") == 0)
        run = run_create;
    else if (strcmp(argv[1], "condvar") == 0)
        run = run_condvar;
    else if (strcmp(argv[1], "pipe") == 0)
        run = run_pipe;
    else if (strcmp(argv[1], "mutex") == 0)
        run = run_mutex;
    else if (strcmp(argv[1], "mutex-semopen") == 0)
        run = run_mutex_semopen;
    else if (strcmp(argv[1], "futex") == 0)
        run = run_futex;
    else if (strcmp(argv[1], "futex-shared") == 0)
        run = run_futex_shared;
    else if (strcmp(argv[1], "futex-shm") == 0)
        run = run_futex_shm;
    else if (strcmp(argv[1], "ready_read") == 0)
        run = run_ready_read;
    else if (strcmp(argv[1], "sigmask") == 0)
        run = run_sigmask;
    else if (strcmp(argv[1], "sigmask-open") == 0)
        run = run_sigmask_open;
    else if (strcmp(argv[1], "eagain_read") == 0)
        run = run_eagain_read;
    else if (strcmp(argv[1], "open") == 0)
        run = run_open;
    else {
        fprintf(stderr, "unknown benchmark: %s\n", argv[1]);
        return 2;
    }
    run(n / 10 + 1); /* warm up: stacks cached, pages touched */
    uint64_t per_op[1000];
    for (long r = 0; r < reps; ++r)
        per_op[r] = run(n) / (uint64_t)n;
    uint64_t median = bench_percentile(per_op, (size_t)reps, 50);
    printf("op=%s ns=%llu min_ns=%llu iterations=%ld reps=%ld\n", argv[1],
           (unsigned long long)median, (unsigned long long)per_op[0], n, reps);
    return 0;
}
