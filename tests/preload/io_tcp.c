/* TCP and UDP on 127.0.0.1, and AF_UNIX stream sockets bound to a path: blocking connect
 * to the program's own listener, accept/accept4 and their flags, echo both ways,
 * non-blocking connect (EINPROGRESS, SO_ERROR, EISCONN), ECONNREFUSED, EINVAL, EAGAIN,
 * EOF and EPIPE after the peer closes, SO_RCVTIMEO on TCP, UDP sendto/recvfrom/connect. */
#include "transcript.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct sockaddr_in loopback(unsigned short port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int so_error(int fd)
{
    int e = -1;
    socklen_t len = sizeof e;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
        return -1;
    return e;
}

int main(void)
{
    char buf[256];
    long n;

    REQUIRE(signal(SIGPIPE, SIG_IGN) != SIG_ERR);

    say("== TCP listener on 127.0.0.1, ephemeral port");
    int l = CALL(socket(AF_INET, SOCK_STREAM, 0));
    int one = 1;
    CALL(setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
    struct sockaddr_in la = loopback(0);
    CALL(bind(l, (struct sockaddr *)&la, sizeof la));
    socklen_t alen = sizeof la;
    CALL(getsockname(l, (struct sockaddr *)&la, &alen));
    say("port assigned: %s", yesno(ntohs(la.sin_port) != 0));
    CALL(accept(l, NULL, NULL));
    CALL(listen(l, 8));

    say("-- blocking connect completes through the backlog");
    int c = CALL(socket(AF_INET, SOCK_STREAM, 0));
    CALL(connect(c, (struct sockaddr *)&la, sizeof la));
    show_fl("c", c);
    CALL(connect(c, (struct sockaddr *)&la, sizeof la));
    struct sockaddr_in peer;
    socklen_t plen = sizeof peer;
    int a = CALL(accept(l, (struct sockaddr *)&peer, &plen));
    say("peer len %u, family AF_INET: %s, addr loopback: %s", (unsigned)plen,
        yesno(peer.sin_family == AF_INET), yesno(peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK)));
    show_fl("accepted", a);
    show_fd("accepted", a);
    CALL(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));

    say("-- echo");
    CALL(send(c, "ping", 4, 0));
    n = CALL(recv(a, buf, dyn(sizeof buf), 0));
    show_bytes("server got", buf, n);
    CALL(write(a, buf, n));
    n = CALL(read(c, buf, dyn(sizeof buf)));
    show_bytes("client got", buf, n);

    say("-- SO_RCVTIMEO 30 ms on an idle connection");
    {
        struct timeval tv = {.tv_sec = 0, .tv_usec = 30000};
        CALL(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
        double t0 = mono_now();
        CALL(recv(c, buf, dyn(sizeof buf), 0));
        say("timeout respected: %s", yesno(mono_now() - t0 >= 0.020));
        struct timeval zero = {0, 0};
        CALL(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof zero));
    }

    say("-- accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC");
    int c2 = CALL(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    show_fd("c2", c2);
    CALL(connect(c2, (struct sockaddr *)&la, sizeof la));
    int a2 = CALL(accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
    show_fl("accept4", a2);
    show_fd("accept4", a2);
    CALL(recv(a2, buf, dyn(sizeof buf), 0));
    CALL(send(c2, "to a2", 5, 0));
    {
        /* a2 is non-blocking by the program's own request: wait for the byte with sleeps. */
        long k = -1;
        for (int i = 0; i < 200 && k < 0; i++) {
            k = recv(a2, buf, dyn(sizeof buf), 0);
            if (k < 0)
                usleep(5000);
        }
        show_bytes("a2 got", buf, k);
    }

    say("-- accept on a non-blocking listener with nothing pending, on a non-listener");
    CALL(fcntl(l, F_SETFL, fcntl(l, F_GETFL) | O_NONBLOCK));
    CALL(accept(l, NULL, NULL));
    CALL(accept4(l, NULL, NULL, SOCK_CLOEXEC));
    CALL(fcntl(l, F_SETFL, fcntl(l, F_GETFL) & ~O_NONBLOCK));
    CALL(accept(c, NULL, NULL));
    CALL(accept(-1, NULL, NULL));

    say("-- non-blocking connect");
    int nb = CALL(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    CALL(connect(nb, (struct sockaddr *)&la, sizeof la));
    {
        int e = -1;
        for (int i = 0; i < 200; i++) {
            usleep(5000);
            e = so_error(nb);
            struct sockaddr_in pa;
            socklen_t pl = sizeof pa;
            if (e != 0 || getpeername(nb, (struct sockaddr *)&pa, &pl) == 0)
                break;
        }
        say("SO_ERROR after completion: %d", e);
    }
    CALL(connect(nb, (struct sockaddr *)&la, sizeof la));
    CALL(connect(nb, (struct sockaddr *)&la, sizeof la));
    show_fl("nb", nb);
    int a3 = CALL(accept(l, NULL, NULL));

    say("-- connect to a closed port");
    {
        int t = socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(t >= 0);
        struct sockaddr_in ta = loopback(0);
        REQUIRE(bind(t, (struct sockaddr *)&ta, sizeof ta) == 0);
        socklen_t tl = sizeof ta;
        REQUIRE(getsockname(t, (struct sockaddr *)&ta, &tl) == 0);
        close(t);
        int r = CALL(socket(AF_INET, SOCK_STREAM, 0));
        CALL(connect(r, (struct sockaddr *)&ta, sizeof ta));
        CALL(close(r));
        int rn = CALL(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
        int rc = CALL(connect(rn, (struct sockaddr *)&ta, sizeof ta));
        if (rc == -1) {
            int e = 0;
            for (int i = 0; i < 200 && e == 0; i++) {
                usleep(5000);
                e = so_error(rn);
            }
            say("SO_ERROR: %s", errno_name(e));
        }
        CALL(close(rn));
    }

    say("-- EOF and EPIPE after the peer closes");
    CALL(close(a));
    CALL(recv(c, buf, dyn(sizeof buf), 0));
    CALL(recv(c, buf, dyn(sizeof buf), 0));
    {
        int first_err = 0, tries = 0;
        for (tries = 1; tries <= 100; tries++) {
            errno = 0;
            if (send(c, "late", 4, 0) < 0) {
                first_err = errno;
                break;
            }
            usleep(2000);
        }
        say("send after peer close fails with: %s", first_err ? errno_name(first_err) : "nothing");
    }
    CALL(send(c, "later", 5, 0));
    CALL(close(c));

    CALL(shutdown(c2, SHUT_WR));
    CALL(recv(a2, buf, dyn(sizeof buf), 0) == 0 || errno == EAGAIN);
    CALL(close(c2));
    CALL(close(a2));
    CALL(close(a3));
    CALL(close(nb));
    CALL(close(l));

    say("== UDP on 127.0.0.1");
    {
        int u1 = CALL(socket(AF_INET, SOCK_DGRAM, 0));
        int u2 = CALL(socket(AF_INET, SOCK_DGRAM, 0));
        struct sockaddr_in a1 = loopback(0), a2x = loopback(0), from;
        CALL(bind(u1, (struct sockaddr *)&a1, sizeof a1));
        CALL(bind(u2, (struct sockaddr *)&a2x, sizeof a2x));
        socklen_t sl = sizeof a1;
        REQUIRE(getsockname(u1, (struct sockaddr *)&a1, &sl) == 0);
        sl = sizeof a2x;
        REQUIRE(getsockname(u2, (struct sockaddr *)&a2x, &sl) == 0);
        CALL(sendto(u1, "udp hello", 9, 0, (struct sockaddr *)&a2x, sizeof a2x));
        socklen_t fl = sizeof from;
        n = CALL(recvfrom(u2, buf, dyn(sizeof buf), 0, (struct sockaddr *)&from, &fl));
        show_bytes("recvfrom", buf, n);
        say("from matches sender: %s", yesno(fl == sizeof from && from.sin_port == a1.sin_port &&
                                             from.sin_addr.s_addr == a1.sin_addr.s_addr));
        CALL(recvfrom(u2, buf, dyn(sizeof buf), MSG_DONTWAIT, NULL, NULL));
        CALL(connect(u1, (struct sockaddr *)&a2x, sizeof a2x));
        CALL(send(u1, "connected udp", 13, 0));
        n = CALL(recv(u2, buf, dyn(sizeof buf), 0));
        show_bytes("recv", buf, n);
        struct timeval tv = {.tv_sec = 0, .tv_usec = 30000};
        CALL(setsockopt(u2, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
        double t0 = mono_now();
        CALL(recvfrom(u2, buf, dyn(sizeof buf), 0, NULL, NULL));
        say("timeout respected: %s", yesno(mono_now() - t0 >= 0.020));
        CALL(close(u1));
        CALL(close(u2));
    }

    say("== AF_UNIX stream on a path");
    {
        char dir[] = "/tmp/green-preload-XXXXXX";
        REQUIRE(mkdtemp(dir) != NULL);
        struct sockaddr_un ua;
        memset(&ua, 0, sizeof ua);
        ua.sun_family = AF_UNIX;
        snprintf(ua.sun_path, sizeof ua.sun_path, "%s/sock", dir);
        struct sockaddr_un missing = ua;
        snprintf(missing.sun_path, sizeof missing.sun_path, "%s/missing", dir);

        int ul = CALL(socket(AF_UNIX, SOCK_STREAM, 0));
        CALL(bind(ul, (struct sockaddr *)&ua, sizeof ua));
        int uc0 = CALL(socket(AF_UNIX, SOCK_STREAM, 0));
        CALL(connect(uc0, (struct sockaddr *)&ua, sizeof ua));
        CALL(close(uc0));
        CALL(listen(ul, 4));
        int uc = CALL(socket(AF_UNIX, SOCK_STREAM, 0));
        CALL(connect(uc, (struct sockaddr *)&missing, sizeof missing));
        CALL(connect(uc, (struct sockaddr *)&ua, sizeof ua));
        int ua_fd = CALL(accept(ul, NULL, NULL));
        CALL(send(uc, "over a path", 11, 0));
        n = CALL(recv(ua_fd, buf, dyn(sizeof buf), 0));
        show_bytes("recv", buf, n);
        CALL(close(uc));
        CALL(recv(ua_fd, buf, dyn(sizeof buf), 0));
        CALL(close(ua_fd));
        CALL(close(ul));
        unlink(ua.sun_path);
        rmdir(dir);
    }
    say("done");
    return 0;
}
