/* fork from a thread other than main, whose child then lets that thread end: the forking
 * thread is the child's only thread, so its end ends the child with status 0, as the end of a
 * process's last thread does (exit(0): atexit handlers run, stdio is flushed), after its
 * thread-specific destructors. It ends at once, after blocking (a sleep, a pipe read), with
 * pthread_exit, and after making a thread of its own, which the child then waits for. In the
 * child the thread is still itself: pthread_self and its thread-specific values. */
#include "transcript.h"

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

enum how { AT_ONCE, AFTER_SLEEP, AFTER_READ, PTHREAD_EXIT, AFTER_MAKING_A_THREAD };
static const char *const names[] = {"at once", "after a sleep", "after a pipe read",
                                    "with pthread_exit after a sleep",
                                    "after making a thread that outlives it"};

static pid_t main_pid;
static pthread_key_t key;
static int late_pipe[2];

static void at_exit(void)
{
    if (getpid() != main_pid)
        say("  child: atexit handler ran");
}

static void destructor(void *value)
{
    say("  child: thread-specific destructor ran with %s", (const char *)value);
}

static void *late_thread(void *arg)
{
    (void)arg;
    usleep(50000);
    REQUIRE(write(late_pipe[1], "L", 1) == 1);
    say("  child: the thread made in the child ends");
    return NULL;
}

static void *forker(void *arg)
{
    enum how how = (enum how)(long)arg;
    pthread_t self = pthread_self();
    REQUIRE(pthread_setspecific(key, "the forking thread's value") == 0);
    int p[2];
    REQUIRE(pipe(p) == 0);
    REQUIRE(pipe(late_pipe) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        /* A pthread_t is not comparable across a fork in general; here it is the same thread. */
        say("  child: still the same thread: %s, its value kept: %s",
            yesno(pthread_equal(pthread_self(), self)),
            yesno(pthread_getspecific(key) != NULL));
        char c = 0;
        pthread_t t;
        switch (how) {
        case AT_ONCE: break;
        case AFTER_SLEEP: usleep(20000); break;
        case AFTER_READ:
            say("  child: read = %ld", (long)read(p[0], &c, dyn(1)));
            break;
        case PTHREAD_EXIT: usleep(20000); pthread_exit(NULL);
        case AFTER_MAKING_A_THREAD:
            REQUIRE(pthread_create(&t, NULL, late_thread, NULL) == 0);
            REQUIRE(pthread_detach(t) == 0);
            break;
        }
        say("  child: the forking thread ends");
        return NULL;
    }
    close(late_pipe[1]);
    if (how == AFTER_READ) {
        usleep(20000);
        REQUIRE(write(p[1], "r", 1) == 1);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    char c = 0;
    long late = read(late_pipe[0], &c, dyn(1));
    close(late_pipe[0]);
    close(p[0]);
    close(p[1]);
    if (WIFEXITED(status))
        say("  child exited with status %d%s", WEXITSTATUS(status),
            late == 1 ? " after its own thread wrote" : "");
    else
        say("  child killed by signal %d", WTERMSIG(status));
    return NULL;
}

int main(void)
{
    main_pid = getpid();
    REQUIRE(atexit(at_exit) == 0);
    REQUIRE(pthread_key_create(&key, destructor) == 0);
    for (int how = AT_ONCE; how <= AFTER_MAKING_A_THREAD; how++) {
        say("the forking thread ends in the child %s:", names[how]);
        /* Nothing printed while the thread may fork: the child would inherit it unflushed. */
        pthread_t t;
        REQUIRE(pthread_create(&t, NULL, forker, (void *)(long)how) == 0);
        REQUIRE(pthread_join(t, NULL) == 0);
    }
    return 0;
}
