/* Signal handlers that call hooked functions while the code they interrupt is inside the same
 * functions: SIGALRM from an interval timer (every 100 us) writes a byte to a self-pipe (the
 * trick asyncio's set_wakeup_fd uses), re-arms itself with signal() and looks at the pipe's
 * flags; SIGUSR2, sent in bursts by a child process, writes and sleeps 20 us in the handler.
 * Meanwhile the main flow hammers the same calls: writes to and reads from the self-pipe, makes
 * and closes fds, dup2s, and sets a disposition with sigaction, in a bounded loop. Natively
 * every handler runs to completion; a runtime whose hooks take, inside a handler, a lock the
 * interrupted code holds (an fd slot, the disposition table) spins for ever, and one that parks
 * from a handler runs other green threads inside it. The loop's counts are the same in every
 * run; how many signals arrived is not, so only "some did" is printed. */
#include "transcript.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static int self_pipe[2];
static volatile sig_atomic_t alarms, usr2s, handler_errors;

static void on_alarm(int sig)
{
    int saved = errno;
    alarms++;
    if (write(self_pipe[1], "a", 1) != 1 && errno != EAGAIN)
        handler_errors++;
    if (signal(sig, on_alarm) == SIG_ERR)
        handler_errors++;
    if (fcntl(self_pipe[1], F_GETFL) < 0)
        handler_errors++;
    errno = saved;
}

static void on_usr2(int sig)
{
    (void)sig;
    int saved = errno;
    usr2s++;
    if (write(self_pipe[1], "u", 1) != 1 && errno != EAGAIN)
        handler_errors++;
    struct timespec ts = {0, 20000};
    if (nanosleep(&ts, NULL) != 0 && errno != EINTR)
        handler_errors++;
    errno = saved;
}

static void on_usr1(int sig) { (void)sig; }

static int late_pipe[2];

/* A green thread parked in read for the whole loop, woken at the end. */
static void *parked_reader(void *arg)
{
    (void)arg;
    char c;
    long n = read(late_pipe[0], &c, 1);
    return (void *)n;
}

int main(void)
{
    REQUIRE(pipe(self_pipe) == 0);
    REQUIRE(fcntl(self_pipe[1], F_SETFL, O_NONBLOCK) == 0);
    REQUIRE(fcntl(self_pipe[0], F_SETFL, O_NONBLOCK) == 0);
    REQUIRE(pipe(late_pipe) == 0);
    pthread_t reader;
    REQUIRE(pthread_create(&reader, NULL, parked_reader, NULL) == 0);

    REQUIRE(signal(SIGALRM, on_alarm) != SIG_ERR);
    struct sigaction sa = {0};
    sa.sa_handler = on_usr2;
    sa.sa_flags = SA_RESTART;
    REQUIRE(sigaction(SIGUSR2, &sa, NULL) == 0);

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Bursts of SIGUSR2 until the parent is gone or 2 s have passed. */
        for (int i = 0; i < 4000 && kill(parent, SIGUSR2) == 0; ++i)
            if (i % 20 == 19)
                usleep(1000);
        _exit(0);
    }
    REQUIRE(pid > 0);

    struct itimerval every = {{0, 100}, {0, 100}};
    REQUIRE(setitimer(ITIMER_REAL, &every, NULL) == 0);

    const int rounds = 20000;
    long drained = 0, made = 0, failures = 0;
    char buf[256];
    for (int i = 0; i < rounds; ++i) {
        if (write(self_pipe[1], "m", 1) != 1 && errno != EAGAIN)
            failures++;
        long n;
        while ((n = read(self_pipe[0], buf, sizeof buf)) > 0)
            drained += n;
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            failures++;
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
            made++;
            if (dup2(sv[0], sv[1]) < 0 || close(sv[0]) != 0 || close(sv[1]) != 0)
                failures++;
        } else {
            failures++;
        }
        struct sigaction usr1 = {0};
        usr1.sa_handler = (i & 1) ? on_usr1 : SIG_IGN;
        if (sigaction(SIGUSR1, &usr1, NULL) != 0)
            failures++;
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    REQUIRE(setitimer(ITIMER_REAL, &off, NULL) == 0);
    kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }

    say("rounds: %d, fd pairs made and closed: %ld, failures: %ld", rounds, made, failures);
    say("self-pipe bytes drained: %s", yesno(drained >= rounds));
    say("SIGALRM handler ran: %s", yesno(alarms > 0));
    say("SIGUSR2 handler ran: %s", yesno(usr2s > 0));
    say("errors inside handlers: %d", (int)handler_errors);
    struct sigaction now;
    REQUIRE(sigaction(SIGALRM, NULL, &now) == 0);
    say("SIGALRM disposition is the program's handler: %s", yesno(now.sa_handler == on_alarm));
    REQUIRE(sigaction(SIGUSR1, NULL, &now) == 0);
    say("SIGUSR1 disposition as last set: %s", yesno(now.sa_handler == on_usr1));
    CALL(write(late_pipe[1], "x", 1));
    void *r;
    REQUIRE(pthread_join(reader, &r) == 0);
    say("parked reader read: %ld", (long)r);
    return 0;
}
