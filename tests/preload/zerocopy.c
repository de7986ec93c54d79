/* Zero-copy transfers with threads: sendfile of a 64 MiB file to a slow reader over loopback
 * TCP and to a pipe; splice from a socket through a pipe to another socket; splice with file
 * offsets; tee and vmsplice on pipes whose other end is served late. Each transfer waits on a
 * thread of the same program (a reader that pauses, or a writer that comes only after ten
 * sleeps): if the wait froze the OS thread it runs on, and threads are fibers of one hub, the
 * program would hang. A ticker counts while the big sendfile waits. Results, errno values,
 * offsets and file positions are printed; bytes are compared by checksum. */
#include "transcript.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define BIG (64L << 20)

static volatile int stop_ticking;
static volatile long ticks;

static void *ticker(void *arg)
{
    (void)arg;
    while (!stop_ticking) {
        usleep(1000);
        ticks++;
    }
    return NULL;
}

/* A TCP connection to ourselves: fds[0] the connecting end, fds[1] the accepted end. */
static void tcp_pair(int fds[2])
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(l >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    REQUIRE(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
    REQUIRE(listen(l, 1) == 0);
    REQUIRE(getsockname(l, (struct sockaddr *)&a, &len) == 0);
    fds[0] = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fds[0] >= 0);
    REQUIRE(connect(fds[0], (struct sockaddr *)&a, sizeof a) == 0);
    fds[1] = accept(l, NULL, NULL);
    REQUIRE(fds[1] >= 0);
    close(l);
}

/* Reads everything from fd until EOF, pausing now and then; records length and checksum. */
struct slow_reader {
    int fd;
    int pause_every; /* reads between 1 ms pauses */
    long total;
    uint64_t sum;
};

static void *read_slowly(void *arg)
{
    struct slow_reader *r = arg;
    char *buf = malloc(65536);
    REQUIRE(buf);
    uint64_t h = 1469598103934665603ULL;
    for (int n = 1;; n++) {
        long k = read(r->fd, buf, 65536);
        if (k <= 0)
            break;
        for (long i = 0; i < k; i++) {
            h ^= (unsigned char)buf[i];
            h *= 1099511628211ULL;
        }
        r->total += k;
        if (n % r->pause_every == 0)
            usleep(1000);
    }
    r->sum = h;
    free(buf);
    return NULL;
}

static uint64_t file_sum(int fd, off_t from, long n)
{
    static char buf[65536];
    uint64_t h = 1469598103934665603ULL;
    while (n > 0) {
        long k = pread(fd, buf, n < (long)sizeof buf ? (size_t)n : sizeof buf, from);
        REQUIRE(k > 0);
        for (long i = 0; i < k; i++) {
            h ^= (unsigned char)buf[i];
            h *= 1099511628211ULL;
        }
        from += k;
        n -= k;
    }
    return h;
}

/* Writes `len` bytes of a pattern to fd after ten 10 ms sleeps, then closes fd if asked. */
struct late_writer {
    int fd;
    long len;
    int close_after;
    int ticks_before;
};

static void *write_late(void *arg)
{
    struct late_writer *w = arg;
    char buf[4096];
    for (int i = 0; i < 10; i++) {
        usleep(10000);
        w->ticks_before = i + 1;
    }
    for (long done = 0; done < w->len;) {
        long n = w->len - done < (long)sizeof buf ? w->len - done : (long)sizeof buf;
        for (long i = 0; i < n; i++)
            buf[i] = (char)((done + i) * 31 + (done + i) / 4099);
        long k = write(w->fd, buf, (size_t)n);
        REQUIRE(k > 0);
        done += k;
    }
    if (w->close_after)
        close(w->fd);
    return NULL;
}

static int big_file(long size)
{
    char path[] = "/tmp/green-zerocopy-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(unlink(path) == 0);
    static char buf[1 << 20];
    for (long off = 0; off < size; off += sizeof buf) {
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (char)((off + (long)i) * 7 + (off + (long)i) / 251);
        REQUIRE(write(fd, buf, sizeof buf) == (long)sizeof buf);
    }
    REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
    return fd;
}

int main(void)
{
    REQUIRE(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
    int file = big_file(BIG);
    uint64_t whole = file_sum(file, 0, BIG);

    say("== sendfile: 64 MiB to a slow reader over TCP, with an offset");
    {
        int s[2];
        tcp_pair(s);
        struct slow_reader r = {.fd = s[1], .pause_every = 8};
        pthread_t reader, tick;
        stop_ticking = 0;
        ticks = 0;
        REQUIRE(pthread_create(&reader, NULL, read_slowly, &r) == 0);
        REQUIRE(pthread_create(&tick, NULL, ticker, NULL) == 0);
        off_t off = 0;
        CALL(sendfile(s[0], file, &off, BIG));
        long ticked = ticks;
        say("offset after: %lld", (long long)off);
        say("file position after: %lld", (long long)lseek(file, 0, SEEK_CUR));
        say("ticker ran while sendfile waited: %s", yesno(ticked > 0));
        CALL(shutdown(s[0], SHUT_WR));
        REQUIRE(pthread_join(reader, NULL) == 0);
        stop_ticking = 1;
        REQUIRE(pthread_join(tick, NULL) == 0);
        say("reader got %ld bytes, same as the file: %s", r.total, yesno(r.sum == whole));
        close(s[0]);
        close(s[1]);
    }

    say("== 64 sendfiles of 4 MiB in a row to a reader that keeps up");
    {
        /* Each offloaded call takes the pool's lock just as its previous worker goes back to
         * it: a fiber that parked for that lock used to freeze the hub (the reader's read then
         * blocked it) in some runs of this test, and in a third of a plain loop's. */
        int s[2];
        tcp_pair(s);
        struct slow_reader r = {.fd = s[1], .pause_every = 1 << 30};
        pthread_t reader;
        REQUIRE(pthread_create(&reader, NULL, read_slowly, &r) == 0);
        long total = 0;
        for (int i = 0; i < 64; i++) {
            off_t off = (off_t)(i % 16) << 22;
            long k = sendfile(s[0], file, &off, 4 << 20);
            if (k != 4 << 20) {
                say("sendfile %d: %ld %s", i, k, errno_name(errno));
                break;
            }
            total += k;
        }
        CALL(shutdown(s[0], SHUT_WR));
        REQUIRE(pthread_join(reader, NULL) == 0);
        say("sent %ld, reader got %ld bytes", total, r.total);
        close(s[0]);
        close(s[1]);
    }

    say("== sendfile64 without an offset moves the file position");
    {
        int s[2];
        tcp_pair(s);
        struct slow_reader r = {.fd = s[1], .pause_every = 2};
        pthread_t reader;
        REQUIRE(pthread_create(&reader, NULL, read_slowly, &r) == 0);
        REQUIRE(lseek(file, 1000, SEEK_SET) == 1000);
        CALL(sendfile64(s[0], file, NULL, 8 << 20));
        say("file position after: %lld", (long long)lseek(file, 0, SEEK_CUR));
        CALL(shutdown(s[0], SHUT_WR));
        REQUIRE(pthread_join(reader, NULL) == 0);
        say("reader got %ld bytes, same as the file: %s", r.total,
            yesno(r.sum == file_sum(file, 1000, 8 << 20)));
        close(s[0]);
        close(s[1]);
        REQUIRE(lseek(file, 0, SEEK_SET) == 0);
    }

    say("== sendfile to a pipe: short counts while the reader drains it");
    {
        int p[2];
        REQUIRE(pipe(p) == 0);
        struct slow_reader r = {.fd = p[0], .pause_every = 1};
        pthread_t reader;
        REQUIRE(pthread_create(&reader, NULL, read_slowly, &r) == 0);
        off_t off = 4096;
        long sent = 0, calls = 0, shortest = -1;
        while (sent < (4 << 20)) {
            long k = sendfile(p[1], file, &off, (size_t)((4 << 20) - sent));
            if (k <= 0) {
                say("sendfile failed: %ld %s", k, errno_name(errno));
                break;
            }
            sent += k;
            calls++;
            if (shortest < 0 || k < shortest)
                shortest = k;
        }
        say("sent %ld bytes, offset %lld, more than one call: %s", sent, (long long)off,
            yesno(calls > 1));
        close(p[1]);
        REQUIRE(pthread_join(reader, NULL) == 0);
        say("reader got %ld bytes, same as the file: %s", r.total,
            yesno(r.sum == file_sum(file, 4096, 4 << 20)));
        close(p[0]);
    }

    say("== sendfile from a socket into a pipe waits for the socket's data");
    {
        int s[2], p[2];
        tcp_pair(s);
        REQUIRE(pipe(p) == 0);
        int out = big_file(0);
        struct late_writer w = {.fd = s[0], .len = 3000, .close_after = 0};
        pthread_t writer;
        REQUIRE(pthread_create(&writer, NULL, write_late, &w) == 0);
        CALL(sendfile(p[1], s[1], NULL, 2500) > 0);
        say("writer had slept %d times", w.ticks_before);
        REQUIRE(pthread_join(writer, NULL) == 0);
        CALL(sendfile(out, s[1], NULL, 10));
        CALL(sendfile(s[0], s[1], NULL, 10));
        close(out);
        close(p[0]);
        close(p[1]);
        close(s[0]);
        close(s[1]);
    }

    say("== sendfile errors");
    {
        int p[2];
        REQUIRE(pipe(p) == 0);
        off_t off = 0;
        CALL(sendfile(p[1], file, &off, 0));
        CALL(sendfile(file, p[0], NULL, 10));
        CALL(sendfile(-1, file, &off, 10));
        CALL(sendfile(p[0], file, &off, 10));
        CALL(sendfile(p[1], 12345, &off, 10));
        close(p[0]);
        CALL(sendfile(p[1], file, &off, 10));
        close(p[1]);
    }

    say("== splice: a socket through a pipe into another socket, served late and slowly");
    {
        int in[2], out[2], p[2];
        tcp_pair(in);
        tcp_pair(out);
        REQUIRE(pipe(p) == 0);
        struct late_writer w = {.fd = in[0], .len = 3 << 20, .close_after = 1};
        struct slow_reader r = {.fd = out[1], .pause_every = 4};
        pthread_t writer, reader;
        REQUIRE(pthread_create(&writer, NULL, write_late, &w) == 0);
        REQUIRE(pthread_create(&reader, NULL, read_slowly, &r) == 0);
        long moved = 0, first = -1;
        for (;;) {
            long k = splice(in[1], NULL, p[1], NULL, 1 << 20, SPLICE_F_MOVE);
            if (first < 0)
                first = k;
            if (k <= 0) {
                if (k < 0)
                    say("splice in failed: %s", errno_name(errno));
                break;
            }
            while (k > 0) {
                long m = splice(p[0], NULL, out[0], NULL, (size_t)k, SPLICE_F_MOVE);
                if (m <= 0) {
                    say("splice out failed: %ld %s", m, errno_name(errno));
                    break;
                }
                k -= m;
                moved += m;
            }
        }
        say("writer had slept %d times before the first splice returned", w.ticks_before);
        say("first splice moved some: %s; moved %ld in all", yesno(first > 0), moved);
        CALL(shutdown(out[0], SHUT_WR));
        REQUIRE(pthread_join(writer, NULL) == 0);
        REQUIRE(pthread_join(reader, NULL) == 0);
        uint64_t h = 1469598103934665603ULL;
        for (long i = 0; i < w.len; i++) {
            h ^= (unsigned char)(char)(i * 31 + i / 4099);
            h *= 1099511628211ULL;
        }
        say("reader got %ld bytes, as written: %s", r.total, yesno(r.sum == h));
        close(in[1]);
        close(out[0]);
        close(out[1]);
        close(p[0]);
        close(p[1]);
    }

    say("== splice with file offsets, and its errors");
    {
        int p[2];
        REQUIRE(pipe(p) == 0);
        loff_t off = 100;
        REQUIRE(lseek(file, 7, SEEK_SET) == 7);
        CALL(splice(file, &off, p[1], NULL, 5000, 0));
        say("offset after: %lld, file position after: %lld", (long long)off,
            (long long)lseek(file, 0, SEEK_CUR));
        CALL(splice(file, NULL, p[1], NULL, 3000, 0));
        say("file position after: %lld", (long long)lseek(file, 0, SEEK_CUR));
        static char back[8000];
        long n = CALL(read(p[0], back, sizeof back));
        say("same bytes as the file: %s", yesno(n == 8000 && fnv1a(back, 5000) ==
                                                                 file_sum(file, 100, 5000)));
        CALL(splice(p[0], NULL, p[1], NULL, 10, SPLICE_F_NONBLOCK));
        int s[2];
        tcp_pair(s);
        CALL(splice(s[0], NULL, s[1], NULL, 10, 0));
        CALL(splice(-1, NULL, p[1], NULL, 10, 0));
        CALL(splice(p[0], &off, file, NULL, 10, 0));
        CALL(splice(p[0], NULL, p[1], NULL, 0, 0));
        close(s[0]);
        close(s[1]);
        close(p[1]);
        CALL(splice(p[0], NULL, file, &off, 10, 0));
        close(p[0]);
        REQUIRE(lseek(file, 0, SEEK_SET) == 0);
    }

    say("== tee waits for its input pipe, then duplicates it");
    {
        int a[2], b[2];
        REQUIRE(pipe(a) == 0);
        REQUIRE(pipe(b) == 0);
        struct late_writer w = {.fd = a[1], .len = 1000, .close_after = 0};
        pthread_t writer;
        REQUIRE(pthread_create(&writer, NULL, write_late, &w) == 0);
        long n = CALL(tee(a[0], b[1], 65536, 0));
        say("writer had slept %d times", w.ticks_before);
        REQUIRE(pthread_join(writer, NULL) == 0);
        static char x[2000], y[2000];
        long nx = read(a[0], x, sizeof x), ny = read(b[0], y, sizeof y);
        say("both pipes hold %ld and %ld bytes, the same: %s", nx, ny,
            yesno(nx == n && ny == n && memcmp(x, y, (size_t)n) == 0));
        CALL(tee(a[0], b[1], 10, SPLICE_F_NONBLOCK));
        CALL(tee(a[0], a[1], 10, 0));
        close(a[1]);
        CALL(tee(a[0], b[1], 10, 0));
        close(a[0]);
        close(b[0]);
        close(b[1]);
    }

    say("== vmsplice into a full pipe while a slow reader drains it");
    {
        int p[2];
        REQUIRE(pipe(p) == 0);
        static char data[1 << 20];
        for (size_t i = 0; i < sizeof data; i++)
            data[i] = (char)(i * 5 + i / 1021);
        struct slow_reader r = {.fd = p[0], .pause_every = 1};
        pthread_t reader;
        REQUIRE(pthread_create(&reader, NULL, read_slowly, &r) == 0);
        long sent = 0;
        while (sent < (long)sizeof data) {
            struct iovec v = {data + sent, sizeof data - (size_t)sent};
            long k = vmsplice(p[1], &v, 1, 0);
            if (k <= 0) {
                say("vmsplice failed: %ld %s", k, errno_name(errno));
                break;
            }
            sent += k;
        }
        close(p[1]);
        REQUIRE(pthread_join(reader, NULL) == 0);
        say("reader got %ld bytes, as sent: %s", r.total,
            yesno(r.total == (long)sizeof data && r.sum == fnv1a(data, sizeof data)));
        REQUIRE(pipe(p) == 0);
        struct iovec v = {data, 10};
        CALL(vmsplice(p[0], &v, 1, SPLICE_F_NONBLOCK));
        CALL(vmsplice(-1, &v, 1, 0));
        close(p[0]);
        close(p[1]);
    }
    close(file);
    return 0;
}
