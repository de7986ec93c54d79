/* The client for echo_server.c: thousands of threads, one blocking connection each, all held
 * open at once.
 *
 * usage: echo_client PORT THREADS BYTES [--quit-server]
 *
 * Each thread connects to 127.0.0.1:PORT, asks for echo ('E'), sends a 64-byte greeting and
 * reads it back (so the server's thread for it exists and is blocked in read), then waits at a
 * barrier until every thread is connected. There main measures the OS thread count of this
 * process (/proc/self/status) and asks the server for its own over one more connection ('T'),
 * while every client thread and every server thread is blocked. After a second barrier each
 * thread sends BYTES more in chunks of varying sizes, reads every chunk back and compares each
 * byte with the pattern of its connection, shuts down its side, expects EOF, and closes.
 * With --quit-server, main then tells the server to exit ('Q').
 *
 * stdout: a transcript that does not depend on scheduling (counts and the first failures in
 * thread order), and one line "measured: client_os_threads=A server_os_threads=B" that the test
 * driver takes out and checks. Exit status 0 if every byte was verified, 1 otherwise.
 */
#include "os_threads.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

enum { GREETING = 64, MAX_CHUNK = 4096 };

static int port;
static long bytes_each;
static pthread_barrier_t connected, go;

struct conn {
    int fd;
    int held;            /* connected and greeted when the first barrier was reached */
    long verified;       /* bytes sent, echoed and compared equal */
    const char *failed;  /* first step that failed, or NULL */
    int err;             /* errno of that step (0: wrong bytes or early EOF) */
};
static struct conn *conns;

/* The byte at offset k of connection i: every connection has its own sequence, so a byte
 * delivered on the wrong connection or at the wrong offset is caught. */
static unsigned char pattern(long i, long k)
{
    uint32_t x = (uint32_t)i * 0x9E3779B1u + (uint32_t)k * 0x85EBCA77u;
    x ^= x >> 15;
    x *= 0x2C1B3C6Du;
    x ^= x >> 12;
    return (unsigned char)x;
}

static int fail(struct conn *c, const char *step, int err)
{
    if (!c->failed) {
        c->failed = step;
        c->err = err;
    }
    return -1;
}

static int send_all(struct conn *c, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(c->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return fail(c, "write", errno);
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Sends the pattern bytes [k, k+n) of connection i, reads n bytes back and checks each. */
static int exchange(struct conn *c, long i, long k, size_t n)
{
    unsigned char out[MAX_CHUNK], in[MAX_CHUNK];
    if (n == 0 || n > MAX_CHUNK)
        return fail(c, "chunk size", EINVAL);
    for (size_t j = 0; j < n; j++)
        out[j] = pattern(i, k + (long)j);
    if (send_all(c, out, n) != 0)
        return -1;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(c->fd, in + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return fail(c, "read", errno);
        if (r == 0)
            return fail(c, "read (early EOF)", 0);
        got += (size_t)r;
    }
    if (memcmp(in, out, n) != 0)
        return fail(c, "compare (wrong bytes)", 0);
    c->verified += (long)n;
    return 0;
}

static void *client(void *arg)
{
    long i = (long)arg;
    struct conn *c = &conns[i];
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fail(c, "socket", errno);
    } else {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            fail(c, "connect", errno);
        else if (send_all(c, (const unsigned char *)"E", 1) == 0 && exchange(c, i, 0, GREETING) == 0)
            c->held = 1;
    }
    /* A thread that failed still takes part in both barriers, or the others would wait for
     * it for ever. */
    pthread_barrier_wait(&connected);
    pthread_barrier_wait(&go);
    if (c->held) {
        long k = GREETING;
        long end = GREETING + bytes_each;
        while (k < end) {
            size_t n = 1 + (size_t)((i * 37 + k * 101) % MAX_CHUNK);
            if ((long)n > end - k)
                n = (size_t)(end - k);
            if (exchange(c, i, k, n) != 0)
                break;
            k += (long)n;
        }
        if (!c->failed) {
            char b;
            ssize_t r;
            if (shutdown(c->fd, SHUT_WR) != 0)
                fail(c, "shutdown", errno);
            while ((r = read(c->fd, &b, 1)) < 0 && errno == EINTR)
                ;
            if (r != 0)
                fail(c, r < 0 ? "read at the end" : "read at the end (data, not EOF)", r < 0 ? errno : 0);
        }
    }
    if (c->fd >= 0 && close(c->fd) != 0)
        fail(c, "close", errno);
    return NULL;
}

/* Opens one more connection to the server with command `cmd`; for 'T' returns the server's
 * OS thread count. */
static int server_command(char cmd)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || write(fd, &cmd, 1) != 1) {
        fprintf(stderr, "echo_client: command '%c' to the server: %s\n", cmd, strerror(errno));
        exit(1);
    }
    int n = -1;
    if (cmd == 'T') {
        char line[64];
        size_t len = 0;
        ssize_t r;
        while (len < sizeof line - 1 && (r = read(fd, line + len, sizeof line - 1 - len)) != 0) {
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                break;
            len += (size_t)r;
        }
        line[len] = '\0';
        if (sscanf(line, "threads %d", &n) != 1)
            n = -1;
    }
    close(fd);
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "--quit-server") != 0)) {
        fprintf(stderr, "usage: echo_client PORT THREADS BYTES [--quit-server]\n");
        return 2;
    }
    port = atoi(argv[1]);
    long nthreads = atol(argv[2]);
    bytes_each = atol(argv[3]);
    if (port <= 0 || nthreads <= 0 || bytes_each < 0) {
        fprintf(stderr, "echo_client: bad arguments\n");
        return 2;
    }
    raise_nofile();
    conns = calloc((size_t)nthreads, sizeof *conns);
    pthread_t *tids = calloc((size_t)nthreads, sizeof *tids);
    if (!conns || !tids) {
        fprintf(stderr, "echo_client: out of memory\n");
        return 1;
    }
    pthread_barrier_init(&connected, NULL, (unsigned)nthreads + 1);
    pthread_barrier_init(&go, NULL, (unsigned)nthreads + 1);
    for (long i = 0; i < nthreads; i++) {
        int rc = pthread_create(&tids[i], NULL, client, (void *)i);
        if (rc != 0) {
            /* The barriers count on every thread: nothing sensible can follow. */
            printf("pthread_create for thread %ld = %s\n", i, strerrorname_np(rc));
            fflush(stdout);
            return 1;
        }
    }
    pthread_barrier_wait(&connected);
    /* Every client thread is now blocked at the second barrier with its connection open, and
     * every server thread is blocked in read. */
    int mine = os_threads();
    int theirs = server_command('T');
    printf("measured: client_os_threads=%d server_os_threads=%d\n", mine, theirs);
    fflush(stdout);
    pthread_barrier_wait(&go);

    long held = 0, verified = 0, failures = 0;
    for (long i = 0; i < nthreads; i++) {
        int rc = pthread_join(tids[i], NULL);
        if (rc != 0) {
            printf("pthread_join for thread %ld = %s\n", i, strerrorname_np(rc));
            return 1;
        }
        held += conns[i].held;
        verified += conns[i].verified;
        if (conns[i].failed) {
            if (failures < 10)
                printf("thread %ld: %s failed%s%s\n", i, conns[i].failed,
                       conns[i].err ? ": " : "", conns[i].err ? strerrorname_np(conns[i].err) : "");
            failures++;
        }
    }
    if (argc == 5)
        server_command('Q');
    long expected = nthreads * (GREETING + bytes_each);
    printf("client threads: %ld\n", nthreads);
    printf("connections open at once: %ld\n", held);
    printf("bytes echoed and verified: %ld of %ld\n", verified, expected);
    printf("threads that failed: %ld\n", failures);
    return failures == 0 && verified == expected && held == nthreads ? 0 : 1;
}
