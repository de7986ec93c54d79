/* stdio readers on pipes, socketpairs and a TCP connection (fdopen on the accepted socket):
 * fgets, getline, fscanf, fread (small and larger than the buffer), getc and the inline
 * getc_unlocked, ungetc, read-after-write on an "r+" socket, __fsetlocking, fmemopen; EOF,
 * error and timeout flags, clearerr, ftell.
 *
 * Each stream is fed by another thread of the program that writes a piece, then sleeps
 * TICKS short sleeps counting them, then writes the next piece: a line arrives in halves.
 * The reader prints how many ticks had passed when its call returned. When threads are fibers
 * of one hub, a reader that blocked its OS thread would keep the feeder from ever writing the
 * rest, and the program would hang: finishing at all is the proof that the readers parked. */
#include "transcript.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio_ext.h>
#include <sys/socket.h>
#include <unistd.h>

enum { TICKS = 5 };

static volatile int ticks;

struct feed {
    int fd;
    const char *parts[4];
    size_t lens[4]; /* 0: strlen */
    int pause_first;
    int close_after;
    int rst_after; /* close with SO_LINGER 0: the reader gets ECONNRESET */
    const char *expect_first; /* read this much first (r+ ping-pong), then feed */
};

static void tick_pause(void)
{
    for (int k = 0; k < TICKS; k++) {
        usleep(2000);
        ticks++;
    }
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        REQUIRE(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

static void *feeder(void *arg)
{
    struct feed *f = arg;
    if (f->expect_first) {
        char got[64] = {0};
        size_t want = strlen(f->expect_first), have = 0;
        while (have < want) {
            ssize_t r = read(f->fd, got + have, want - have);
            REQUIRE(r > 0);
            have += (size_t)r;
        }
        REQUIRE(memcmp(got, f->expect_first, want) == 0);
    }
    for (int i = 0; i < 4 && f->parts[i]; i++) {
        if (i > 0 || f->pause_first)
            tick_pause();
        write_all(f->fd, f->parts[i], f->lens[i] ? f->lens[i] : strlen(f->parts[i]));
    }
    if (f->rst_after) {
        tick_pause();
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        REQUIRE(setsockopt(f->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
    }
    if (f->close_after || f->rst_after) {
        if (!f->rst_after)
            tick_pause();
        close(f->fd);
    }
    return NULL;
}

/* A connected pair: [0] is read by the stream, [1] written by the feeder. */
static void make_pipe(int fds[2]) { REQUIRE(pipe(fds) == 0); }

static void make_socketpair(int fds[2])
{
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
}

static void make_tcp(int fds[2])
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(l >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    REQUIRE(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
    REQUIRE(listen(l, 1) == 0);
    REQUIRE(getsockname(l, (struct sockaddr *)&a, &len) == 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(c >= 0);
    REQUIRE(connect(c, (struct sockaddr *)&a, sizeof a) == 0);
    int s = accept(l, NULL, NULL);
    REQUIRE(s >= 0);
    int one = 1;
    REQUIRE(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    close(l);
    fds[0] = s;
    fds[1] = c;
}

static const struct {
    const char *name;
    void (*make)(int fds[2]);
} channels[] = {{"pipe", make_pipe}, {"socketpair", make_socketpair}, {"tcp", make_tcp}};

static pthread_t feeder_thread;
static struct feed current;

static FILE *start(int make_idx, const char *mode, struct feed f)
{
    int fds[2];
    channels[make_idx].make(fds);
    ticks = 0;
    current = f;
    current.fd = fds[1];
    FILE *s = fdopen(fds[0], mode);
    REQUIRE(s != NULL);
    REQUIRE(pthread_create(&feeder_thread, NULL, feeder, &current) == 0);
    return s;
}

static void finish(FILE *s)
{
    REQUIRE(pthread_join(feeder_thread, NULL) == 0);
    if (!current.close_after && !current.rst_after)
        close(current.fd);
    fclose(s);
}

static void flags(FILE *s)
{
    errno = 0;
    long pos = ftell(s);
    int e = errno;
    say("  feof %d ferror %d ftell %ld%s%s", feof(s) != 0, ferror(s) != 0, pos,
        pos < 0 ? " " : "", pos < 0 ? errno_name(e) : "");
}

static void line(const char *what, const char *r, const char *buf, int e)
{
    if (r)
        show_bytes(what, buf, (long)strlen(buf));
    else
        say("  %s: NULL %s", what, e ? errno_name(e) : "");
}

#define TICKED() say("  ticks passed while waiting: %s", yesno(ticks >= TICKS))

static void case_fgets(int ch)
{
    say("== %s: fgets, a line in two halves, EOF, clearerr", channels[ch].name);
    FILE *s = start(ch, "r", (struct feed){.parts = {"hel", "lo world\n", "second line\n"},
                                           .close_after = 1});
    char buf[64];
    errno = 0;
    char *r = fgets(buf, dyn(sizeof buf), s);
    line("fgets", r, buf, errno);
    TICKED();
    errno = 0;
    r = fgets(buf, dyn(sizeof buf), s);
    line("fgets", r, buf, errno);
    errno = 0;
    r = fgets(buf, dyn(sizeof buf), s);
    line("fgets at end", r, buf, errno);
    flags(s);
    clearerr(s);
    flags(s);
    errno = 0;
    r = fgets(buf, dyn(sizeof buf), s);
    line("fgets after clearerr", r, buf, errno);
    flags(s);
    finish(s);
}

static void case_getline(int ch)
{
    say("== %s: getline, getdelim", channels[ch].name);
    FILE *s = start(ch, "r", (struct feed){.parts = {"alpha-", "beta\nx;y", ";no newline"},
                                           .close_after = 1});
    char *p = NULL;
    size_t cap = 0;
    ssize_t n = getline(&p, &cap, s);
    say("  getline = %zd", n);
    show_bytes("line", p, n);
    TICKED();
    n = getdelim(&p, &cap, ';', s);
    say("  getdelim = %zd", n);
    show_bytes("field", p, n);
    n = getline(&p, &cap, s);
    say("  getline = %zd", n);
    show_bytes("line", p, n);
    n = getline(&p, &cap, s);
    say("  getline at end = %zd", n);
    flags(s);
    free(p);
    finish(s);
}

static void case_fscanf(int ch)
{
    say("== %s: fscanf, each line after a pause", channels[ch].name);
    FILE *s = start(ch, "r", (struct feed){.parts = {"17 apples\n", "3.5 pears\n"},
                                           .pause_first = 1, .close_after = 1});
    int n = 0;
    double d = 0;
    char w[16] = "";
    int r = fscanf(s, "%d %15s", &n, w);
    say("  fscanf = %d: %d %s", r, n, w);
    r = fscanf(s, "%lf %15s", &d, w);
    say("  fscanf = %d: %.1f %s", r, d, w);
    TICKED();
    r = fscanf(s, "%d", &n);
    say("  fscanf at end = %d", r);
    flags(s);
    finish(s);
}

static char big_in[10000], big_out[10000];

static void case_fread(int ch)
{
    say("== %s: fread, smaller and larger than the buffer", channels[ch].name);
    for (size_t i = 0; i < sizeof big_in; i++)
        big_in[i] = (char)(i * 13 + i / 97);
    FILE *s = start(ch, "r", (struct feed){.parts = {"01234", "56789abcdef", big_in, big_in + 6000},
                                           .lens = {0, 0, 6000, 4000}, .close_after = 1});
    char buf[16];
    size_t r = fread(buf, 1, dyn(10), s);
    say("  fread(10) = %zu", r);
    show_bytes("got", buf, (long)r);
    TICKED();
    r = fread(buf, 2, dyn(3), s);
    say("  fread(2 x 3) = %zu", r);
    show_bytes("got", buf, (long)r * 2);
    r = fread(big_out, 1, dyn(sizeof big_out), s);
    say("  fread(10000) = %zu, same bytes: %s", r, yesno(memcmp(big_in, big_out, r) == 0));
    r = fread(buf, 1, dyn(10), s);
    say("  fread at end = %zu", r);
    flags(s);
    finish(s);
}

static void case_getc(int ch)
{
    say("== %s: getc, fgetc, getc_unlocked, ungetc", channels[ch].name);
    FILE *s = start(ch, "r", (struct feed){.parts = {"ab", "c\n", "def\n"}, .close_after = 1});
    int a = getc(s), b = fgetc(s);
    flockfile(s);
    int c = getc_unlocked(s), nl = fgetc_unlocked(s);
    funlockfile(s);
    say("  got %c %c %c %d", a, b, c, nl);
    TICKED();
    int d = getc(s);
    int z = ungetc('Z', s);
    int y = ungetc('Y', s);
    say("  getc = %c, ungetc Z = %c, ungetc Y = %c", d, z, y);
    char buf[16];
    line("fgets", fgets(buf, dyn(sizeof buf), s), buf, 0);
    say("  getc at end = %d", getc(s));
    flags(s);
    finish(s);
}

static FILE *shared;
static char other_line[32];

static void *other_reader(void *arg)
{
    (void)arg;
    /* Natively this waits for the FILE's lock, which main holds across its reads. */
    if (!fgets(other_line, sizeof other_line, shared))
        strcpy(other_line, "(NULL)");
    return NULL;
}

static void case_flockfile(void)
{
    say("== pipe: flockfile held across getc_unlocked waits; another thread's fgets waits");
    shared = start(0, "r", (struct feed){.parts = {"a", "b", "cd\n"}});
    flockfile(shared);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, other_reader, NULL) == 0);
    int a = getc_unlocked(shared);
    int b = getc_unlocked(shared);
    say("  holder got %c %c", a, b);
    TICKED();
    say("  ftrylockfile while held by this thread = %d", ftrylockfile(shared));
    funlockfile(shared);
    funlockfile(shared);
    REQUIRE(pthread_join(t, NULL) == 0);
    show_bytes("the other thread got", other_line, (long)strlen(other_line));
    finish(shared);
}

static void case_errors(void)
{
    say("== tcp: the peer resets the connection while fgets waits");
    FILE *s = start(2, "r", (struct feed){.rst_after = 1});
    char buf[16];
    errno = 0;
    char *r = fgets(buf, dyn(sizeof buf), s);
    line("fgets", r, buf, errno);
    TICKED();
    flags(s);
    finish(s);

    say("== socketpair: SO_RCVTIMEO passes while fgets waits, then the line comes");
    /* The feeder writes only once told the timeout passed: under load, a reader scheduled
     * late would otherwise find the line already there, and then wait forever for a second. */
    s = start(1, "r", (struct feed){.expect_first = "go", .parts = {"late\n"}, .pause_first = 1});
    struct timeval tv = {.tv_sec = 0, .tv_usec = 1000};
    REQUIRE(setsockopt(fileno(s), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    errno = 0;
    r = fgets(buf, dyn(sizeof buf), s);
    line("fgets", r, buf, errno);
    flags(s);
    clearerr(s);
    REQUIRE(write(fileno(s), "go", 2) == 2);
    tv.tv_usec = 0;
    REQUIRE(setsockopt(fileno(s), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    errno = 0;
    r = fgets(buf, dyn(sizeof buf), s);
    line("fgets", r, buf, errno);
    flags(s);
    finish(s);
}

static void case_rw(void)
{
    say("== socketpair: fdopen r+, fprintf then fgets (the request is flushed first)");
    FILE *s = start(1, "r+", (struct feed){.expect_first = "ping 1\n", .parts = {"po", "ng\n"}});
    say("  fprintf = %d", fprintf(s, "ping %d\n", 1));
    char buf[16];
    line("fgets", fgets(buf, dyn(sizeof buf), s), buf, 0);
    TICKED();
    flags(s);
    finish(s);

    say("== pipe: __fsetlocking(FSETLOCKING_BYCALLER), fgets_unlocked");
    s = start(0, "r", (struct feed){.parts = {"by ", "caller\n"}});
    __fsetlocking(s, FSETLOCKING_BYCALLER);
    line("fgets_unlocked", fgets_unlocked(buf, dyn(sizeof buf), s), buf, 0);
    TICKED();
    finish(s);

    say("== fmemopen: no fd, straight to glibc");
    char mem[] = "in memory\nsecond";
    FILE *m = fmemopen(mem, strlen(mem), "r");
    REQUIRE(m != NULL);
    line("fgets", fgets(buf, dyn(sizeof buf), m), buf, 0);
    line("fgets", fgets(buf, dyn(sizeof buf), m), buf, 0);
    line("fgets", fgets(buf, dyn(sizeof buf), m), buf, 0);
    flags(m);
    fclose(m);
}

int main(void)
{
    for (int ch = 0; ch < 3; ch++) {
        case_fgets(ch);
        case_getline(ch);
        case_fscanf(ch);
        case_fread(ch);
        case_getc(ch);
    }
    case_flockfile();
    case_errors();
    case_rw();
    if (isatty(0))
        return 0;  /* the harness's pty run: nothing ever comes */
    say("== stdin (the harness's pipe, at EOF)");
    char buf[16];
    errno = 0;
    char *r = fgets(buf, dyn(sizeof buf), stdin);
    line("fgets(stdin)", r, buf, errno);
    clearerr(stdin);
    say("  getchar = %d", getchar());
    clearerr(stdin);
    say("  getchar_unlocked = %d", getchar_unlocked());
    clearerr(stdin);
    int n = 0;
    say("  scanf = %d", scanf("%d", &n));
    flags(stdin);
    return 0;
}
