/* Waiting for signals: sigwait, sigwaitinfo, sigtimedwait (timeout, EINTR, EINVAL, already
 * pending), pause, sigsuspend (a pending signal, the mask restored), sigpause, a blocking read
 * of a signalfd, and pthread_kill interrupting a thread blocked in read. The signals come from
 * child processes after a pause, so the waits really block. */
#include "transcript.h"

#include <pthread.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t handled[NSIG];
static void on_signal(int sig) { handled[sig]++; }

/* A child that sends `sig` (with value `value` via sigqueue) to its parent after `ms`. */
static pid_t send_later(int ms, int sig, int value)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        usleep((useconds_t)ms * 1000);
        union sigval v = {.sival_int = value};
        sigqueue(parent, sig, v);
        _exit(0);
    }
    return pid;
}

static void reap(pid_t pid)
{
    int status;
    REQUIRE(waitpid(pid, &status, 0) == pid);
}

static void block(int sig)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    REQUIRE(sigprocmask(SIG_BLOCK, &s, NULL) == 0);
}

static void show_blocked(int sig)
{
    sigset_t s;
    sigprocmask(SIG_BLOCK, NULL, &s);
    say("%s blocked: %s", sigabbrev_np(sig), yesno(sigismember(&s, sig)));
}

static int pipe_fds[2];
static void *reader(void *arg)
{
    (void)arg;
    char c;
    errno = 0;
    long r = read(pipe_fds[0], &c, dyn(1));
    return (void *)(r == -1 ? (long)errno : 1000 + r);
}

int main(void)
{
    sigset_t set;
    siginfo_t si;
    pid_t child;

    say("== sigwait");
    block(SIGUSR1);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    child = send_later(50, SIGUSR1, 1);
    int sig = 0;
    CALL_ERRNUM(sigwait(&set, &sig));
    say("got %s", sigabbrev_np(sig));
    reap(child);

    say("== sigwaitinfo with a queued value");
    block(SIGUSR2);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    child = send_later(50, SIGUSR2, 7);
    memset(&si, 0, sizeof si);
    CALL(sigwaitinfo(&set, &si) == SIGUSR2);
    say("si_signo %s, si_code %s, value %d, from the child: %s", sigabbrev_np(si.si_signo),
        si.si_code == SI_QUEUE ? "SI_QUEUE" : "?", si.si_value.sival_int,
        yesno(si.si_pid == child));
    reap(child);

    say("== sigtimedwait");
    {
        struct timespec ts = {0, 50 * 1000 * 1000};
        double t0 = mono_now();
        CALL(sigtimedwait(&set, &si, &ts));
        say("waited the timeout: %s", yesno(mono_now() - t0 >= 0.045));
        raise(SIGUSR2);
        CALL(sigtimedwait(&set, &si, &ts) == SIGUSR2);
        ts.tv_nsec = 1000000000L;
        CALL(sigtimedwait(&set, &si, &ts));
        ts.tv_sec = 0;
        ts.tv_nsec = 0;
        CALL(sigtimedwait(&set, &si, &ts));
        install_handler(SIGALRM, on_signal, SA_RESTART);
        ts.tv_sec = 5;
        child = send_later(50, SIGALRM, 0);
        CALL(sigtimedwait(&set, &si, &ts));
        say("SIGALRM handler ran: %d", (int)handled[SIGALRM]);
        reap(child);
    }

    say("== pause");
    install_handler(SIGHUP, on_signal, SA_RESTART);
    child = send_later(50, SIGHUP, 0);
    CALL(pause());
    say("SIGHUP handler ran: %d", (int)handled[SIGHUP]);
    reap(child);

    say("== sigsuspend");
    install_handler(SIGUSR1, on_signal, 0);
    raise(SIGUSR1); /* blocked: pending */
    sigemptyset(&set);
    CALL(sigsuspend(&set));
    say("SIGUSR1 handler ran: %d", (int)handled[SIGUSR1]);
    show_blocked(SIGUSR1);
    child = send_later(50, SIGUSR1, 0);
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    CALL(sigsuspend(&set));
    say("SIGUSR1 handler ran: %d", (int)handled[SIGUSR1]);
    show_blocked(SIGUSR1);
    show_blocked(SIGHUP);
    reap(child);

    say("== sigpause (XPG): unblocks one signal while it waits");
    child = send_later(50, SIGUSR1, 0);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    CALL(sigpause(SIGUSR1));
#pragma GCC diagnostic pop
    say("SIGUSR1 handler ran: %d", (int)handled[SIGUSR1]);
    show_blocked(SIGUSR1);
    reap(child);

    say("== a blocking read of a signalfd");
    {
        sigemptyset(&set);
        sigaddset(&set, SIGUSR2);
        int sfd = CALL(signalfd(-1, &set, SFD_CLOEXEC));
        show_fl("signalfd", sfd);
        child = send_later(50, SIGUSR2, 9);
        struct signalfd_siginfo ssi;
        CALL(read(sfd, &ssi, dyn(sizeof ssi)));
        say("ssi_signo %s, value %d", sigabbrev_np((int)ssi.ssi_signo), ssi.ssi_int);
        reap(child);
        CALL(close(sfd));
    }

    say("== pthread_kill interrupts a thread blocked in read");
    {
        install_handler(SIGURG, on_signal, 0);
        REQUIRE(pipe(pipe_fds) == 0);
        pthread_t t;
        REQUIRE(pthread_create(&t, NULL, reader, NULL) == 0);
        usleep(50000);
        show_rc("pthread_kill(t, SIGURG)", pthread_kill(t, SIGURG));
        void *result;
        pthread_join(t, &result);
        say("read in the thread: %s", (long)result == EINTR ? "EINTR" : "?");
        say("SIGURG handler ran: %d", (int)handled[SIGURG]);
        install_handler(SIGURG, on_signal, SA_RESTART);
        REQUIRE(pthread_create(&t, NULL, reader, NULL) == 0);
        usleep(50000);
        show_rc("pthread_kill(t, SIGURG) with SA_RESTART", pthread_kill(t, SIGURG));
        usleep(50000);
        CALL(write(pipe_fds[1], "r", 1));
        pthread_join(t, &result);
        say("read in the thread: %ld byte", (long)result - 1000);
        say("SIGURG handler ran: %d", (int)handled[SIGURG]);
        close(pipe_fds[0]);
        close(pipe_fds[1]);
    }
    say("done");
    return 0;
}
