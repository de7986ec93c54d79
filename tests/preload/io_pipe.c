/* Pipes: pipe/pipe2, read/write/readv/writev, EOF, EPIPE, EAGAIN, EBADF, O_NONBLOCK as
 * the program sees it (fcntl, FIONBIO, shared through dup), the dup family and the fd
 * numbers it returns, and two really blocking transfers through a cksum child. */
#include "transcript.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char big[1 << 20];


int main(void)
{
    char buf[256];
    int p[2], q[2], r[2];
    long n;

    REQUIRE(signal(SIGPIPE, SIG_IGN) != SIG_ERR);

    say("== pipe, write, read");
    CALL(pipe(p));
    say("fds %d %d", p[0], p[1]);
    show_fl("p[0]", p[0]);
    show_fl("p[1]", p[1]);
    show_fd("p[0]", p[0]);
    CALL(write(p[1], "hello", 5));
    n = CALL(read(p[0], buf, dyn(sizeof buf)));
    show_bytes("read", buf, n);

    say("== writev, readv");
    {
        struct iovec out[3] = {
            {.iov_base = "one,", .iov_len = 4},
            {.iov_base = "two,", .iov_len = 4},
            {.iov_base = "three", .iov_len = 5},
        };
        char a[2], b[3], c[100];
        struct iovec in[3] = {
            {.iov_base = a, .iov_len = sizeof a},
            {.iov_base = b, .iov_len = sizeof b},
            {.iov_base = c, .iov_len = sizeof c},
        };
        CALL(writev(p[1], out, 3));
        n = CALL(readv(p[0], in, 3));
        show_bytes("iov0", a, 2);
        show_bytes("iov1", b, 3);
        show_bytes("iov2", c, n - 5);
    }

    say("== 64 KiB in one write, read back");
    for (size_t i = 0; i < 65536; i++)
        big[i] = (char)(i * 7 + i / 251);
    CALL(write(p[1], big, 65536));
    {
        static char back[65536];
        long total = 0;
        while (total < 65536) {
            long k = read(p[0], back + total, dyn(sizeof back - (size_t)total));
            if (k <= 0) {
                say("read failed: %ld %s", k, errno_name(errno));
                break;
            }
            total += k;
        }
        say("read total %ld, same bytes: %s", total, yesno(memcmp(big, back, 65536) == 0));
        show_bytes("back", back, total);
    }

    say("== pipe2 flags");
    CALL(pipe2(q, O_NONBLOCK));
    say("fds %d %d", q[0], q[1]);
    show_fl("q[0]", q[0]);
    show_fl("q[1]", q[1]);
    show_fd("q[0]", q[0]);
    CALL(read(q[0], buf, dyn(sizeof buf)));
    CALL(pipe2(r, O_CLOEXEC));
    say("fds %d %d", r[0], r[1]);
    show_fl("r[0]", r[0]);
    show_fd("r[0]", r[0]);
    show_fd("r[1]", r[1]);

    say("== O_NONBLOCK through F_SETFL and FIONBIO, shared with a dup");
    int d = CALL(dup(r[0]));
    CALL(fcntl(r[0], F_SETFL, fcntl(r[0], F_GETFL) | O_NONBLOCK));
    show_fl("r[0]", r[0]);
    show_fl("dup", d);
    CALL(read(d, buf, dyn(sizeof buf)));
    CALL(fcntl(d, F_SETFL, fcntl(d, F_GETFL) & ~O_NONBLOCK));
    show_fl("r[0]", r[0]);
    {
        int on = 1, off = 0;
        CALL(ioctl(r[0], FIONBIO, &on));
        show_fl("r[0]", r[0]);
        show_fl("dup", d);
        CALL(read(r[0], buf, dyn(sizeof buf)));
        CALL(ioctl(r[0], FIONBIO, &off));
        show_fl("r[0]", r[0]);
    }
    CALL(write(r[1], "via dup", 7));
    n = CALL(read(d, buf, dyn(sizeof buf)));
    show_bytes("read", buf, n);

    say("== dup family");
    int d2 = CALL(dup2(r[1], 30));
    show_fd("30", d2);
    int d3 = CALL(dup3(r[1], 31, O_CLOEXEC));
    show_fd("31", d3);
    int d4 = CALL(fcntl(r[1], F_DUPFD, 40));
    show_fd("F_DUPFD", d4);
    int d5 = CALL(fcntl(r[1], F_DUPFD_CLOEXEC, 40));
    show_fd("F_DUPFD_CLOEXEC", d5);
    CALL(fcntl(d5, F_SETFD, 0));
    show_fd("F_DUPFD_CLOEXEC after F_SETFD 0", d5);
    CALL(dup3(r[1], r[1], 0));
    CALL(dup2(r[1], r[1]));
    CALL(write(d2, "a", 1));
    CALL(write(d3, "b", 1));
    CALL(write(d4, "c", 1));
    CALL(write(d5, "d", 1));
    n = CALL(read(r[0], buf, dyn(sizeof buf)));
    show_bytes("read", buf, n);

    say("== dup2 onto an fd that was read from");
    /* q[0] was used for a read above; replace it with p[0] and read p's data through it. */
    CALL(write(p[1], "from p", 6));
    CALL(dup2(p[0], q[0]));
    show_fl("q[0] now p[0]", q[0]);
    n = CALL(read(q[0], buf, dyn(sizeof buf)));
    show_bytes("read", buf, n);

    say("== EOF, EPIPE, EBADF");
    CALL(close(d2));
    CALL(close(d3));
    CALL(close(d4));
    CALL(close(d5));
    CALL(close(r[1]));
    CALL(read(r[0], buf, dyn(sizeof buf)));
    CALL(read(d, buf, dyn(sizeof buf)));
    CALL(close(d));
    CALL(close(q[0]));
    CALL(write(q[1], "x", 1));
    CALL(read(-1, buf, dyn(sizeof buf)));
    CALL(close(r[0]));
    CALL(read(r[0], buf, dyn(sizeof buf)));
    CALL(write(r[0], "x", 1));
    CALL(write(p[0], "x", 1));
    CALL(read(p[1], buf, dyn(sizeof buf)));
    CALL(close(q[1]));

    say("== 1 MiB through a cksum child (blocking write and blocking read)");
    {
        int in[2], out[2];
        pid_t pid;
        posix_spawn_file_actions_t fa;
        /* The child sleeps first, so the 1 MiB write must wait for the pipe to drain
         * whatever the scheduling: a sure park under the library. */
        char *argv[] = {"sh", "-c", "sleep 0.2; exec cksum", NULL};
        REQUIRE(pipe2(in, O_CLOEXEC) == 0);
        REQUIRE(pipe2(out, O_CLOEXEC) == 0);
        REQUIRE(posix_spawn_file_actions_init(&fa) == 0);
        REQUIRE(posix_spawn_file_actions_adddup2(&fa, in[0], 0) == 0);
        REQUIRE(posix_spawn_file_actions_adddup2(&fa, out[1], 1) == 0);
        REQUIRE(posix_spawnp(&pid, "sh", &fa, NULL, argv, child_env()) == 0);
        posix_spawn_file_actions_destroy(&fa);
        close(in[0]);
        close(out[1]);
        for (size_t i = 0; i < sizeof big; i++)
            big[i] = (char)(i * 13 + i / 4093);
        show_bytes("sending", big, sizeof big);
        CALL(write(in[1], big, sizeof big));
        CALL(close(in[1]));
        long total = 0;
        char sum[256];
        for (;;) {
            long k = read(out[0], sum + total, dyn(sizeof sum - 1 - (size_t)total));
            if (k < 0) {
                say("read failed: %s", errno_name(errno));
                break;
            }
            if (k == 0)
                break;
            total += k;
        }
        sum[total] = 0;
        say("cksum says: %.*s", (int)strcspn(sum, "\n"), sum);
        CALL(close(out[0]));
        int st = 0;
        CALL(waitpid(pid, &st, 0) == pid);
        say("cksum exit: %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }

    CALL(close(p[0]));
    CALL(close(p[1]));
    say("done");
    return 0;
}
