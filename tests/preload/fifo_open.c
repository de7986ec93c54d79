/* Opens of a FIFO that wait for the other end, which another thread of the process opens after
 * ten sleeps: open for reading, openat for writing, fopen both ways, creat, the fortified
 * __open64_2 (flags not known at compile time); then the opens that never wait (read-write,
 * O_NONBLOCK, ENXIO for a writer with no reader) and the errors (ENOENT, ELOOP through
 * O_NOFOLLOW, EEXIST with O_EXCL). If a waiting open froze its OS thread, and threads are
 * fibers of one hub, the other end's thread could never run and the program would hang. */
#include "transcript.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/green-fifo-open-XXXXXX";
static char fifo[64], link_path[64];
static volatile int ticks;

static void ten_sleeps(void)
{
    for (int i = 0; i < 10; i++) {
        usleep(5000);
        ticks = i + 1;
    }
}

/* The other end, opened after ten sleeps: a reader or a writer of one message. */
static void *late_writer(void *arg)
{
    (void)arg;
    ten_sleeps();
    int fd = open(fifo, O_WRONLY);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, "from the writer", 15) == 15);
    close(fd);
    return NULL;
}

static void *late_reader(void *arg)
{
    char *got = arg;
    ten_sleeps();
    int fd = open(fifo, O_RDONLY);
    REQUIRE(fd >= 0);
    long n = 0, r;
    while ((r = read(fd, got + n, 63 - (size_t)n)) > 0)
        n += r;
    got[n] = 0;
    close(fd);
    return NULL;
}

static void read_all(const char *what, int fd)
{
    char buf[64];
    long n = 0, r;
    while ((r = read(fd, buf + n, sizeof buf - 1 - (size_t)n)) > 0)
        n += r;
    show_bytes(what, buf, n);
}

typedef int (*opener)(void);

static int open_rdonly(void) { return open(fifo, O_RDONLY); }
static int open_2_rdonly(void) { return open(fifo, (int)dyn(O_RDONLY)); }
static int openat_wronly(void)
{
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    REQUIRE(d >= 0);
    int fd = openat(d, "fifo", O_WRONLY | O_CLOEXEC);
    close(d);
    return fd;
}
static int creat_fifo(void) { return creat(fifo, 0600); }

/* Opens with `open_one` while a thread opens the other end late; `reading`: this end reads. */
static void wait_for_other_end(const char *what, opener open_one, int reading)
{
    char got[64] = "";
    pthread_t other;
    ticks = 0;
    REQUIRE(pthread_create(&other, NULL, reading ? late_writer : late_reader, got) == 0);
    int fd = open_one();
    say("%s: open %s, the other end's thread slept %d times first", what, fd >= 0 ? "ok" : "failed",
        ticks);
    if (reading) {
        read_all("  read", fd);
    } else {
        REQUIRE(write(fd, "to the reader", 13) == 13);
        show_fl("  fd", fd);
        show_fd("  fd", fd);
    }
    close(fd);
    REQUIRE(pthread_join(other, NULL) == 0);
    if (!reading)
        say("  the reader got \"%s\"", got);
}

int main(void)
{
    REQUIRE(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    snprintf(link_path, sizeof link_path, "%s/link", dir);
    REQUIRE(mkfifo(fifo, 0600) == 0);
    REQUIRE(symlink(fifo, link_path) == 0);

    say("== opens that wait for the other end");
    wait_for_other_end("open O_RDONLY", open_rdonly, 1);
    wait_for_other_end("open with flags not known when compiled", open_2_rdonly, 1);
    wait_for_other_end("openat O_WRONLY|O_CLOEXEC", openat_wronly, 0);
    wait_for_other_end("creat", creat_fifo, 0);
    {
        char got[64] = "";
        pthread_t other;
        ticks = 0;
        REQUIRE(pthread_create(&other, NULL, late_reader, got) == 0);
        FILE *f = fopen(link_path, "w");
        say("fopen \"w\" through a symlink: %s, the other end's thread slept %d times first",
            f ? "ok" : "failed", ticks);
        REQUIRE(f && fputs("by stdio", f) >= 0 && fclose(f) == 0);
        REQUIRE(pthread_join(other, NULL) == 0);
        say("  the reader got \"%s\"", got);

        ticks = 0;
        REQUIRE(pthread_create(&other, NULL, late_writer, NULL) == 0);
        f = fopen(fifo, "r");
        say("fopen \"r\": %s, the other end's thread slept %d times first", f ? "ok" : "failed",
            ticks);
        char line[64] = "";
        REQUIRE(f && fgets(line, sizeof line, f));
        say("  fgets: \"%s\"", line);
        REQUIRE(fclose(f) == 0);
        REQUIRE(pthread_join(other, NULL) == 0);
    }

    say("== opens that never wait");
    int fd = CALL(open(fifo, O_RDWR));
    close(fd);
    fd = CALL(open(fifo, O_RDONLY | O_NONBLOCK));
    show_fl("O_RDONLY|O_NONBLOCK", fd);
    close(fd);
    CALL(open(fifo, O_WRONLY | O_NONBLOCK));
    CALL(open(link_path, O_RDONLY | O_NOFOLLOW));
    CALL(open(fifo, O_WRONLY | O_CREAT | O_EXCL, 0600));
    {
        char missing[80];
        snprintf(missing, sizeof missing, "%s/missing", dir);
        CALL(open(missing, O_RDONLY));
        CALL(open(dir, O_WRONLY));
        fd = CALL(open(missing, O_WRONLY | O_CREAT, 0640));
        struct stat st;
        REQUIRE(fstat(fd, &st) == 0);
        say("created: mode %o, regular %s", (unsigned)(st.st_mode & 0777), yesno(S_ISREG(st.st_mode)));
        close(fd);
        REQUIRE(unlink(missing) == 0);
    }
    errno = 0;
    fd = open("/dev/null", O_RDONLY);
    say("errno after a successful open: %d", errno);
    close(fd);

    REQUIRE(unlink(link_path) == 0);
    REQUIRE(unlink(fifo) == 0);
    REQUIRE(rmdir(dir) == 0);
    say("done");
    return 0;
}
