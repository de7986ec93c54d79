/* sendfile of a file larger than the socket's (or pipe's) buffer from one thread while another
 * thread of the process reads the other end.
 *
 * Reduced from CPython's test_socket SendfileUsingSendfileTest.testOffset: the client thread's
 * sendfile blocked the OS thread every green thread of the hub runs on, so the server thread
 * never read and both waited forever.
 */
#include "transcript.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

enum { file_size = 6 << 20, start = 5000 };

static char *expected;
static int file_fd;
static int out_fd;

struct sent {
    ssize_t n;
    int err;
    off_t offset;
};

static void *sender(void *arg)
{
    struct sent *s = arg;
    s->offset = start;
    errno = 0;
    s->n = sendfile(out_fd, file_fd, &s->offset, file_size - start);
    s->err = errno;
    close(out_fd);
    return NULL;
}

static void read_all(int fd, const char *what)
{
    char *got = malloc(file_size);
    REQUIRE(got);
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, got + n, dyn(file_size - n));
        REQUIRE(r >= 0);
        if (r == 0)
            break;
        n += (size_t)r;
    }
    say("%s: read %zu bytes, the file's from %d: %s", what, n, start,
        yesno(n == file_size - start && memcmp(got, expected + start, n) == 0));
    free(got);
}

static void one(const char *what, int fds[2])
{
    out_fd = fds[0];
    struct sent s;
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, sender, &s) == 0);
    read_all(fds[1], what);
    pthread_join(t, NULL);
    if (s.n < 0)
        say("%s: sendfile = -1 %s", what, errno_name(s.err));
    else
        say("%s: sendfile = %zd, offset now %lld, errno %s", what, s.n, (long long)s.offset,
            s.err ? errno_name(s.err) : "0");
    say("%s: the file's own position: %lld", what, (long long)lseek(file_fd, 0, SEEK_CUR));
    close(fds[1]);
}

int main(void)
{
    char path[] = "/tmp/green-sendfile-XXXXXX";
    file_fd = mkstemp(path);
    REQUIRE(file_fd >= 0);
    unlink(path);
    expected = malloc(file_size);
    REQUIRE(expected);
    for (int i = 0; i < file_size; i++)
        expected[i] = (char)(i * 7 + i / 4096);
    REQUIRE(write(file_fd, expected, file_size) == file_size);
    REQUIRE(lseek(file_fd, 0, SEEK_SET) == 0);

    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    one("socketpair", fds);
    int p[2];
    REQUIRE(pipe(p) == 0);
    int pfds[2] = {p[1], p[0]};
    one("pipe", pfds);

    say("== a zero count, and a bad fd");
    CALL(sendfile(1, file_fd, NULL, 0));
    CALL(sendfile(-1, file_fd, NULL, dyn(10)));
    say("done");
    return 0;
}
