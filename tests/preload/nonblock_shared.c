/* O_NONBLOCK changed through another fd of the same open file description, or by a caller the
 * runtime cannot lock for: a dup, dup2 and F_DUPFD copy, an fd received back over SCM_RIGHTS,
 * a signal handler's fcntl, a vfork child's fcntl, FIONBIO; then the first fd is read.
 *
 * Each read has a writer thread that sends one byte 30 ms later: in blocking mode the read
 * waits for it (green: parks, so the writer, a green thread of the same hub, can run); in
 * non-blocking mode it fails with EAGAIN at once. A runtime that believed the fd blocking when
 * it is not would return the byte instead of EAGAIN; one that believed it non-blocking when it
 * is not would block the hub thread in read, and the writer with it, for ever. */
#include "transcript.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct late_byte {
    int fd;
};

static void *write_late(void *arg)
{
    struct late_byte *w = arg;
    usleep(30000);
    REQUIRE(write(w->fd, "x", 1) == 1);
    return NULL;
}

/* Reads one byte from rfd while a thread writes one into wfd 30 ms from now; then takes the
 * late byte off rfd if the read did not. */
static void read_one(const char *what, int rfd, int wfd)
{
    struct late_byte w = {.fd = wfd};
    pthread_t writer;
    REQUIRE(pthread_create(&writer, NULL, write_late, &w) == 0);
    char c;
    long n = read(rfd, &c, 1);
    int e = errno;
    REQUIRE(pthread_join(writer, NULL) == 0);
    show_result(what, n, e);
    if (n != 1) {
        struct pollfd p = {.fd = rfd, .events = POLLIN};
        REQUIRE(poll(&p, 1, -1) == 1);
        REQUIRE(read(rfd, &c, 1) == 1);
    }
}

static void set_nonblock(int fd, int on)
{
    int flags = fcntl(fd, F_GETFL);
    REQUIRE(flags >= 0);
    REQUIRE(fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) == 0);
}

static int handler_fd = -1, handler_on;

static void set_in_handler(int sig)
{
    (void)sig;
    set_nonblock(handler_fd, handler_on);
}

static void set_in_vfork_child(int fd, int on)
{
    pid_t pid = vfork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int flags = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
        _exit(0);
    }
    int status;
    REQUIRE(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int send_fd_to_self(int fd)
{
    int u[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, u) == 0);
    char byte = 'f';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space,
                         .msg_controllen = sizeof control.space};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    REQUIRE(sendmsg(u[0], &msg, 0) == 1);
    memset(&control, 0, sizeof control);
    msg.msg_controllen = sizeof control.space;
    REQUIRE(recvmsg(u[1], &msg, 0) == 1);
    c = CMSG_FIRSTHDR(&msg);
    REQUIRE(c && c->cmsg_type == SCM_RIGHTS);
    int got;
    memcpy(&got, CMSG_DATA(c), sizeof got);
    close(u[0]);
    close(u[1]);
    return got;
}

int main(void)
{
    int s[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);

    say("== the fd itself");
    read_one("blocking", s[1], s[0]);
    set_nonblock(s[1], 1);
    read_one("after F_SETFL O_NONBLOCK", s[1], s[0]);
    set_nonblock(s[1], 0);
    read_one("after F_SETFL back", s[1], s[0]);

    say("== through a dup");
    int d = CALL(dup(s[1]));
    set_nonblock(d, 1);
    read_one("original, dup non-blocking", s[1], s[0]);
    set_nonblock(d, 0);
    read_one("original, dup blocking", s[1], s[0]);
    {
        int on = 1, off = 0;
        CALL(ioctl(s[1], FIONBIO, &on));
        read_one("dup, original FIONBIO on", d, s[0]);
        CALL(ioctl(s[1], FIONBIO, &off));
        read_one("dup, original FIONBIO off", d, s[0]);
    }
    close(d);

    say("== through dup2 and F_DUPFD_CLOEXEC copies of a fresh socket");
    int t[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, t) == 0);
    read_one("fresh", t[1], t[0]);
    CALL(dup2(t[1], 40));
    set_nonblock(40, 1);
    read_one("original, dup2 copy non-blocking", t[1], t[0]);
    set_nonblock(40, 0);
    close(40);
    int f = CALL(fcntl(t[1], F_DUPFD_CLOEXEC, 50));
    set_nonblock(f, 1);
    read_one("original, F_DUPFD copy non-blocking", t[1], t[0]);
    set_nonblock(f, 0);
    read_one("original, F_DUPFD copy blocking", t[1], t[0]);
    close(f);

    say("== through an fd received back over SCM_RIGHTS");
    int p[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, p) == 0);
    read_one("fresh", p[1], p[0]);
    int received = send_fd_to_self(p[1]);
    set_nonblock(received, 1);
    read_one("original, received copy non-blocking", p[1], p[0]);
    set_nonblock(received, 0);
    read_one("original, received copy blocking", p[1], p[0]);
    close(received);

    say("== from a signal handler");
    install_handler(SIGUSR1, set_in_handler, 0);
    handler_fd = s[1];
    handler_on = 1;
    REQUIRE(raise(SIGUSR1) == 0);
    read_one("handler set O_NONBLOCK", s[1], s[0]);
    handler_on = 0;
    REQUIRE(raise(SIGUSR1) == 0);
    read_one("handler cleared it", s[1], s[0]);

    say("== from a vfork child");
    set_in_vfork_child(s[1], 1);
    read_one("child set O_NONBLOCK", s[1], s[0]);
    set_in_vfork_child(s[1], 0);
    read_one("child cleared it", s[1], s[0]);

    say("== a pipe");
    int q[2];
    REQUIRE(pipe(q) == 0);
    read_one("blocking", q[0], q[1]);
    {
        int on = 1, off = 0;
        CALL(ioctl(q[0], FIONBIO, &on));
        read_one("FIONBIO on", q[0], q[1]);
        CALL(ioctl(q[0], FIONBIO, &off));
        read_one("FIONBIO off", q[0], q[1]);
    }
    say("done");
    return 0;
}
