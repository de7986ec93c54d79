/* pthread_kill and pthread_sigqueue aimed at the main thread by another thread while main is
 * blocked: in read on an empty pipe (EINTR without SA_RESTART, restarted with it) and in a large
 * send on a full socket (a short count: what was sent before the signal).
 *
 * Reduced from CPython's test_socketserver test_write and test_socket test_sendall_interrupted:
 * the main thread's pthread_t is glibc's, not a green thread's, and the handler runs in the
 * sending thread's context, so the hub never saw the signal and main stayed parked until the
 * socket drained (under green-run the Python-level handler never ran).
 */
#include "transcript.h"

#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static pthread_t main_thread;
static volatile sig_atomic_t handled;
static int pipe_fds[2];
static int sock_fds[2];
static int use_sigqueue;

static void on_signal(int sig)
{
    (void)sig;
    handled++;
}

static int send_signal(void)
{
    if (use_sigqueue) {
        union sigval v = {.sival_int = 7};
        return pthread_sigqueue(main_thread, SIGUSR1, v);
    }
    return pthread_kill(main_thread, SIGUSR1);
}

/* Sleeps so that main is blocked, signals it, and for a restarting handler writes the byte
 * main's restarted read then returns. */
static void *kill_reader(void *arg)
{
    int restarting = (int)(long)arg;
    usleep(100000);
    REQUIRE(send_signal() == 0);
    if (restarting) {
        usleep(100000);
        REQUIRE(write(pipe_fds[1], "r", 1) == 1);
    }
    return NULL;
}

/* Takes a little of what main sends so that main is blocked in the middle of its send, then
 * signals it until the handler has run (main may be between calls when a signal lands). */
static void *kill_sender(void *arg)
{
    (void)arg;
    char buf[100];
    REQUIRE(recv(sock_fds[1], buf, sizeof buf, MSG_WAITALL) == (ssize_t)sizeof buf);
    for (int i = 0; i < 50 && !handled; i++) {
        usleep(100000);
        REQUIRE(send_signal() == 0);
    }
    return NULL;
}

static void blocked_read(int flags)
{
    install_handler(SIGUSR1, on_signal, flags);
    handled = 0;
    REQUIRE(pipe(pipe_fds) == 0);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, kill_reader, (void *)(long)(flags & SA_RESTART)) == 0);
    char c;
    CALL(read(pipe_fds[0], &c, dyn(1)));
    pthread_join(t, NULL);
    say("handler ran: %d", (int)handled);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

static void blocked_send(void)
{
    install_handler(SIGUSR1, on_signal, 0);
    handled = 0;
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sock_fds) == 0);
    size_t total = 16 << 20;
    char *big = calloc(1, total);
    REQUIRE(big);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, kill_sender, NULL) == 0);
    ssize_t n = send(sock_fds[0], big, total, 0);
    say("send of 16 MiB: %s", n > 100 && (size_t)n < total ? "a short count"
                              : n < 0                     ? errno_name(errno)
                                                          : "all or nothing");
    pthread_join(t, NULL);
    say("handler ran: %s", yesno(handled > 0));
    free(big);
    close(sock_fds[0]);
    close(sock_fds[1]);
}

int main(void)
{
    main_thread = pthread_self();
    for (use_sigqueue = 0; use_sigqueue < 2; use_sigqueue++) {
        const char *how = use_sigqueue ? "pthread_sigqueue" : "pthread_kill";
        say("== %s: main blocked in read, handler without SA_RESTART", how);
        blocked_read(0);
        say("== %s: main blocked in read, handler with SA_RESTART", how);
        blocked_read(SA_RESTART);
        say("== %s: main blocked in a 16 MiB send", how);
        blocked_send();
    }
    say("done");
    return 0;
}
