/* select, __select and pselect: select(0, ...) as a sleep, data that arrives later, the
 * timeval Linux writes back (time not slept, microseconds normalised as glibc does), sets
 * cleared at a timeout and left alone on EINTR, EBADF, EINVAL, write and exception sets, the
 * same fd in several sets, fds at FD_SETSIZE - 1 and beyond FD_SETSIZE with larger sets, and
 * pselect's signal mask. No threads. */
#include "transcript.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

extern int __select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *timeout);

static volatile sig_atomic_t hits;

static void on_signal(int sig)
{
    (void)sig;
    hits++;
}

static void arm_ms(long ms)
{
    struct itimerval it = {.it_interval = {0, 0}, .it_value = {ms / 1000, (ms % 1000) * 1000}};
    REQUIRE(setitimer(ITIMER_REAL, &it, NULL) == 0);
}

static pid_t spawn_sh(const char *script, int out, int in)
{
    pid_t pid;
    posix_spawn_file_actions_t fa;
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    REQUIRE(posix_spawn_file_actions_init(&fa) == 0);
    REQUIRE(posix_spawn_file_actions_adddup2(&fa, out, 1) == 0);
    if (in >= 0)
        REQUIRE(posix_spawn_file_actions_adddup2(&fa, in, 0) == 0);
    REQUIRE(posix_spawnp(&pid, "sh", &fa, NULL, argv, child_env()) == 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static void reap(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
        ;
    say("  child exit: %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* The fds set in s below nfds, as "{3, 5}". */
static void show_set(const char *label, const fd_set *s, int nfds)
{
    printf("  %s = {", label);
    int first = 1;
    for (int fd = 0; fd < nfds; fd++)
        if (s && (((const unsigned long *)s)[fd / (8 * sizeof(long))] >>
                  (fd % (8 * sizeof(long))) & 1)) {
            printf(first ? "%d" : ", %d", fd);
            first = 0;
        }
    printf("}\n");
    fflush(stdout);
}

/* Sets with room for `bits` fds, as programs allocate beyond FD_SETSIZE. */
static fd_set *big_set(size_t bits)
{
    fd_set *s = calloc(1, (bits + 8 * sizeof(long) - 1) / 8);
    REQUIRE(s != NULL);
    return s;
}

static void big_set_add(fd_set *s, int fd)
{
    ((unsigned long *)s)[fd / (8 * sizeof(long))] |= 1ul << (fd % (8 * sizeof(long)));
}

static void tcp_pair(int *client, int *server)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(l >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    REQUIRE(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
    REQUIRE(listen(l, 1) == 0);
    REQUIRE(getsockname(l, (struct sockaddr *)&a, &len) == 0);
    *client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(*client >= 0);
    REQUIRE(connect(*client, (struct sockaddr *)&a, sizeof a) == 0);
    *server = accept(l, NULL, NULL);
    REQUIRE(*server >= 0);
    close(l);
}

int main(void)
{
    char buf[64];
    double t0;
    fd_set r, w, e;
    struct timeval tv;

    REQUIRE(signal(SIGPIPE, SIG_IGN) != SIG_ERR);

    say("== select(0, ...) is a sleep, and the timeval is written back");
    tv = (struct timeval){0, 50000};
    t0 = mono_now();
    CALL(select(0, NULL, NULL, NULL, &tv));
    say("  slept: %s, tv = %ld.%06ld", yesno(mono_now() - t0 >= 0.045), (long)tv.tv_sec,
        (long)tv.tv_usec);
    tv = (struct timeval){0, 30000};
    CALL(__select(0, NULL, NULL, NULL, &tv));
    say("  tv = %ld.%06ld", (long)tv.tv_sec, (long)tv.tv_usec);
    struct timespec ts = {0, 30 * 1000 * 1000};
    t0 = mono_now();
    CALL(pselect(0, NULL, NULL, NULL, &ts, NULL));
    say("  slept: %s, timeout left alone: %s", yesno(mono_now() - t0 >= 0.025),
        yesno(ts.tv_nsec == 30 * 1000 * 1000));

    say("== a timeout clears the sets; data that comes later");
    {
        int p[2], q[2];
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        REQUIRE(pipe2(q, O_CLOEXEC) == 0);
        int nfds = (p[0] > q[0] ? p[0] : q[0]) + 1;
        FD_ZERO(&r);
        FD_SET(p[0], &r);
        FD_SET(q[0], &r);
        tv = (struct timeval){0, 40000};
        CALL(select(nfds, &r, NULL, NULL, &tv));
        show_set("r", &r, nfds);
        say("  tv = %ld.%06ld", (long)tv.tv_sec, (long)tv.tv_usec);

        FD_ZERO(&r);
        FD_SET(p[0], &r);
        FD_SET(q[0], &r);
        pid_t pid = spawn_sh("sleep 0.2; printf later", q[1], -1);
        /* 2 s + 1,900,000 µs: glibc carries the extra second over before the call. */
        tv = (struct timeval){2, 1900000};
        CALL(select(nfds, &r, NULL, NULL, &tv));
        show_set("r", &r, nfds);
        say("  seconds left: %ld, microseconds in range: %s", (long)tv.tv_sec,
            yesno(tv.tv_usec >= 0 && tv.tv_usec < 1000000));
        reap(pid);
        REQUIRE(read(q[0], buf, sizeof buf) == 5);

        say("-- no timeout at all; the same fd in the read and write sets");
        FD_ZERO(&r);
        FD_ZERO(&w);
        FD_SET(p[0], &r);
        FD_SET(p[0], &w); /* a read end is never writable */
        pid = spawn_sh("sleep 0.1; printf x", p[1], -1);
        CALL(select(p[0] + 1, &r, &w, NULL, NULL));
        show_set("r", &r, p[0] + 1);
        show_set("w", &w, p[0] + 1);
        reap(pid);
        REQUIRE(read(p[0], buf, sizeof buf) == 1);
        close(q[0]);
        close(q[1]);

        say("== errors");
        int closed = q[0];
        FD_ZERO(&r);
        FD_SET(closed, &r);
        tv = (struct timeval){1, 0};
        CALL(select(closed + 1, &r, NULL, NULL, &tv));
        say("  tv written back: %s", yesno(tv.tv_sec == 0 || tv.tv_sec == 1));
        tv = (struct timeval){-1, 0};
        CALL(select(1, NULL, NULL, NULL, &tv));
        tv = (struct timeval){0, -1};
        CALL(select(1, NULL, NULL, NULL, &tv));
        tv = (struct timeval){0, 1000};
        CALL(select(-1, NULL, NULL, NULL, &tv));
        ts = (struct timespec){0, 1000000000L};
        CALL(pselect(1, NULL, NULL, NULL, &ts, NULL));

        say("== EINTR leaves the sets as they were, SA_RESTART or not");
        install_handler(SIGALRM, on_signal, SA_RESTART);
        FD_ZERO(&r);
        FD_SET(p[0], &r);
        tv = (struct timeval){5, 0};
        arm_ms(50);
        CALL(select(p[0] + 1, &r, NULL, NULL, &tv));
        show_set("r", &r, p[0] + 1);
        say("  handler ran: %d, tv written back: %s", (int)hits, yesno(tv.tv_sec < 5));
        arm_ms(50);
        CALL(select(0, NULL, NULL, NULL, NULL));
        say("  handler ran: %d", (int)hits);
        close(p[0]);
        close(p[1]);
    }

    say("== write and exception sets");
    {
        int p[2];
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        REQUIRE(fcntl(p[1], F_SETFL, O_NONBLOCK) == 0);
        static char chunk[4096];
        while (write(p[1], chunk, sizeof chunk) > 0)
            ;
        int sink = open("/dev/null", O_WRONLY | O_CLOEXEC);
        REQUIRE(sink >= 0);
        FD_ZERO(&w);
        FD_SET(p[1], &w);
        pid_t pid = spawn_sh("sleep 0.1; cat >/dev/null", sink, p[0]);
        close(p[0]);
        CALL(select(p[1] + 1, NULL, &w, NULL, NULL));
        show_set("w", &w, p[1] + 1);
        close(p[1]);
        reap(pid);
        close(sink);

        int c, s;
        tcp_pair(&c, &s);
        pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            struct timespec d = {0, 100 * 1000 * 1000};
            nanosleep(&d, NULL);
            _exit(send(c, "!", 1, MSG_OOB) == 1 ? 0 : 1);
        }
        FD_ZERO(&e);
        FD_SET(s, &e);
        CALL(select(s + 1, NULL, NULL, &e, NULL));
        say("  urgent data flagged: %s", yesno(FD_ISSET(s, &e)));
        reap(pid);
        close(c);
        close(s);
    }

    say("== the edge of FD_SETSIZE and beyond");
    {
        int p[2];
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        int top = FD_SETSIZE - 1;
        REQUIRE(dup2(p[0], top) == top);
        FD_ZERO(&r);
        FD_SET(top, &r);
        pid_t pid = spawn_sh("sleep 0.1; printf a", p[1], -1);
        CALL(select(FD_SETSIZE, &r, NULL, NULL, NULL));
        say("  fd FD_SETSIZE - 1 readable: %s", yesno(FD_ISSET(top, &r)));
        reap(pid);
        REQUIRE(read(top, buf, sizeof buf) == 1);
        close(top);

        struct rlimit lim;
        REQUIRE(getrlimit(RLIMIT_NOFILE, &lim) == 0);
        if (lim.rlim_cur < 1600 && lim.rlim_max >= 1600) {
            lim.rlim_cur = 1600;
            REQUIRE(setrlimit(RLIMIT_NOFILE, &lim) == 0);
        }
        REQUIRE(lim.rlim_cur >= 1600);
        int far = 1500;
        REQUIRE(dup2(p[0], far) == far);
        /* Room for 8192 fds: the kernel reads as many bits as the fd table has slots, and the
         * library's own fds (from 3968 up) make that table 4096 slots. */
        fd_set *big = big_set(8192);
        big_set_add(big, far);
        pid = spawn_sh("sleep 0.1; printf b", p[1], -1);
        tv = (struct timeval){5, 0};
        CALL(select(far + 1, big, NULL, NULL, &tv));
        show_set("big", big, 2048);
        reap(pid);
        REQUIRE(read(far, buf, sizeof buf) == 1);
        /* nfds larger than the process's fd table: the kernel reads only the table's size. */
        memset(big, 0, 8192 / 8);
        big_set_add(big, far);
        pid = spawn_sh("sleep 0.1; printf c", p[1], -1);
        CALL(select(1 << 20, big, NULL, NULL, NULL));
        show_set("big", big, 2048);
        reap(pid);
        free(big);
        close(far);
        close(p[0]);
        close(p[1]);
    }

    say("== pselect's signal mask");
    {
        int p[2];
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        install_handler(SIGUSR1, on_signal, 0);
        sigset_t usr1, none, with_alrm;
        sigemptyset(&none);
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        sigemptyset(&with_alrm);
        sigaddset(&with_alrm, SIGALRM);
        REQUIRE(sigprocmask(SIG_BLOCK, &usr1, NULL) == 0);
        struct timespec long_wait = {5, 0};

        hits = 0;
        raise(SIGUSR1);
        FD_ZERO(&r);
        FD_SET(p[0], &r);
        CALL(pselect(p[0] + 1, &r, NULL, NULL, &long_wait, &none));
        say("  handler ran: %d", (int)hits);

        hits = 0;
        pid_t parent = getpid();
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            struct timespec d = {0, 100 * 1000 * 1000};
            nanosleep(&d, NULL);
            kill(parent, SIGUSR1);
            _exit(0);
        }
        FD_ZERO(&r);
        FD_SET(p[0], &r);
        t0 = mono_now();
        CALL(pselect(p[0] + 1, &r, NULL, NULL, &long_wait, &none));
        say("  handler ran: %d, early: %s", (int)hits, yesno(mono_now() - t0 < 2.0));
        reap(pid);

        hits = 0;
        install_handler(SIGALRM, on_signal, 0);
        arm_ms(30);
        struct timespec short_wait = {0, 150 * 1000 * 1000};
        FD_ZERO(&r);
        FD_SET(p[0], &r);
        CALL(pselect(p[0] + 1, &r, NULL, NULL, &short_wait, &with_alrm));
        say("  handler ran: %d (after the call)", (int)hits);
        REQUIRE(sigprocmask(SIG_UNBLOCK, &usr1, NULL) == 0);
        close(p[0]);
        close(p[1]);
    }
    say("done");
    return 0;
}
