/* fork from a thread other than main: in the child, the forking thread is still itself.
 *
 * Natively the child's only thread has the pthread_t the forking thread had in the parent, and
 * it is not the parent's main thread. Reduced from CPython's test_threading
 * test_3_join_in_forked_from_thread: Python's after-fork code looks the current thread up by
 * pthread_self(); when the child answers with the main thread's id, Python takes the forking
 * thread for the main thread, and a join of the "main thread" in the child waits forever.
 *
 * The child ends with _exit, so that only its identity is tested here, not how its last thread
 * ends.
 */
#include "transcript.h"

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_t main_thread;

static void *forker(void *arg)
{
    (void)arg;
    pthread_t self = pthread_self();
    say("in the thread: pthread_self is main: %s",
        yesno(pthread_equal(self, main_thread)));
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int same = pthread_equal(pthread_self(), self);
        int is_main = pthread_equal(pthread_self(), main_thread);
        say("child: pthread_self is the forking thread's: %s", yesno(same));
        say("child: pthread_self is the parent's main thread's: %s", yesno(is_main));
        _exit(same && !is_main ? 0 : 1);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    say("child exit status: %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    say("parent: pthread_self is still the thread's: %s", yesno(pthread_equal(pthread_self(), self)));
    return NULL;
}

int main(void)
{
    main_thread = pthread_self();
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, forker, NULL) == 0);
    REQUIRE(pthread_join(t, NULL) == 0);
    say("done");
    return 0;
}
