/* Zero-length receives, as Linux does them: read and readv of nothing return 0 at once from
 * sockets of every type and from pipes and consume nothing (not even a queued datagram); recv
 * and recvmsg of nothing ask the protocol, which waits for data (a stream keeps it, a datagram
 * socket drops the datagram). After each call a non-blocking read shows what is left. The
 * zero-length recvs on empty sockets wait for a thread that writes later, so the green run must
 * park. */
#include "transcript.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static char buf[16];

/* What a non-blocking read finds after the call. */
static void left(int fd)
{
    long n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && errno == ENOTSOCK) {
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        n = read(fd, buf, sizeof buf);
        fcntl(fd, F_SETFL, fl);
    }
    if (n < 0)
        say("  left: nothing (%s)", errno_name(errno));
    else
        show_bytes("left", buf, n);
}

/* Each zero-length form that never waits, on an empty and on a loaded fd. */
static void never_waits(const char *what, int rfd, int wfd, int is_socket)
{
    struct iovec v = {buf, 0};
    struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
    for (int loaded = 0; loaded < 2; ++loaded) {
        say("-- %s, %s", what, loaded ? "data queued" : "empty");
        if (loaded)
            if (write(wfd, "q1", 2) < 0)
                abort();  /* the transcript would not show why */
        CALL(read(rfd, buf, dyn(0)));
        CALL(readv(rfd, &v, 1));
        CALL(readv(rfd, &v, 0));
        left(rfd);
        if (is_socket && loaded) {
            if (write(wfd, "q2", 2) < 0)
                abort();  /* the transcript would not show why */
            CALL(recv(rfd, buf, dyn(0), 0));
            left(rfd);
            if (write(wfd, "q3", 2) < 0)
                abort();  /* the transcript would not show why */
            CALL(recvmsg(rfd, &m, 0));
            left(rfd);
        }
    }
}

static int later_fd;

static void *write_later(void *arg)
{
    (void)arg;
    usleep(30000);
    if (write(later_fd, "late", 4) < 0)
        abort();  /* the transcript would not show why */
    return NULL;
}

/* A zero-length recv that must wait: the datagram or bytes come from another thread. */
static void waits(const char *what, int rfd, int wfd, int flags)
{
    say("-- %s, empty, a thread writes later", what);
    later_fd = wfd;
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, write_later, NULL) == 0);
    CALL(recv(rfd, buf, dyn(0), flags));
    pthread_join(th, NULL);
    left(rfd);
}

static void waits_unix(const char *what, int type, int flags)
{
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, type, 0, sv) == 0);
    waits(what, sv[0], sv[1], flags);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
    const char *names[] = {"unix stream", "unix datagram", "unix seqpacket"};
    for (int i = 0; i < 3; ++i) {
        int sv[2];
        REQUIRE(socketpair(AF_UNIX, types[i], 0, sv) == 0);
        never_waits(names[i], sv[0], sv[1], 1);
        close(sv[0]);
        close(sv[1]);
    }
    int p[2];
    REQUIRE(pipe(p) == 0);
    never_waits("pipe", p[0], p[1], 0);
    close(p[0]);
    close(p[1]);

    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    int a = socket(AF_INET, SOCK_DGRAM, 0), c = socket(AF_INET, SOCK_DGRAM, 0);
    REQUIRE(a >= 0 && c >= 0);
    REQUIRE(bind(a, (struct sockaddr *)&sin, sizeof sin) == 0);
    REQUIRE(getsockname(a, (struct sockaddr *)&sin, &len) == 0);
    REQUIRE(connect(c, (struct sockaddr *)&sin, sizeof sin) == 0);
    never_waits("udp", a, c, 1);
    waits("udp recv", a, c, 0);
    close(a);
    close(c);

    sin.sin_port = 0;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(ls >= 0 && bind(ls, (struct sockaddr *)&sin, sizeof sin) == 0);
    len = sizeof sin;
    REQUIRE(getsockname(ls, (struct sockaddr *)&sin, &len) == 0 && listen(ls, 1) == 0);
    c = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(connect(c, (struct sockaddr *)&sin, sizeof sin) == 0);
    a = accept(ls, NULL, NULL);
    REQUIRE(a >= 0);
    never_waits("tcp", a, c, 1);
    waits("tcp recv", a, c, 0);
    waits("tcp recv MSG_WAITALL", a, c, MSG_WAITALL);
    close(a);
    close(c);
    close(ls);

    waits_unix("unix stream recv", SOCK_STREAM, 0);
    waits_unix("unix stream recv MSG_WAITALL", SOCK_STREAM, MSG_WAITALL);
    waits_unix("unix datagram recv", SOCK_DGRAM, 0);
    waits_unix("unix seqpacket recv", SOCK_SEQPACKET, 0);
    return 0;
}
