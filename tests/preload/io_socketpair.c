/* Unix socketpairs (stream, datagram, seqpacket): send/recv, sendto/recvfrom, sendmsg/recvmsg
 * with iovecs and SCM_RIGHTS, MSG_PEEK, MSG_WAITALL, MSG_DONTWAIT, MSG_TRUNC, shutdown,
 * sendmmsg/recvmmsg, read/write/readv/writev on sockets, SO_RCVTIMEO and SO_SNDTIMEO
 * (really waiting), SO_TYPE, ENOTSOCK. */
#include "transcript.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static char big[1 << 20];

static void show_timeo(const char *label, int fd, int opt)
{
    struct timeval tv = {0};
    socklen_t len = sizeof tv;
    errno = 0;
    int r = getsockopt(fd, SOL_SOCKET, opt, &tv, &len);
    if (r == -1)
        say("getsockopt(%s) = -1 %s", label, errno_name(errno));
    else
        say("getsockopt(%s) = 0, len %u, %ld s %ld us", label, (unsigned)len, (long)tv.tv_sec,
            (long)tv.tv_usec);
}

static void show_type(const char *label, int fd)
{
    int t = -1;
    socklen_t len = sizeof t;
    errno = 0;
    int r = getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &len);
    if (r == -1)
        say("getsockopt(%s, SO_TYPE) = -1 %s", label, errno_name(errno));
    else
        say("getsockopt(%s, SO_TYPE) = 0: %s", label,
            t == SOCK_STREAM ? "SOCK_STREAM" : t == SOCK_DGRAM ? "SOCK_DGRAM"
                                           : t == SOCK_SEQPACKET ? "SOCK_SEQPACKET" : "other");
}

int main(void)
{
    char buf[256];
    int s[2], g[2], k[2];
    long n;

    REQUIRE(signal(SIGPIPE, SIG_IGN) != SIG_ERR);

    say("== SOCK_STREAM");
    CALL(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
    say("fds %d %d", s[0], s[1]);
    show_type("s[0]", s[0]);
    show_fl("s[0]", s[0]);
    CALL(send(s[0], "hello", 5, 0));
    n = CALL(recv(s[1], buf, dyn(sizeof buf), 0));
    show_bytes("recv", buf, n);
    CALL(sendto(s[1], "back", 4, 0, NULL, 0));
    n = CALL(recvfrom(s[0], buf, dyn(sizeof buf), 0, NULL, NULL));
    show_bytes("recvfrom", buf, n);

    say("-- MSG_PEEK, MSG_WAITALL with the data present, MSG_DONTWAIT on empty");
    CALL(send(s[0], "0123456789", 10, 0));
    n = CALL(recv(s[1], buf, dyn(4), MSG_PEEK));
    show_bytes("peek", buf, n);
    n = CALL(recv(s[1], buf, dyn(10), MSG_WAITALL));
    show_bytes("waitall", buf, n);
    CALL(recv(s[1], buf, dyn(sizeof buf), MSG_DONTWAIT));
    CALL(recvfrom(s[1], buf, dyn(sizeof buf), MSG_DONTWAIT, NULL, NULL));
    show_fl("s[1] after MSG_DONTWAIT", s[1]);

    say("-- read, write, readv, writev");
    CALL(write(s[0], "plain write", 11));
    n = CALL(read(s[1], buf, dyn(sizeof buf)));
    show_bytes("read", buf, n);
    {
        struct iovec out[3] = {
            {.iov_base = "ab", .iov_len = 2},
            {.iov_base = "", .iov_len = 0},
            {.iov_base = "cdef", .iov_len = 4},
        };
        char a[3], b[10];
        struct iovec in[2] = {{.iov_base = a, .iov_len = 3}, {.iov_base = b, .iov_len = 10}};
        CALL(writev(s[1], out, 3));
        n = CALL(readv(s[0], in, 2));
        show_bytes("iov0", a, 3);
        show_bytes("iov1", b, n - 3);
    }

    say("-- sendmsg/recvmsg with iovecs and SCM_RIGHTS");
    {
        int p[2];
        REQUIRE(pipe(p) == 0);
        say("pipe fds %d %d", p[0], p[1]);
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } ctl;
        memset(&ctl, 0, sizeof ctl);
        struct iovec out[2] = {{.iov_base = "fd ", .iov_len = 3}, {.iov_base = "here", .iov_len = 4}};
        struct msghdr m = {.msg_iov = out, .msg_iovlen = 2, .msg_control = ctl.buf,
                           .msg_controllen = sizeof ctl.buf};
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &p[1], sizeof(int));
        CALL(sendmsg(s[0], &m, 0));
        CALL(close(p[1]));

        char a[4], b[20];
        struct iovec in[2] = {{.iov_base = a, .iov_len = 4}, {.iov_base = b, .iov_len = 20}};
        memset(&ctl, 0, sizeof ctl);
        struct msghdr r = {.msg_iov = in, .msg_iovlen = 2, .msg_control = ctl.buf,
                           .msg_controllen = sizeof ctl.buf};
        n = CALL(recvmsg(s[1], &r, 0));
        show_bytes("iov0", a, n < 4 ? n : 4);
        show_bytes("iov1", b, n - 4);
        say("msg_flags %#x, controllen %zu", (unsigned)r.msg_flags, (size_t)r.msg_controllen);
        int got = -1;
        for (c = CMSG_FIRSTHDR(&r); c; c = CMSG_NXTHDR(&r, c)) {
            say("cmsg level %d type %d len %zu", c->cmsg_level, c->cmsg_type, (size_t)c->cmsg_len);
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                memcpy(&got, CMSG_DATA(c), sizeof got);
        }
        say("received fd %d", got);
        show_fl("received", got);
        CALL(write(got, "through passed fd", 17));
        CALL(close(got));
        n = CALL(read(p[0], buf, dyn(sizeof buf)));
        show_bytes("read", buf, n);
        CALL(read(p[0], buf, dyn(sizeof buf)));
        CALL(close(p[0]));
    }

    say("-- SO_RCVTIMEO 50 ms on an empty socket");
    {
        struct timeval tv = {.tv_sec = 0, .tv_usec = 50000};
        CALL(setsockopt(s[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
        double t0 = mono_now();
        CALL(recv(s[1], buf, dyn(sizeof buf), 0));
        double el = mono_now() - t0;
        say("timeout respected: %s", yesno(el >= 0.040));
        t0 = mono_now();
        CALL(read(s[1], buf, dyn(sizeof buf)));
        el = mono_now() - t0;
        say("timeout respected: %s", yesno(el >= 0.040));
        /* Data arriving before the timeout is returned normally. */
        CALL(send(s[0], "in time", 7, 0));
        n = CALL(recv(s[1], buf, dyn(sizeof buf), 0));
        show_bytes("recv", buf, n);
        struct timeval zero = {0, 0};
        CALL(setsockopt(s[1], SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof zero));
    }

    say("-- SO_SNDTIMEO: round trip, then a send that fills the buffer");
    {
        struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
        show_timeo("SO_SNDTIMEO", s[0], SO_SNDTIMEO);
        CALL(setsockopt(s[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
        show_timeo("SO_SNDTIMEO", s[0], SO_SNDTIMEO);
        tv.tv_usec = 50000;
        CALL(setsockopt(s[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
        memset(big, 'z', sizeof big);
        double t0 = mono_now();
        errno = 0;
        long w = send(s[0], big, sizeof big, 0);
        double el = mono_now() - t0;
        say("send(1 MiB) partial: %s, errno %s", yesno(w > 0 && w < (long)sizeof big),
            errno ? errno_name(errno) : "0");
        say("timeout respected: %s", yesno(el >= 0.040));
        t0 = mono_now();
        CALL(send(s[0], big, sizeof big, 0));
        el = mono_now() - t0;
        say("timeout respected: %s", yesno(el >= 0.040));
        CALL(send(s[0], big, sizeof big, MSG_DONTWAIT));
        /* Drain what did go through. */
        long drained = 0;
        for (;;) {
            long k = recv(s[1], big, dyn(sizeof big), MSG_DONTWAIT);
            if (k <= 0)
                break;
            drained += k;
        }
        say("drained == sent: %s", yesno(drained == w));
    }

    say("-- shutdown(SHUT_WR)");
    CALL(shutdown(s[0], SHUT_WR));
    CALL(recv(s[1], buf, dyn(sizeof buf), 0));
    CALL(read(s[1], buf, dyn(sizeof buf)));
    CALL(send(s[0], "x", 1, 0));
    CALL(send(s[1], "still open", 10, 0));
    n = CALL(recv(s[0], buf, dyn(sizeof buf), 0));
    show_bytes("recv", buf, n);
    CALL(close(s[1]));
    CALL(recv(s[0], buf, dyn(sizeof buf), 0));
    CALL(close(s[0]));

    say("== SOCK_DGRAM");
    CALL(socketpair(AF_UNIX, SOCK_DGRAM, 0, g));
    say("fds %d %d", g[0], g[1]);
    show_type("g[0]", g[0]);
    CALL(send(g[0], "datagram one", 12, 0));
    CALL(send(g[0], "datagram two", 12, 0));
    n = CALL(recv(g[1], buf, dyn(8), 0));
    show_bytes("truncated", buf, n);
    n = CALL(recv(g[1], buf, dyn(4), MSG_TRUNC));
    show_bytes("MSG_TRUNC", buf, 4);
    CALL(recv(g[1], buf, dyn(sizeof buf), MSG_DONTWAIT));
    say("-- sendmmsg, recvmmsg with MSG_WAITFORONE");
    {
        struct iovec out[3] = {{.iov_base = "m1", .iov_len = 2},
                               {.iov_base = "mm2", .iov_len = 3},
                               {.iov_base = "mmm3", .iov_len = 4}};
        struct mmsghdr om[3];
        memset(om, 0, sizeof om);
        for (int i = 0; i < 3; i++) {
            om[i].msg_hdr.msg_iov = &out[i];
            om[i].msg_hdr.msg_iovlen = 1;
        }
        CALL(sendmmsg(g[0], om, 3, 0));
        say("msg_len %u %u %u", om[0].msg_len, om[1].msg_len, om[2].msg_len);
        char rb[5][16];
        struct iovec in[5];
        struct mmsghdr im[5];
        memset(im, 0, sizeof im);
        for (int i = 0; i < 5; i++) {
            in[i].iov_base = rb[i];
            in[i].iov_len = sizeof rb[i];
            im[i].msg_hdr.msg_iov = &in[i];
            im[i].msg_hdr.msg_iovlen = 1;
        }
        n = CALL(recvmmsg(g[1], im, 5, MSG_WAITFORONE, NULL));
        for (long i = 0; i < n; i++)
            show_bytes("mmsg", rb[i], im[i].msg_len);
        CALL(recvmmsg(g[1], im, 5, MSG_DONTWAIT, NULL));
        CALL(send(g[0], "last", 4, 0));
        n = CALL(recvmmsg(g[1], im, 5, MSG_WAITFORONE, NULL));
        show_bytes("mmsg", rb[0], im[0].msg_len);
    }
    CALL(write(g[1], "write on dgram", 14));
    n = CALL(read(g[0], buf, dyn(sizeof buf)));
    show_bytes("read", buf, n);
    CALL(close(g[0]));
    CALL(send(g[1], "to closed", 9, 0));
    CALL(close(g[1]));

    say("== SOCK_SEQPACKET");
    CALL(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, k));
    say("fds %d %d", k[0], k[1]);
    show_type("k[0]", k[0]);
    CALL(send(k[0], "record one", 10, 0));
    CALL(send(k[0], "record two", 10, 0));
    {
        char small[6];
        struct iovec iv = {.iov_base = small, .iov_len = sizeof small};
        struct msghdr m = {.msg_iov = &iv, .msg_iovlen = 1};
        n = CALL(recvmsg(k[1], &m, 0));
        show_bytes("recvmsg", small, n);
        say("MSG_TRUNC set: %s, MSG_EOR set: %s", yesno(m.msg_flags & MSG_TRUNC),
            yesno(m.msg_flags & MSG_EOR));
    }
    n = CALL(recv(k[1], buf, dyn(sizeof buf), 0));
    show_bytes("recv", buf, n);
    CALL(recv(k[1], buf, dyn(sizeof buf), MSG_DONTWAIT));
    CALL(shutdown(k[0], SHUT_WR));
    CALL(recv(k[1], buf, dyn(sizeof buf), 0));
    CALL(close(k[0]));
    CALL(close(k[1]));

    say("== ENOTSOCK, EBADF");
    {
        int p[2];
        REQUIRE(pipe(p) == 0);
        CALL(recv(p[0], buf, dyn(sizeof buf), 0));
        CALL(send(p[1], "x", 1, 0));
        CALL(recvfrom(p[0], buf, dyn(sizeof buf), MSG_DONTWAIT, NULL, NULL));
        show_type("pipe", p[0]);
        CALL(close(p[0]));
        CALL(close(p[1]));
        CALL(recv(p[0], buf, dyn(sizeof buf), 0));
        CALL(send(-1, "x", 1, 0));
    }
    say("done");
    return 0;
}
