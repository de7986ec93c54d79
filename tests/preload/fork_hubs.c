/* fork with several hubs (run with GREEN_THREADS=native: every thread an OS thread with a hub
 * of its own): a fork-per-connection server. A few threads are blocked reading pipes and one
 * in accept on a second listener; the main thread accepts connections and forks for each, and
 * the child closes the listeners and the pipes, as a server's child closes what it inherited,
 * then serves the connection. The closes must not take the fds out of the parent's hubs: the
 * parent's blocked threads must still wake, and its acceptor still accept. */
#include "transcript.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define READERS 3
#define CONNECTIONS 3

static int pipes[READERS][2];
static int listener, second_listener;
static struct sockaddr_in address, second_address;

static void *reader(void *arg)
{
    int i = (int)(long)arg;
    char c = 0;
    long r = read(pipes[i][0], &c, dyn(1));
    return (void *)(r == 1 && c == 'a' + i ? 1L : 0L);
}

static void *acceptor(void *arg)
{
    (void)arg;
    int c = accept(second_listener, NULL, NULL);
    if (c < 0)
        return NULL;
    char buf[16] = {0};
    long n = read(c, buf, dyn(sizeof buf));
    long w = n > 0 ? write(c, buf, (size_t)n) : -1;
    close(c);
    return (void *)(w == n && n > 0 ? 1L : 0L);
}

/* One client connection in its own process: sends `msg`, expects it back. */
static pid_t client(const struct sockaddr_in *to, const char *msg)
{
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid > 0)
        return pid;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (const struct sockaddr *)to, sizeof *to) != 0)
        _exit(10);
    size_t len = strlen(msg);
    if (write(s, msg, len) != (long)len)
        _exit(11);
    char buf[16] = {0};
    long n = read(s, buf, dyn(sizeof buf));
    _exit(n == (long)len && memcmp(buf, msg, len) == 0 ? 0 : 12);
}

static int reap(pid_t pid)
{
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static int listen_on_loopback(struct sockaddr_in *address)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(s >= 0);
    address->sin_family = AF_INET;
    address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof *address;
    REQUIRE(bind(s, (struct sockaddr *)address, sizeof *address) == 0);
    REQUIRE(getsockname(s, (struct sockaddr *)address, &len) == 0);
    REQUIRE(listen(s, 16) == 0);
    return s;
}

int main(void)
{
    listener = listen_on_loopback(&address);
    second_listener = listen_on_loopback(&second_address);

    pthread_t readers[READERS], acc;
    for (int i = 0; i < READERS; i++) {
        REQUIRE(pipe(pipes[i]) == 0);
        REQUIRE(pthread_create(&readers[i], NULL, reader, (void *)(long)i) == 0);
    }
    REQUIRE(pthread_create(&acc, NULL, acceptor, NULL) == 0);
    usleep(30000); /* the readers and the acceptor are blocked */

    for (int k = 0; k < CONNECTIONS; k++) {
        pid_t cl = client(&address, "hello");
        int c = accept(listener, NULL, NULL);
        REQUIRE(c >= 0);
        pid_t server = fork();
        REQUIRE(server >= 0);
        if (server == 0) {
            close(listener);
            close(second_listener);
            for (int i = 0; i < READERS; i++)
                close(pipes[i][0]);
            char buf[16] = {0};
            long n = read(c, buf, dyn(sizeof buf));
            long w = n > 0 ? write(c, buf, (size_t)n) : -1;
            _exit(w == n && n > 0 ? 0 : 20);
        }
        close(c);
        say("connection %d: server child's status %d, client's status %d", k, reap(server),
            reap(cl));
    }

    pid_t cl = client(&second_address, "last");
    void *ok = NULL;
    CALL(pthread_join(acc, &ok));
    say("the acceptor thread accepted and echoed: %s; client's status %d", yesno(ok != NULL),
        reap(cl));

    for (int i = 0; i < READERS; i++) {
        char c = (char)('a' + i);
        REQUIRE(write(pipes[i][1], &c, 1) == 1);
        ok = NULL;
        CALL(pthread_join(readers[i], &ok));
        say("blocked reader %d carried on: %s", i, yesno(ok != NULL));
    }
    return 0;
}
