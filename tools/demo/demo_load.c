/* The demo's load: many concurrent connections to an echo server, every reply checked.
 *
 *   demo_load PORT CONNECTIONS ROUNDS SERVER_PID
 *
 * One thread, epoll, non-blocking sockets. It first opens every connection and has each one
 * echo a first message, so that all of them are held open at once (a thread-per-connection
 * server then has one thread per connection); then every connection makes ROUNDS round
 * trips, one 64-byte message in flight each, every message different (connection, round and a
 * checksum byte pattern) and every reply compared byte for byte. Meanwhile it samples the
 * server's OS thread count and page-table size (VmPTE) from /proc/SERVER_PID/status; at the end
 * it reads the server's peak RSS (VmHWM). Prints one line:
 *   connections=N connected=N verified=N bad=N rtts=N seconds=S rps=R p50_us=U p99_us=U
 *   server_threads_max=T server_peak_rss_kb=K server_pte_max_kb=K
 * and exits 0 if every connection was made and every reply verified, 1 otherwise. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { message = 64, max_connecting = 256, stall_seconds = 10 };

struct conn {
    int fd;
    int round;      /* messages answered so far */
    int got;        /* bytes of the current reply */
    int connecting; /* waiting for connect or the first reply */
    uint64_t sent_ns;
    char out[message];
    char in[message];
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fill(struct conn *c, int id)
{
    /* Different for every connection and round, so a reply sent to the wrong connection or
     * a stale one is caught. */
    int n = snprintf(c->out, message, "conn %d round %d ", id, c->round);
    for (int i = n; i < message; i++)
        c->out[i] = (char)('a' + (id * 7 + c->round * 13 + i) % 26);
}

static long status_field(int pid, const char *field)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = strstr(buf, field);
    return p ? atol(p + strlen(field)) : -1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: demo_load PORT CONNECTIONS ROUNDS SERVER_PID\n");
        return 2;
    }
    int port = atoi(argv[1]), total = atoi(argv[2]), rounds = atoi(argv[3]);
    int server = atoi(argv[4]);
    struct rlimit nofile;
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);

    struct conn *conns = calloc((size_t)total, sizeof *conns);
    size_t max_rtts = (size_t)total * (size_t)rounds;
    uint64_t *lat = malloc((max_rtts ? max_rtts : 1) * sizeof *lat);
    int ep = epoll_create1(0);
    if (!conns || !lat || ep < 0) {
        perror("demo_load");
        return 2;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int opened = 0, connected = 0, failed = 0, bad = 0, finished = 0, threads_max = 0;
    long pte_max = 0;
    size_t rtts = 0;
    uint64_t start = 0, last_progress = now_ns(), last_sample = 0;
    struct epoll_event evs[256];

    for (;;) {
        /* Open connections, a bounded number waiting at a time (the accept queue never
         * overflows into SYN retransmits). */
        while (opened < total && opened - connected - failed < max_connecting) {
            struct conn *c = &conns[opened];
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            int one = 1;
            if (c->fd < 0) {
                failed++;
                opened++;
                continue;
            }
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0 &&
                errno != EINPROGRESS) {
                close(c->fd);
                c->fd = -1;
                failed++;
                opened++;
                continue;
            }
            c->connecting = 1;
            fill(c, opened);
            struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)opened};
            epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
            opened++;
        }
        /* Every connection answered once: all are open at once; the measured rounds start
         * together. */
        if (!start && connected + failed == total) {
            start = now_ns();
            for (int i = 0; i < total; i++) {
                struct conn *c = &conns[i];
                if (c->fd < 0)
                    continue;
                if (rounds == 0) {
                    finished++;
                    continue;
                }
                fill(c, i);
                c->sent_ns = now_ns();
                if (write(c->fd, c->out, message) != message)
                    bad++;
            }
        }
        if (start && finished + failed + bad >= total)
            break;
        uint64_t t = now_ns();
        if (t - last_sample > 50000000u) {
            long th = status_field(server, "\nThreads:");
            if (th > threads_max)
                threads_max = (int)th;
            long pte = status_field(server, "\nVmPTE:");
            if (pte > pte_max)
                pte_max = pte;
            last_sample = t;
        }
        if (t - last_progress > (uint64_t)stall_seconds * 1000000000u) {
            fprintf(stderr, "demo_load: no progress for %d s\n", stall_seconds);
            break;
        }
        int n = epoll_wait(ep, evs, 256, 50);
        for (int k = 0; k < n; k++) {
            int id = (int)evs[k].data.u32;
            struct conn *c = &conns[id];
            if (c->fd < 0)
                continue;
            if (c->connecting && (evs[k].events & EPOLLOUT) && c->got == 0 && c->round == 0 &&
                c->sent_ns == 0) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)id};
                if (err || write(c->fd, c->out, message) != message) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    close(c->fd);
                    c->fd = -1;
                    failed++;
                    continue;
                }
                c->sent_ns = 1;
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
            if (!(evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                continue;
            ssize_t r = read(c->fd, c->in + c->got, (size_t)(message - c->got));
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN)
                    continue;
                /* Closed by the server: it could not serve this connection. */
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = -1;
                if (c->connecting)
                    failed++;
                else
                    bad++;
                continue;
            }
            c->got += (int)r;
            if (c->got < message)
                continue;
            c->got = 0;
            last_progress = now_ns();
            if (memcmp(c->in, c->out, message) != 0) {
                bad++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = -1;
                continue;
            }
            if (c->connecting) {
                c->connecting = 0;
                connected++;
                continue;  /* the measured rounds start when every connection is open */
            }
            lat[rtts++] = last_progress - c->sent_ns;
            if (++c->round == rounds) {
                finished++;
                continue;
            }
            fill(c, id);
            c->sent_ns = now_ns();
            if (write(c->fd, c->out, message) != message)
                bad++;
        }
    }
    double seconds = start ? (double)(now_ns() - start) / 1e9 : 0;
    long th = status_field(server, "\nThreads:");
    if (th > threads_max)
        threads_max = (int)th;
    long hwm = status_field(server, "\nVmHWM:");
    long pte = status_field(server, "\nVmPTE:");
    if (pte > pte_max)
        pte_max = pte;
    qsort(lat, rtts, sizeof *lat, cmp_u64);
    uint64_t p50 = rtts ? lat[rtts / 2] : 0, p99 = rtts ? lat[rtts * 99 / 100] : 0;
    printf("connections=%d connected=%d verified=%zu bad=%d rtts=%zu seconds=%.3f rps=%.0f "
           "p50_us=%.0f p99_us=%.0f server_threads_max=%d server_peak_rss_kb=%ld "
           "server_pte_max_kb=%ld\n",
           total, connected, rtts + (size_t)connected, bad, rtts, seconds,
           seconds > 0 ? (double)rtts / seconds : 0, (double)p50 / 1e3, (double)p99 / 1e3,
           threads_max, hwm, pte_max);
    return (connected == total && bad == 0 && rtts == max_rtts) ? 0 : 1;
}
