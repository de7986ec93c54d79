/* A vfork child runs on its parent's memory: what it does to its own fds (its copies) must not
 * change what the parent's threads see. A thread blocked in recv on a socket keeps waiting and
 * gets its data while another thread vforks children that close_range everything above 2,
 * close the socket, dup2 over it, fcntl and dup it, make sockets, pipes and epoll sets, and
 * _exit (CPython's subprocess does the close_range part). Natively the recv returns the bytes;
 * a runtime whose bookkeeping ran in the child woke it with EBADF, or lost its registration (the
 * child's epoll_ctl acts on the epoll set it shares with its parent). */
#include "transcript.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int close_range(unsigned int first, unsigned int last, int flags);

static int sv[2];
static int ready_pipe[2];
static char got[64];
static long got_n;
static int got_errno;

static void *receiver(void *arg)
{
    (void)arg;
    if (write(ready_pipe[1], "r", 1) < 0)
        abort();  /* the transcript would not show why */
    errno = 0;
    got_n = recv(sv[0], got, sizeof got, 0);
    got_errno = errno;
    return NULL;
}

/* One child: what it does with the fds is chosen by `how`. */
static int child_round(int how)
{
    pid_t pid = vfork();
    if (pid == 0) {
        switch (how) {
        case 0: close_range(3, ~0U, 0); break;
        case 1: close(sv[0]); close(sv[1]); break;
        case 2: dup2(ready_pipe[0], sv[0]); break;
        case 3: {
            int d = fcntl(sv[0], F_DUPFD, 0);
            int e = dup(sv[0]);
            close(d);
            close(e);
            int s = socket(AF_UNIX, SOCK_STREAM, 0);
            dup3(s, sv[0], O_CLOEXEC);
            int p[2];
            if (pipe(p) < 0)
                abort();  /* the transcript would not show why */
            int ep = epoll_create1(0);
            close(ep);
            close(sv[0]);
            break;
        }
        }
        _exit(how);
    }
    if (pid < 0)
        return -1;
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

int main(void)
{
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    REQUIRE(pipe(ready_pipe) == 0);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, receiver, NULL) == 0);
    char c;
    REQUIRE(read(ready_pipe[0], &c, 1) == 1);
    usleep(20000); /* the receiver is inside recv */
    const char *names[] = {"close_range(3, ~0U, 0)", "close both ends", "dup2 over the socket",
                           "fcntl, dup, socket, dup3, pipe, epoll_create1, close"};
    for (int round = 0; round < 3; ++round)
        for (int how = 0; how < 4; ++how)
            if (round == 0)
                say("vfork child: %s -> exit %d", names[how], child_round(how));
            else
                REQUIRE(child_round(how) == how);
    usleep(20000);
    say("receiver still waiting: %s", yesno(got_n == 0 && got_errno == 0));
    CALL(send(sv[1], "after the children", 18, 0));
    REQUIRE(pthread_join(th, NULL) == 0);
    show_result("receiver's recv", got_n, got_errno);
    show_bytes("received", got, got_n);
    /* The parent's fds still work in this thread too. */
    CALL(send(sv[0], "back", 4, 0));
    long n = CALL(recv(sv[1], got, dyn(sizeof got), 0));
    show_bytes("recv", got, n);
    CALL(write(ready_pipe[1], "p", 1));
    n = CALL(read(ready_pipe[0], got, dyn(sizeof got)));
    show_bytes("read", got, n);
    return 0;
}
