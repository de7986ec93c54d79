/* poll, __poll, ppoll (and, fortified, __poll_chk and __ppoll_chk): timeouts and sleeps, data
 * that arrives later from a child process, negative fds, POLLNVAL, duplicate fds, hang-ups with
 * events = 0, POLLOUT on a full pipe, POLLPRI on urgent TCP data, files that are always ready,
 * EINTR (even with SA_RESTART), and ppoll's signal mask: a pending signal the mask unblocks
 * interrupts at once, one arriving during the wait interrupts it, one the mask blocks waits
 * until the call returns. No threads. */
#include "transcript.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

extern int __poll(struct pollfd *fds, nfds_t nfds, int timeout);

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

/* sh -c SCRIPT with stdout on fd out (and its stdin on fd in, if in >= 0). */
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

static const char *revents_text(short r)
{
    static char buf[128];
    buf[0] = 0;
    if (!r)
        return "0";
    static const struct {
        short bit;
        const char *name;
    } names[] = {{POLLIN, "POLLIN"},     {POLLPRI, "POLLPRI"},   {POLLOUT, "POLLOUT"},
                 {POLLERR, "POLLERR"},   {POLLHUP, "POLLHUP"},   {POLLNVAL, "POLLNVAL"},
                 {POLLRDNORM, "RDNORM"}, {POLLWRNORM, "WRNORM"}, {POLLRDHUP, "POLLRDHUP"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (r & names[i].bit) {
            if (buf[0])
                strcat(buf, "|");
            strcat(buf, names[i].name);
        }
    return buf;
}

static void show_revents(struct pollfd *fds, int n)
{
    for (int i = 0; i < n; i++)
        say("  fds[%d].revents = %s", i, revents_text(fds[i].revents));
}

/* A loopback TCP pair; the listener is closed again. */
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
    struct pollfd fds[4];

    REQUIRE(signal(SIGPIPE, SIG_IGN) != SIG_ERR);

    say("== poll(NULL, 0, t) is a sleep");
    t0 = mono_now();
    CALL(poll(NULL, 0, 50));
    say("  slept: %s", yesno(mono_now() - t0 >= 0.045));
    t0 = mono_now();
    CALL(__poll(NULL, 0, 30));
    say("  slept: %s", yesno(mono_now() - t0 >= 0.025));
    struct timespec ts = {0, 40 * 1000 * 1000};
    t0 = mono_now();
    CALL(ppoll(NULL, 0, &ts, NULL));
    say("  slept: %s, timeout left alone: %s", yesno(mono_now() - t0 >= 0.035),
        yesno(ts.tv_sec == 0 && ts.tv_nsec == 40 * 1000 * 1000));

    say("== timeouts, zero timeouts and data that comes later");
    {
        int p[2];
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        fds[0] = (struct pollfd){.fd = p[0], .events = POLLIN};
        CALL(poll(fds, dyn(1), 0));
        t0 = mono_now();
        CALL(poll(fds, dyn(1), 60));
        say("  waited for the timeout: %s", yesno(mono_now() - t0 >= 0.055));
        pid_t pid = spawn_sh("sleep 0.2; printf later", p[1], -1);
        t0 = mono_now();
        CALL(poll(fds, dyn(1), -1));
        show_revents(fds, 1);
        say("  waited for the data: %s", yesno(mono_now() - t0 >= 0.1));
        reap(pid);
        long n = CALL(read(p[0], buf, sizeof buf));
        show_bytes("read", buf, n);

        say("-- several fds, the event on the last one; a negative fd is ignored");
        int q[2];
        REQUIRE(pipe2(q, O_CLOEXEC) == 0);
        fds[0] = (struct pollfd){.fd = p[0], .events = POLLIN};
        fds[1] = (struct pollfd){.fd = -1, .events = POLLIN};
        fds[2] = (struct pollfd){.fd = q[0], .events = POLLIN | POLLPRI};
        pid = spawn_sh("sleep 0.1; printf q", q[1], -1);
        CALL(poll(fds, dyn(3), 5000));
        show_revents(fds, 3);
        reap(pid);
        REQUIRE(read(q[0], buf, sizeof buf) == 1);

        say("-- the same fd twice");
        fds[0] = (struct pollfd){.fd = q[0], .events = POLLIN};
        fds[1] = (struct pollfd){.fd = q[0], .events = POLLIN | POLLOUT};
        pid = spawn_sh("sleep 0.1; printf z", q[1], -1);
        CALL(poll(fds, dyn(2), 5000));
        show_revents(fds, 2);
        reap(pid);
        REQUIRE(read(q[0], buf, sizeof buf) == 1);

        say("-- events = 0 still reports a hang-up");
        fds[0] = (struct pollfd){.fd = q[0], .events = 0};
        pid = spawn_sh("sleep 0.1", q[1], -1);
        close(q[1]);
        CALL(poll(fds, dyn(1), 5000));
        show_revents(fds, 1);
        reap(pid);
        close(q[0]);

        say("-- only negative fds: a sleep");
        fds[0] = (struct pollfd){.fd = -5, .events = POLLIN};
        t0 = mono_now();
        CALL(poll(fds, dyn(1), 30));
        show_revents(fds, 1);
        say("  slept: %s", yesno(mono_now() - t0 >= 0.025));
        close(p[0]);
        close(p[1]);
    }

    say("== POLLNVAL, files, errors");
    {
        int p[2];
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        int closed = p[1];
        close(closed);
        fds[0] = (struct pollfd){.fd = p[0], .events = POLLIN};
        fds[1] = (struct pollfd){.fd = closed, .events = POLLIN};
        CALL(poll(fds, dyn(2), -1));
        show_revents(fds, 2);
        close(p[0]);

        int file = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        REQUIRE(file >= 0 && null_fd >= 0);
        fds[0] = (struct pollfd){.fd = file, .events = POLLIN | POLLOUT};
        fds[1] = (struct pollfd){.fd = null_fd, .events = POLLIN};
        CALL(poll(fds, dyn(2), -1));
        show_revents(fds, 2);
        say("-- a file asked only for POLLPRI is never ready");
        fds[0] = (struct pollfd){.fd = file, .events = POLLPRI};
        t0 = mono_now();
        CALL(poll(fds, dyn(1), 30));
        say("  waited for the timeout: %s", yesno(mono_now() - t0 >= 0.025));
        close(file);
        close(null_fd);

        CALL(poll(NULL, dyn(1), 10));
        /* More fds than RLIMIT_NOFILE: EINVAL (in a real array, for sanitizers that read it). */
        struct rlimit lim;
        REQUIRE(getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < 1000000);
        nfds_t too_many = (nfds_t)lim.rlim_cur + 1;
        struct pollfd *many = calloc(too_many, sizeof *many);
        REQUIRE(many != NULL);
        for (nfds_t i = 0; i < too_many; i++)
            many[i].fd = -1;
        CALL(poll(many, too_many, 10));
        free(many);
        struct timespec bad = {0, 1000000000L};
        CALL(ppoll(fds, dyn(1), &bad, NULL));
    }

    say("== POLLOUT once a full pipe is drained");
    {
        int p[2];
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        REQUIRE(fcntl(p[1], F_SETFL, O_NONBLOCK) == 0);  /* the write end only: to fill it */
        static char chunk[4096];
        while (write(p[1], chunk, sizeof chunk) > 0)
            ;
        fds[0] = (struct pollfd){.fd = p[1], .events = POLLOUT};
        CALL(poll(fds, dyn(1), 0));
        int sink = open("/dev/null", O_WRONLY | O_CLOEXEC);
        REQUIRE(sink >= 0);
        pid_t pid = spawn_sh("sleep 0.1; cat >/dev/null", sink, p[0]);
        close(p[0]);
        CALL(poll(fds, dyn(1), 5000));
        show_revents(fds, 1);
        close(p[1]);
        reap(pid);
        close(sink);
    }

    say("== POLLPRI: urgent data on a TCP connection");
    {
        int c, s;
        tcp_pair(&c, &s);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            struct timespec d = {0, 100 * 1000 * 1000};
            nanosleep(&d, NULL);
            _exit(send(c, "!", 1, MSG_OOB) == 1 ? 0 : 1);
        }
        fds[0] = (struct pollfd){.fd = s, .events = POLLPRI};
        CALL(poll(fds, dyn(1), 5000));
        show_revents(fds, 1);
        reap(pid);
        close(c);
        close(s);
    }

    say("== a signal handler interrupts poll, SA_RESTART or not");
    {
        int p[2];
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        fds[0] = (struct pollfd){.fd = p[0], .events = POLLIN};
        install_handler(SIGALRM, on_signal, 0);
        arm_ms(50);
        CALL(poll(fds, dyn(1), -1));
        say("  handler ran: %d", (int)hits);
        install_handler(SIGALRM, on_signal, SA_RESTART);
        arm_ms(50);
        CALL(poll(fds, dyn(1), 5000));
        say("  handler ran: %d", (int)hits);
        arm_ms(50);
        CALL(ppoll(fds, dyn(1), NULL, NULL));
        say("  handler ran: %d", (int)hits);
        arm_ms(50);
        CALL(poll(NULL, 0, -1));
        say("  handler ran: %d", (int)hits);
        close(p[0]);
        close(p[1]);
    }

    say("== ppoll's signal mask");
    {
        int p[2];
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        fds[0] = (struct pollfd){.fd = p[0], .events = POLLIN};
        install_handler(SIGUSR1, on_signal, SA_RESTART);
        sigset_t usr1, none, with_alrm;
        sigemptyset(&none);
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        sigemptyset(&with_alrm);
        sigaddset(&with_alrm, SIGALRM);
        REQUIRE(sigprocmask(SIG_BLOCK, &usr1, NULL) == 0);

        say("-- pending and blocked before the call, unblocked by the mask: EINTR at once");
        hits = 0;
        raise(SIGUSR1);
        say("  handler ran before: %d", (int)hits);
        struct timespec long_wait = {5, 0};
        t0 = mono_now();
        CALL(ppoll(fds, dyn(1), &long_wait, &none));
        say("  handler ran: %d, at once: %s", (int)hits, yesno(mono_now() - t0 < 2.0));

        say("-- arriving during the wait, unblocked by the mask: EINTR");
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
        t0 = mono_now();
        CALL(ppoll(fds, dyn(1), &long_wait, &none));
        say("  handler ran: %d, early: %s", (int)hits, yesno(mono_now() - t0 < 2.0));
        reap(pid);
        sigset_t now;
        REQUIRE(sigprocmask(SIG_SETMASK, NULL, &now) == 0);
        say("  SIGUSR1 blocked again after the call: %s", yesno(sigismember(&now, SIGUSR1)));

        say("-- blocked by the mask: the wait goes on, the handler runs after the call");
        hits = 0;
        install_handler(SIGALRM, on_signal, 0);
        arm_ms(30);
        struct timespec short_wait = {0, 150 * 1000 * 1000};
        t0 = mono_now();
        CALL(ppoll(fds, dyn(1), &short_wait, &with_alrm));
        say("  handler ran: %d, waited the whole timeout: %s", (int)hits,
            yesno(mono_now() - t0 >= 0.14));

        say("-- data during a masked wait");
        pid = spawn_sh("sleep 0.1; printf m", p[1], -1);
        CALL(ppoll(fds, dyn(1), &long_wait, &none));
        show_revents(fds, 1);
        reap(pid);
        REQUIRE(sigprocmask(SIG_UNBLOCK, &usr1, NULL) == 0);
        close(p[0]);
        close(p[1]);
    }
    say("done");
    return 0;
}
