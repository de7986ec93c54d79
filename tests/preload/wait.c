/* Waiting for children: waitpid, wait, wait3, wait4, waitid (P_PID, P_ALL, P_PGID, P_PIDFD,
 * WNOWAIT), WNOHANG, ECHILD, EINTR and SA_RESTART, a SIGCHLD handler of the program's, a child
 * born while another thread waits for any child, vfork (shared memory, the parent's fds
 * untouched) and posix_spawn. Children report through exit statuses, never stdout. */
#include "transcript.h"

#include <pthread.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child_exiting(int ms, int code)
{
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        usleep((useconds_t)ms * 1000);
        _exit(code);
    }
    return pid;
}

static void show_status(const char *what, int status)
{
    if (WIFEXITED(status))
        say("%s: exited %d", what, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        say("%s: killed by %s", what, sigabbrev_np(WTERMSIG(status)));
    else
        say("%s: status 0x%x", what, status);
}

static volatile sig_atomic_t usr1_count, chld_count;
static volatile long reaper_result = -2, reaper_errno;
static void reaping_handler(int sig)
{
    (void)sig;
    int saved = errno;
    reaper_result = waitpid(-1, NULL, WNOHANG);
    reaper_errno = errno;
    errno = saved;
}
/* The stress section: the handler counts children it took while main was inside waitpid, which
 * the kernel never allows (a blocking wait reaps before the handler runs on the way out). */
static volatile sig_atomic_t in_wait, taken_inside_wait;
static void counting_reaper(int sig)
{
    (void)sig;
    int saved = errno;
    if (waitpid(-1, NULL, WNOHANG) > 0 && in_wait)
        taken_inside_wait++;
    errno = saved;
}
static void on_usr1(int sig) { (void)sig; usr1_count++; }
static void on_chld(int sig) { (void)sig; chld_count++; }

/* A child that signals its parent after `ms` and exits 0. */
static pid_t signaller(int ms, int sig)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        usleep((useconds_t)ms * 1000);
        kill(parent, sig);
        _exit(0);
    }
    return pid;
}

static pid_t long_child;
static void *any_child_waiter(void *arg)
{
    (void)arg;
    int status = 0;
    pid_t r = waitpid(-1, &status, 0);
    return (void *)(long)(r == long_child ? -1 : (WIFEXITED(status) ? WEXITSTATUS(status) : -2));
}

int main(void)
{
    int status = 0;
    pid_t pid;

    say("== waitpid for one child");
    pid = child_exiting(50, 3);
    CALL(waitpid(pid, &status, 0) == pid);
    show_status("waitpid", status);
    CALL(waitpid(pid, &status, 0));

    say("== WNOHANG while the child runs, then a blocking wait");
    pid = child_exiting(50, 4);
    CALL(waitpid(pid, &status, WNOHANG));
    CALL(waitpid(pid, &status, 0) == pid);
    show_status("waitpid", status);

    say("== wait() for two children, in exit order");
    pid_t a = child_exiting(30, 5), b = child_exiting(120, 6);
    pid = CALL(wait(&status) == a);
    show_status("first", status);
        pid = CALL(wait(&status) == b);
    show_status("second", status);
        CALL(wait(&status));

    say("== wait3 and wait4 fill in resource usage");
    {
        struct rusage ru;
        memset(&ru, 0xff, sizeof ru);
        a = child_exiting(30, 7);
        CALL(wait3(&status, 0, &ru) == a);
        show_status("wait3", status);
        say("ru_maxrss set: %s", yesno(ru.ru_maxrss >= 0 && ru.ru_maxrss < (1L << 40)));
        a = child_exiting(30, 8);
        CALL(wait4(a, &status, 0, &ru) == a);
        show_status("wait4", status);
        a = child_exiting(30, 9);
        CALL(wait4(-1, &status, 0, NULL) == a);
        show_status("wait4(-1)", status);
    }

    say("== process groups: waitpid(0) and waitpid(-pgid)");
    a = child_exiting(30, 10);
    CALL(waitpid(0, &status, 0) == a);
    show_status("waitpid(0)", status);
    a = child_exiting(30, 11);
    CALL(waitpid(-getpgrp(), &status, 0) == a);
    show_status("waitpid(-pgrp)", status);

    say("== waitid");
    {
        siginfo_t si;
        a = child_exiting(30, 12);
        memset(&si, 0, sizeof si);
        CALL(waitid(P_PID, (id_t)a, &si, WEXITED | WNOWAIT));
        say("WNOWAIT: pid ok %s, code %s, status %d", yesno(si.si_pid == a),
            si.si_code == CLD_EXITED ? "CLD_EXITED" : "?", si.si_status);
        CALL(waitpid(a, &status, 0) == a);
        show_status("then waitpid", status);
        a = child_exiting(30, 13);
        memset(&si, 0xff, sizeof si);
        CALL(waitid(P_ALL, 0, &si, WEXITED | WNOHANG));
        say("WNOHANG: si_pid %d", si.si_pid);
        CALL(waitid(P_ALL, 0, &si, WEXITED));
        say("P_ALL: pid ok %s, status %d", yesno(si.si_pid == a), si.si_status);
        a = child_exiting(30, 14);
        CALL(waitid(P_PGID, 0, &si, WEXITED));
        say("P_PGID: pid ok %s, status %d", yesno(si.si_pid == a), si.si_status);
        a = child_exiting(30, 15);
        int pidfd = (int)syscall(SYS_pidfd_open, a, 0);
        REQUIRE(pidfd >= 0);
        CALL(waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED));
        say("P_PIDFD: pid ok %s, status %d", yesno(si.si_pid == a), si.si_status);
        CALL(close(pidfd));
        CALL(waitid(P_PID, 1, &si, WEXITED));
        CALL(waitid(P_PID, (id_t)a, &si, 0));
    }

    say("== ECHILD");
    CALL(waitpid(-1, &status, 0));
    CALL(waitpid(1, &status, 0));
    CALL(wait(NULL));

    say("== a handler without SA_RESTART interrupts the wait");
    install_handler(SIGUSR1, on_usr1, 0);
    a = child_exiting(400, 16);
    b = signaller(50, SIGUSR1);
    CALL(waitpid(a, &status, 0));
    say("handler ran: %d", (int)usr1_count);
    CALL(waitpid(b, &status, 0) == b);
    CALL(waitpid(a, &status, 0) == a);
    show_status("after EINTR", status);

    say("== with SA_RESTART the wait goes on");
    install_handler(SIGUSR1, on_usr1, SA_RESTART);
    a = child_exiting(300, 17);
    b = signaller(50, SIGUSR1);
    CALL(waitpid(a, &status, 0) == a);
    show_status("restarted", status);
    say("handler ran: %d", (int)usr1_count);
    CALL(waitpid(b, &status, 0) == b);

    say("== the program's SIGCHLD handler still runs");
    install_handler(SIGCHLD, on_chld, SA_RESTART);
    a = child_exiting(30, 18);
    CALL(waitpid(a, &status, 0) == a);
    show_status("waitpid", status);
    say("SIGCHLD seen: %s", yesno(chld_count >= 1));
    signal(SIGCHLD, SIG_DFL);

    say("== a reaping SIGCHLD handler runs after the blocking wait took its child");
    for (int flags = SA_RESTART;; flags = 0) {
        install_handler(SIGCHLD, reaping_handler, flags);
        a = child_exiting(50, 24);
        CALL(waitpid(-1, &status, 0) == a);
        show_status("waitpid(-1)", status);
        usleep(10000);
        if (reaper_result == -1)
            say("the handler's waitpid: -1 %s", errno_name((int)reaper_errno));
        else
            say("the handler's waitpid: %s", reaper_result == a ? "took the child" : "?");
        signal(SIGCHLD, SIG_DFL);
        reaper_result = -2;
        if (flags == 0)
            break;
    }

    say("== a child born while another thread waits for any child");
    {
        long_child = child_exiting(2000, 19);
        pthread_t t;
        REQUIRE(pthread_create(&t, NULL, any_child_waiter, NULL) == 0);
        usleep(100000); /* the thread is waiting, for the long child only */
        a = child_exiting(10, 20);
        void *result;
        pthread_join(t, &result);
        say("the waiting thread reaped the new child: exit %ld", (long)result);
        kill(long_child, SIGKILL);
        CALL(waitpid(long_child, &status, 0) == long_child);
        show_status("long child", status);
        CALL(waitpid(a, &status, WNOHANG));
    }

    say("== vfork: the child shares memory, its close leaves the parent's fd open");
    {
        static volatile int shared;
        int p[2];
        REQUIRE(pipe(p) == 0);
        shared = 0;
        pid = vfork();
        if (pid == 0) {
            shared = 42;
            close(p[0]);
            _exit(21);
        }
        CALL(pid > 0);
        say("shared: %d", shared);
        CALL(waitpid(pid, &status, 0) == pid);
        show_status("vfork child", status);
        a = child_exiting(0, 0);
        waitpid(a, NULL, 0);
        CALL(write(p[1], "v", 1));
        char c = 0;
        CALL(read(p[0], &c, dyn(1)));
        say("read after vfork: %c", c);
        pid = vfork();
        if (pid == 0) {
            execl("/bin/sh", "sh", "-c", "exit 22", (char *)NULL);
            _exit(127);
        }
        CALL(waitpid(pid, &status, 0) == pid);
        show_status("vfork+exec", status);
        close(p[0]);
        close(p[1]);
    }

    say("== posix_spawn and a blocking wait");
    {
        char *argv[] = {"sh", "-c", "sleep 0.05; exit 23", NULL};
        CALL(posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, child_env()));
        CALL(waitpid(pid, &status, 0) == pid);
        show_status("posix_spawn", status);
        CALL(posix_spawnp(&pid, "sh", NULL, NULL, argv, child_env()));
        CALL(wait(&status) == pid);
        show_status("posix_spawnp", status);
    }
    say("== many short children and a reaping handler: none is taken from inside a wait");
    {
        /* Short lives make the child's exit, its pidfd and its SIGCHLD land at every point of
         * the green wait (parked, waking, retrying); a child that exits before waitpid is
         * entered is the handler's, natively too, so only takes from inside are counted. */
        install_handler(SIGCHLD, counting_reaper, 0);
        for (int i = 0; i < 1500; i++) {
            pid = fork();
            if (pid == 0) {
                usleep(200);
                _exit(0);
            }
            REQUIRE(pid > 0);
            in_wait = 1;
            waitpid(-1, &status, 0);
            in_wait = 0;
        }
        signal(SIGCHLD, SIG_DFL);
        while (waitpid(-1, NULL, 0) > 0)
            ;
        /* Natively a child that exits after in_wait is set but before the kernel enters the
         * wait is the handler's too: a loaded machine shows one now and then (measured: 1 in
         * some runs of 1,500). A wait that let the handler take its children did so far more
         * often, or hung; more than 1% is counted as that. */
        say("children taken by the handler inside waitpid: %s",
            taken_inside_wait <= 15 ? "at most 1%" : "more than 1%");
    }
    say("done");
    return 0;
}
