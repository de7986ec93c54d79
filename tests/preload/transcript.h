/* Shared helpers for the preload test programs.
 *
 * Every program prints a deterministic transcript to stdout: each call as written in the
 * source, its return value and, on failure, the errno name. The same binary is run natively
 * and under libgreen.so and the transcripts must be byte-identical, so nothing here may print
 * a time, a pid, a port or an address.
 *
 * Output goes through stdio with a flush after every line, so lines written with write(1, ...)
 * (ctor_lib.c) and with printf stay in order.
 */
#ifndef GREEN_TESTS_PRELOAD_TRANSCRIPT_H
#define GREEN_TESTS_PRELOAD_TRANSCRIPT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline const char *errno_name(int e)
{
    const char *n = strerrorname_np(e);
    return n ? n : "E?";
}

static inline void show_result(const char *what, long r, int e)
{
    if (r == -1)
        printf("%s = -1 %s\n", what, errno_name(e));
    else
        printf("%s = %ld\n", what, r);
    fflush(stdout);
}

/* CALL(expr): evaluate expr with errno cleared, print "expr = value [ERRNO]", keep errno,
 * yield the value (as long). */
#define CALL(expr)                                                                        \
    ({                                                                                    \
        errno = 0;                                                                        \
        long call_r_ = (long)(expr);                                                      \
        int call_e_ = errno;                                                              \
        show_result(#expr, call_r_, call_e_);                                             \
        errno = call_e_;                                                                  \
        call_r_;                                                                          \
    })

/* For functions that return an error number instead of -1/errno (clock_nanosleep). */
#define CALL_ERRNUM(expr)                                                                 \
    ({                                                                                    \
        int call_r_ = (expr);                                                             \
        if (call_r_ == 0)                                                                 \
            printf("%s = 0\n", #expr);                                                    \
        else                                                                              \
            printf("%s = %s\n", #expr, errno_name(call_r_));                              \
        fflush(stdout);                                                                   \
        call_r_;                                                                          \
    })

static inline void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* Print bytes moved: escaped text when short, length + checksum when long. */
static inline uint64_t fnv1a(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static inline void show_bytes(const char *label, const void *p, long n)
{
    if (n < 0) {
        printf("  %s: (none)\n", label);
    } else if (n <= 64) {
        const unsigned char *b = p;
        printf("  %s: \"", label);
        for (long i = 0; i < n; i++) {
            if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '"' && b[i] != '\\')
                putchar(b[i]);
            else
                printf("\\x%02x", b[i]);
        }
        printf("\"\n");
    } else {
        printf("  %s: %ld bytes, fnv1a %016llx\n", label, n,
               (unsigned long long)fnv1a(p, (size_t)n));
    }
    fflush(stdout);
}

static inline const char *yesno(int c) { return c ? "yes" : "no"; }

/* An opaque length: keeps the compiler from seeing a constant, so that with
 * _FORTIFY_SOURCE glibc routes read/recv/recvfrom through __read_chk/__recv_chk/
 * __recvfrom_chk (a constant length known to fit calls the plain symbol). */
static inline size_t dyn(size_t n)
{
    static volatile size_t v;
    v = n;
    return v;
}

static inline double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Abort the transcript: something the test relies on for setup failed. */
#define REQUIRE(cond)                                                                     \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            printf("setup failed: %s (line %d, errno %s)\n", #cond, __LINE__,             \
                   errno_name(errno));                                                    \
            fflush(stdout);                                                               \
            exit(2);                                                                      \
        }                                                                                 \
    } while (0)

#include <fcntl.h>

/* F_GETFL decoded: access mode, O_NONBLOCK, O_APPEND, and any other bits in octal. */
static inline void show_fl(const char *label, int fd)
{
    errno = 0;
    int fl = fcntl(fd, F_GETFL);
    if (fl == -1) {
        printf("F_GETFL(%s) = -1 %s\n", label, errno_name(errno));
        fflush(stdout);
        return;
    }
    const char *acc = (fl & O_ACCMODE) == O_RDONLY   ? "O_RDONLY"
                      : (fl & O_ACCMODE) == O_WRONLY ? "O_WRONLY"
                                                     : "O_RDWR";
    printf("F_GETFL(%s) = %s%s%s", label, acc, (fl & O_NONBLOCK) ? "|O_NONBLOCK" : "",
           (fl & O_APPEND) ? "|O_APPEND" : "");
    int rest = fl & ~(O_ACCMODE | O_NONBLOCK | O_APPEND);
    if (rest)
        printf("|0%o", (unsigned)rest);
    printf("\n");
    fflush(stdout);
}

static inline void show_fd(const char *label, int fd)
{
    errno = 0;
    int fl = fcntl(fd, F_GETFD);
    if (fl == -1)
        printf("F_GETFD(%s) = -1 %s\n", label, errno_name(errno));
    else
        printf("F_GETFD(%s) = %s\n", label, (fl & FD_CLOEXEC) ? "FD_CLOEXEC" : "0");
    fflush(stdout);
}

/* The environment without LD_PRELOAD and GREEN_*, for helper children: they are not under
 * test, and under the library each would print its own stats line. */
extern char **environ;
static inline char **child_env(void)
{
    static char *env[256];
    size_t n = 0;
    for (char **e = environ; *e && n < 255; e++) {
        if (strncmp(*e, "LD_PRELOAD=", 11) == 0 || strncmp(*e, "GREEN_", 6) == 0)
            continue;
        env[n++] = *e;
    }
    env[n] = NULL;
    return env;
}

/* Installs `handler` for `sig` with sigaction, the given sa_flags and an empty mask. */
static inline void install_handler(int sig, void (*handler)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    REQUIRE(sigaction(sig, &sa, NULL) == 0);
}

/* A pthread-style return code (0 or an errno value), as "what = 0" or "what = ENAME". */
static inline void show_rc(const char *what, int rc)
{
    if (rc == 0)
        printf("%s = 0\n", what);
    else
        printf("%s = %s\n", what, errno_name(rc));
    fflush(stdout);
}

/* An absolute time `ms` from now on clock `clk`. */
static inline struct timespec deadline(clockid_t clk, long ms)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

#endif
