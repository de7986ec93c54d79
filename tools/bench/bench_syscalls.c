/* Operations whose system calls the benchmark suite counts, natively and under the library
 * (tools/bench/suite.py runs this under `strace -f -c`, at two sizes, and takes the difference,
 * so start-up and the library's own set-up cancel out).
 *
 *   bench_syscalls ready_read N   write 1 byte into a socketpair and read it back (2 calls)
 *   bench_syscalls eagain_read N  read() on an empty O_NONBLOCK socket (1 call)
 *   bench_syscalls setfl N        fcntl(F_SETFL) on one socket, then a write and a read on each
 *                                 of two other socketpairs (5 calls: a program that toggles
 *                                 O_NONBLOCK on one fd while it uses others)
 *   bench_syscalls round_trip N   1 byte to a second thread that blocks in read() and sends it
 *                                 back, over two socketpairs (4 calls)
 *   bench_syscalls lookup N       getaddrinfo("localhost") from /etc/hosts, then freeaddrinfo
 *
 * Prints op=NAME n=N when done.
 */
#include "bench.h"

#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static void must(int ok, const char* what)
{
    if (!ok) {
        fprintf(stderr, "bench_syscalls: %s: %s\n", what, strerror(errno));
        exit(1);
    }
}

static void pair(int sv[2])
{
    must(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
}

static void put(int fd)
{
    must(write(fd, "x", 1) == 1, "write");
}

static void get(int fd)
{
    char c;
    must(read(fd, &c, 1) == 1, "read");
}

static void ready_read(long n)
{
    int s[2];
    pair(s);
    for (long i = 0; i < n; ++i) {
        put(s[0]);
        get(s[1]);
    }
}

static void eagain_read(long n)
{
    int s[2];
    must(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s) == 0, "socketpair");
    char c;
    for (long i = 0; i < n; ++i)
        must(read(s[1], &c, 1) < 0 && errno == EAGAIN, "read of an empty socket");
}

static void setfl(long n)
{
    int a[2], b[2], c[2];
    pair(a);
    pair(b);
    pair(c);
    int flags = fcntl(a[0], F_GETFL);
    must(flags >= 0, "fcntl(F_GETFL)");
    for (long i = 0; i < n; ++i) {
        must(fcntl(a[0], F_SETFL, (i & 1) ? flags : flags | O_NONBLOCK) == 0, "fcntl(F_SETFL)");
        put(b[0]);
        get(b[1]);
        put(c[0]);
        get(c[1]);
    }
}

static int to_peer[2], to_main[2];

static void* echo_peer(void* arg)
{
    long n = *(long*)arg;
    for (long i = 0; i < n; ++i) {
        get(to_peer[1]);
        put(to_main[0]);
    }
    return NULL;
}

static void round_trip(long n)
{
    pair(to_peer);
    pair(to_main);
    pthread_t peer;
    must(pthread_create(&peer, NULL, echo_peer, &n) == 0, "pthread_create");
    for (long i = 0; i < n; ++i) {
        put(to_peer[0]);
        get(to_main[1]);
    }
    pthread_join(peer, NULL);
}

static void lookup(long n)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    for (long i = 0; i < n; ++i) {
        struct addrinfo* res = NULL;
        int rc = getaddrinfo("localhost", NULL, &hints, &res);
        if (rc != 0) {
            fprintf(stderr, "bench_syscalls: getaddrinfo(localhost): %s\n", gai_strerror(rc));
            exit(1);
        }
        freeaddrinfo(res);
    }
}

int main(int argc, char** argv)
{
    static const struct {
        const char* name;
        void (*run)(long);
    } ops[] = {
        {"ready_read", ready_read}, {"eagain_read", eagain_read}, {"setfl", setfl},
        {"round_trip", round_trip}, {"lookup", lookup},
    };
    if (argc != 3) {
        fprintf(stderr, "usage: bench_syscalls ready_read|eagain_read|setfl|round_trip|lookup N\n");
        return 2;
    }
    long n = bench_arg(argv[2], "N");
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; ++i) {
        if (strcmp(argv[1], ops[i].name) == 0) {
            ops[i].run(n);
            printf("op=%s n=%ld\n", ops[i].name, n);
            return 0;
        }
    }
    fprintf(stderr, "bench_syscalls: unknown operation %s\n", argv[1]);
    return 2;
}
