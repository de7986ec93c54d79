/* stdio writers into a pipe whose reader is slow: fprintf, fputs, fputc/putc, the inline
 * putc_unlocked, fwrite in pieces smaller than the buffer, puts-like lines, fflush; fully
 * buffered, line-buffered and unbuffered; EPIPE and the error flag; ftell.
 *
 * The reader is another thread of the program that reads a page, then sleeps, again and
 * again: the writer fills the pipe (64 KiB) many times over and has to wait for it. When
 * threads are fibers of one hub, a writer that blocked its OS thread in a flush would keep the
 * reader from ever draining the pipe, and the program would hang: finishing is the proof
 * that the writers parked. The bytes that arrive are checked against what was written. */
#include "transcript.h"

#include <pthread.h>
#include <unistd.h>

enum { TOTAL_LINES = 6000 };

struct drain {
    int fd;
    long bytes;
    uint64_t hash;
    long sleeps;
};

static void *slow_reader(void *arg)
{
    struct drain *d = arg;
    char buf[4096];
    d->hash = 1469598103934665603ULL;
    for (;;) {
        usleep(200);
        d->sleeps++;
        ssize_t r = read(d->fd, buf, sizeof buf);
        REQUIRE(r >= 0);
        if (r == 0)
            break;
        for (ssize_t i = 0; i < r; i++) {
            d->hash ^= (unsigned char)buf[i];
            d->hash *= 1099511628211ULL;
        }
        d->bytes += r;
    }
    return NULL;
}

static uint64_t expected_hash;
static long expected_bytes;

static void expect(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        expected_hash ^= (unsigned char)p[i];
        expected_hash *= 1099511628211ULL;
    }
    expected_bytes += (long)n;
}

static void run(const char *label, int mode, void (*writer)(FILE *))
{
    say("== %s", label);
    int p[2];
    REQUIRE(pipe(p) == 0);
    struct drain d = {.fd = p[0]};
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, slow_reader, &d) == 0);
    FILE *w = fdopen(p[1], "w");
    REQUIRE(w != NULL);
    if (mode != _IOFBF)
        REQUIRE(setvbuf(w, NULL, mode, mode == _IONBF ? 0 : 4096) == 0);
    expected_hash = 1469598103934665603ULL;
    expected_bytes = 0;
    writer(w);
    errno = 0;
    long pos = ftell(w);
    say("  ftell = %ld %s, ferror %d", pos, pos < 0 ? errno_name(errno) : "", ferror(w) != 0);
    CALL(fclose(w));
    REQUIRE(pthread_join(t, NULL) == 0);
    close(p[0]);
    say("  reader got %ld bytes (expected %ld), same bytes: %s, it slept while the writer "
        "waited: %s",
        d.bytes, expected_bytes, yesno(d.hash == expected_hash), yesno(d.sleeps > 16));
}

static void w_fprintf(FILE *w)
{
    char line[64];
    for (int i = 0; i < TOTAL_LINES; i++) {
        int n = snprintf(line, sizeof line, "line %05d of the fprintf test %s\n", i, "....");
        expect(line, (size_t)n);
        REQUIRE(fprintf(w, "line %05d of the fprintf test %s\n", i, "....") == n);
    }
}

static void w_fputs(FILE *w)
{
    char line[64];
    for (int i = 0; i < TOTAL_LINES; i++) {
        int n = snprintf(line, sizeof line, "fputs line %05d\n", i);
        expect(line, (size_t)n);
        REQUIRE(fputs(line, w) >= 0);
    }
}

static void w_putc(FILE *w)
{
    for (int i = 0; i < TOTAL_LINES * 20; i++) {
        char c = (i % 40 == 39) ? '\n' : (char)('a' + i % 26);
        expect(&c, 1);
        if (i % 3 == 0)
            REQUIRE(fputc(c, w) == (unsigned char)c);
        else if (i % 3 == 1)
            REQUIRE(putc(c, w) == (unsigned char)c);
        else
            REQUIRE(putc_unlocked(c, w) == (unsigned char)c);
    }
}

static char chunk[3000];

static void w_fwrite(FILE *w)
{
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = (char)(i * 31 + i / 7);
    for (int i = 0; i < 100; i++) {
        size_t n = 1000 + (size_t)(i * 97) % 2000;
        expect(chunk, n);
        REQUIRE(fwrite(chunk, 1, n, w) == n);
        if (i % 10 == 9)
            REQUIRE(fflush(w) == 0);
    }
}

int main(void)
{
    REQUIRE(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
    run("fprintf, fully buffered", _IOFBF, w_fprintf);
    run("fprintf, line-buffered", _IOLBF, w_fprintf);
    run("fputs, fully buffered", _IOFBF, w_fputs);
    run("fputs, unbuffered", _IONBF, w_fputs);
    run("fputc, putc, putc_unlocked, line-buffered", _IOLBF, w_putc);
    run("fputc, putc, putc_unlocked, fully buffered", _IOFBF, w_putc);
    run("fwrite and fflush, fully buffered", _IOFBF, w_fwrite);

    say("== EPIPE: the reader is gone");
    int p[2];
    REQUIRE(pipe(p) == 0);
    close(p[0]);
    FILE *w = fdopen(p[1], "w");
    REQUIRE(w != NULL);
    CALL(fputs("into nothing\n", w));
    CALL(fflush(w));
    say("  ferror %d", ferror(w) != 0);
    clearerr(w);
    CALL(fprintf(w, "%s\n", "again"));
    CALL(fclose(w));
    return 0;
}
