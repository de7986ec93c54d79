/* The fixed load generator for the echo servers: one thread, epoll, non-blocking sockets.
 * Each connection sends 64 bytes, waits for all 64 to come back, and sends again at once
 * (closed loop, one message in flight per connection).
 *
 *   loadgen PORT CONNECTIONS WARMUP_SECONDS SECONDS [SERVER_PID]
 *
 * Connects to 127.0.0.1:PORT with at most 256 connections waiting for their first answer (so
 * the server's accept queue never overflows into SYN retransmits, which back off for seconds),
 * runs until every connection has had an answer, then WARMUP_SECONDS more, then measures
 * for SECONDS. During set-up a connection that had its first answer waits for the others: the
 * ping-pong starts on all of them together, so that set-up does not compete with the load. When no connection gets its first answer for 5 s, it stops connecting and
 * measures what it has. With SERVER_PID it also reads the server's CPU time
 * over the measured window, and its RSS and thread count at the end, from /proc. Prints:
 *   conns=... connected=... answered=... closed=... rtts=... seconds=... rps=... p50_ns=...
 *   p99_ns=... setup_s=... [server_cpu_s=... server_rss_kb=... server_threads=...]
 * answered < conns means some connections never got an echo (the server ran out of
 * threads, fds or memory). */
#include "bench.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum { message = 64, max_unanswered = 256, stall_seconds = 5, buckets = 17408 };

/* Latency histogram, log-linear in microseconds: exact below 1024 µs, then 512 buckets per
 * power of two (0.2% wide), up to 2^41 µs. */
static int bucket_of(uint64_t us)
{
    if (us < 1024)
        return (int)us;
    int e = 63 - __builtin_clzll(us) - 9;
    int b = 1024 + (e - 1) * 512 + (int)((us >> e) - 512);
    return b < buckets ? b : buckets - 1;
}

static uint64_t ns_of(int b)
{
    if (b < 1024)
        return (uint64_t)b * 1000 + 500;
    int e = (b - 1024) / 512 + 1;
    uint64_t m = (uint64_t)((b - 1024) % 512 + 512);
    return ((m << e) + ((1ull << e) >> 1)) * 1000;
}

typedef struct {
    uint64_t sent_at;
    int got;
    char state; /* 0 unused, 1 connecting, 2 running, 3 closed */
    char answered;
    char idle; /* answered during set-up, waiting for the others */
} conn_t;

static conn_t* conns;
static uint32_t histogram[buckets];
static uint64_t rtts;
static int measuring;
static char payload[message];

static void server_usage(long pid, double* cpu_s, long* rss_kb, long* threads)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE* f = fopen(path, "r");
    *cpu_s = -1;
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        /* Fields after the command name, which may hold spaces: utime and stime are the
         * 14th and 15th fields, the 12th and 13th after ')'. */
        char* p = strrchr(buf, ')');
        unsigned long utime, stime;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                        &stime) == 2)
            *cpu_s = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
    }
    *rss_kb = *threads = -1;
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    f = fopen(path, "r");
    if (f) {
        while (fgets(buf, sizeof buf, f)) {
            if (strncmp(buf, "VmRSS:", 6) == 0)
                *rss_kb = strtol(buf + 6, NULL, 10);
            if (strncmp(buf, "Threads:", 8) == 0)
                *threads = strtol(buf + 8, NULL, 10);
        }
        fclose(f);
    }
}

static int send_ping(int fd)
{
    conns[fd].sent_at = bench_now_ns();
    conns[fd].got = 0;
    return send(fd, payload, message, MSG_NOSIGNAL) == message ? 0 : -1;
}

int main(int argc, char** argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: loadgen PORT CONNECTIONS WARMUP_SECONDS SECONDS [SERVER_PID]\n");
        return 2;
    }
    int port = (int)bench_arg(argv[1], "PORT");
    long total = bench_arg(argv[2], "CONNECTIONS"), wanted = total;
    double warmup = strtod(argv[3], NULL), seconds = strtod(argv[4], NULL);
    long server_pid = argc == 6 ? bench_arg(argv[5], "SERVER_PID") : 0;

    struct rlimit nofile;
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
    conns = calloc(nofile.rlim_max + 16, sizeof *conns);
    memset(payload, 'p', sizeof payload);

    int ep = epoll_create1(0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    long started = 0, connected = 0, answered = 0, closed = 0;
    int one = 1;
    uint64_t t_start = bench_now_ns(), t_ready = 0, t_measure = 0, t_end = 0;
    uint64_t t_progress = t_start; /* the last first answer or close */
    double cpu0 = 0;
    int started_all = 0;
    long max_fd = 0;
    struct epoll_event events[512];
    char buf[4096];

    for (;;) {
        while (started < total && started - answered - closed < max_unanswered) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (fd < 0) {
                fprintf(stderr, "loadgen: socket: %s\n", strerror(errno));
                total = started;
                break;
            }
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            ++started;
            if (connect(fd, (struct sockaddr*)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
                ++closed;
                close(fd);
                continue;
            }
            conns[fd].state = 1;
            if (fd > max_fd)
                max_fd = fd;
            struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.fd = fd};
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }

        uint64_t now = bench_now_ns();
        if (!t_ready && now - t_progress >= stall_seconds * 1000000000ull) {
            fprintf(stderr, "loadgen: no new connection answered for %d s; %ld of %ld answered\n",
                    stall_seconds, answered, total);
            total = started;
            t_ready = now;
        }
        if (!t_ready && answered + closed >= total)
            t_ready = now;
        if (t_ready && !started_all) {
            started_all = 1;
            for (long fd = 0; fd <= max_fd; ++fd)
                if (conns[fd].state == 2 && conns[fd].idle) {
                    conns[fd].idle = 0;
                    if (send_ping((int)fd) < 0) {
                        conns[fd].state = 3;
                        ++closed;
                        close((int)fd);
                    }
                }
        }
        if (!measuring && !t_end && t_ready && now - t_ready >= (uint64_t)(warmup * 1e9)) {
            measuring = 1;
            t_measure = now;
            long rss, threads;
            if (server_pid)
                server_usage(server_pid, &cpu0, &rss, &threads);
        }
        if (measuring && now - t_measure >= (uint64_t)(seconds * 1e9)) {
            t_end = now;
            break;
        }

        int n = epoll_wait(ep, events, 512, 100);
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            conn_t* c = &conns[fd];
            if (c->state == 1) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) {
                    c->state = 3;
                    ++closed;
                    t_progress = bench_now_ns();
                    close(fd);
                    continue;
                }
                c->state = 2;
                ++connected;
                struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
                if (send_ping(fd) < 0) {
                    c->state = 3;
                    ++closed;
                    close(fd);
                }
                continue;
            }
            if (c->state != 2)
                continue;
            ssize_t got = recv(fd, buf, sizeof buf, 0);
            if (got <= 0) {
                if (got < 0 && errno == EAGAIN)
                    continue;
                c->state = 3;
                ++closed;
                close(fd);
                continue;
            }
            c->got += (int)got;
            if (c->got < message)
                continue;
            uint64_t rtt = bench_now_ns() - c->sent_at;
            if (!c->answered) {
                c->answered = 1;
                ++answered;
                t_progress = bench_now_ns();
                if (!started_all) {
                    c->idle = 1;
                    continue;
                }
            }
            if (measuring) {
                ++rtts;
                ++histogram[bucket_of(rtt / 1000)];
            }
            if (send_ping(fd) < 0) {
                c->state = 3;
                ++closed;
                close(fd);
            }
        }
    }

    double window = (double)(t_end - t_measure) / 1e9;
    uint64_t p50 = 0, p99 = 0, seen = 0;
    for (int b = 0; b < buckets && rtts; ++b) {
        seen += histogram[b];
        if (!p50 && seen * 100 >= rtts * 50)
            p50 = ns_of(b);
        if (!p99 && seen * 100 >= rtts * 99)
            p99 = ns_of(b);
    }
    printf("conns=%ld connected=%ld answered=%ld closed=%ld rtts=%llu seconds=%.3f rps=%.0f "
           "p50_ns=%llu p99_ns=%llu setup_s=%.3f",
           wanted, connected, answered, closed, (unsigned long long)rtts, window,
           (double)rtts / window, (unsigned long long)p50, (unsigned long long)p99,
           t_ready ? (double)(t_ready - t_start) / 1e9 : -1.0);
    if (server_pid) {
        double cpu1;
        long rss, threads;
        server_usage(server_pid, &cpu1, &rss, &threads);
        printf(" server_cpu_s=%.2f server_rss_kb=%ld server_threads=%ld", cpu1 - cpu0, rss, threads);
    }
    printf("\n");
    return 0;
}
