/* A daemon's fd hygiene after the runtime is in use (parked reads, waits, signal waits, so the
 * runtime's fds exist): dup2 onto every number up to 4095, closefrom(3), close_range around a
 * kept fd in a forked child, and freopen of a stream; blocking calls must go on working (and
 * parking) after each. */
#include "transcript.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
int close_range(unsigned int first, unsigned int last, int flags);
void closefrom(int lowfd);

static void on_usr1(int sig) { (void)sig; }

/* A child that writes "x" to fd after `ms`, or signals the parent, then exits `code`. */
static pid_t later(int ms, int fd, int sig, int code)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        usleep((useconds_t)ms * 1000);
        if (fd >= 0 && write(fd, "x", 1) != 1)
            _exit(99);
        if (sig)
            kill(parent, sig);
        _exit(code);
    }
    return pid;
}

/* Blocking calls of every kind the runtime makes green. */
static void blocking_calls(const char *when)
{
    say("-- blocking calls %s", when);
    int sv[2], status = 0;
    char c = 0;
    CALL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    pid_t pid = later(30, sv[1], 0, 3);
    CALL(read(sv[0], &c, dyn(1)));
    CALL(waitpid(pid, &status, 0) == pid);
    say("child exit %d", WEXITSTATUS(status));
    CALL(usleep(1000));
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pid = later(30, -1, SIGUSR2, 0);
    CALL(sigwaitinfo(&set, NULL));
    waitpid(pid, NULL, 0);
    pid = later(30, -1, SIGUSR1, 0);
    CALL(pause());
    waitpid(pid, NULL, 0);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    install_handler(SIGUSR1, on_usr1, 0);
    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGUSR2);
    REQUIRE(sigprocmask(SIG_BLOCK, &blocked, NULL) == 0);
    blocking_calls("before");

    struct rlimit rl;
    REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    int top = rl.rlim_cur > 4096 ? 4095 : (int)rl.rlim_cur - 1;
    say("== dup2 onto every number from 3 up");
    {
        int null = open("/dev/null", O_RDWR);
        REQUIRE(null >= 0);
        int failed = 0;
        for (int fd = 3; fd <= top; fd++)
            if (fd != null && dup2(null, fd) != fd)
                failed++;
        say("dup2 failures: %d", failed);
        int ok = 0;
        for (int fd = 3; fd <= top; fd++)
            ok += fcntl(fd, F_GETFD) == 0;
        say("every number is the program's /dev/null: %s", yesno(ok == top - 2));
    }
    say("== closefrom(3)");
    closefrom(3);
    {
        int open_count = 0;
        for (int fd = 3; fd <= top; fd++)
            open_count += fcntl(fd, F_GETFD) != -1;
        say("open between 3 and the top: %d", open_count);
    }
    blocking_calls("after dup2 onto every number and closefrom");

    say("== a forked daemon keeps one fd, closes the rest around it");
    {
        int sv[2], status = 0;
        CALL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            setsid();
            if (dup2(sv[1], 200) != 200)
                _exit(10);
            close_range(3, 199, 0);
            close_range(201, ~0U, 0);
            char b = 0;
            if (read(200, &b, dyn(1)) != 1 || b != 'p') /* parks until the parent writes */
                _exit(11);
            usleep(1000);
            _exit(write(200, "d", 1) == 1 ? 0 : 12);
        }
        usleep(30000);
        CALL(write(sv[0], "p", 1));
        char c = 0;
        CALL(read(sv[0], &c, dyn(1)));
        say("daemon answered '%c'", c);
        CALL(waitpid(pid, &status, 0) == pid);
        say("daemon exit %d", WEXITSTATUS(status));
        close(sv[0]);
        close(sv[1]);
    }

    say("== freopen of a stream over a pipe");
    {
        int p[2];
        CALL(pipe(p));
        FILE *f = fdopen(p[1], "w");
        REQUIRE(f != NULL);
        CALL(write(p[1], "a", 1));
        char c;
        CALL(read(p[0], &c, dyn(1)));
        FILE *g = freopen("/dev/null", "w", f);
        CALL(g != NULL);
        say("same number: %s", yesno(fileno(g) == p[1]));
        static char big[1 << 20];
        CALL(write(fileno(g), big, sizeof big));
        CALL(read(p[0], &c, dyn(1)));
        CALL(fclose(g));
        CALL(close(p[0]));
    }
    blocking_calls("at the end");
    say("done");
    return 0;
}
