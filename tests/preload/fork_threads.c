/* fork from a green thread while other threads are blocked: in the child only the forking thread
 * lives on, and its blocking calls (a pipe read, a sleep, a wait, a new thread) work; in the
 * parent the blocked threads carry on; pthread_atfork handlers run once each, where they should
 * (the nested fork in the child runs them again there). The child answers through its exit
 * status. */
#include "transcript.h"

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

static int blocked_pipe[2];
static volatile int prepared, in_parent, in_child;
static void on_prepare(void) { prepared++; }
static void on_parent(void) { in_parent++; }
static void on_child(void) { in_child++; }

static void *blocked_reader(void *arg)
{
    (void)arg;
    char c = 0;
    long r = read(blocked_pipe[0], &c, dyn(1));
    return (void *)(r == 1 && c == 'b' ? 1L : 0L);
}

static void *child_thread(void *arg)
{
    int fd = *(int *)arg;
    char c = 0;
    return (void *)(read(fd, &c, dyn(1)) == 1 && c == 't' ? 1L : 0L);
}

static void *forker(void *arg)
{
    (void)arg;
    int p[2];
    REQUIRE(pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        int code = prepared == 1 && in_child == 1 && in_parent == 0 ? 0 : 32;
        char c = 0;
        if (read(p[0], &c, dyn(1)) != 1 || c != 'f') /* blocks until the parent writes */
            code |= 1;
        usleep(10000);
        pid_t g = fork();
        if (g == 0) {
            usleep(20000);
            _exit(5);
        }
        int st = 0;
        if (waitpid(g, &st, 0) != g || WEXITSTATUS(st) != 5)
            code |= 2;
        int q[2];
        if (pipe(q) != 0)
            code |= 4;
        pthread_t t;
        void *ok = NULL;
        if (pthread_create(&t, NULL, child_thread, &q[0]) != 0)
            code |= 8;
        usleep(20000);
        if (write(q[1], "t", 1) != 1 || pthread_join(t, &ok) != 0 || !ok)
            code |= 16;
        _exit(code);
    }
    usleep(30000);
    REQUIRE(write(p[1], "f", 1) == 1);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return (void *)(long)(WIFEXITED(status) ? WEXITSTATUS(status) : 100);
}

int main(void)
{
    CALL(pthread_atfork(on_prepare, on_parent, on_child));
    CALL(pipe(blocked_pipe));
    pthread_t reader, f;
    CALL(pthread_create(&reader, NULL, blocked_reader, NULL));
    usleep(20000); /* the reader is blocked */
    CALL(pthread_create(&f, NULL, forker, NULL));
    void *code = NULL;
    CALL(pthread_join(f, &code));
    say("child's exit status (0: everything worked): %ld", (long)code);
    say("pthread_atfork handlers in the parent: prepare %d, parent %d, child %d", prepared,
        in_parent, in_child);
    CALL(write(blocked_pipe[1], "b", 1));
    void *ok = NULL;
    CALL(pthread_join(reader, &ok));
    say("the parent's blocked reader carried on: %s", yesno(ok != NULL));
    return 0;
}
