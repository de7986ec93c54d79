/* What a program exec'd from a green program starts with: its signal mask, ignored and caught
 * signals, and open fds with their flags, after fork+exec, vfork+exec and posix_spawn, once the
 * parent has used the runtime (parked reads, waits, signal waits) so that the runtime's own fds
 * exist. The exec'd program runs without the library and prints what the kernel gave it; it
 * must be what a native parent gives. The forked child also reads a pipe, blocking, first. */
#include "transcript.h"

#include <dirent.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(void)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    REQUIRE(f != NULL);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "SigBlk:", 7) || !strncmp(line, "SigIgn:", 7) ||
            !strncmp(line, "SigCgt:", 7))
            fputs(line, stdout);
    fclose(f);
    int fds[64], n = 0;
    DIR *d = opendir("/proc/self/fd");
    REQUIRE(d != NULL);
    int own = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) && n < 64)
        if (e->d_name[0] != '.' && atoi(e->d_name) != own)
            fds[n++] = atoi(e->d_name);
    closedir(d);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (fds[j] < fds[i]) {
                int t = fds[i];
                fds[i] = fds[j];
                fds[j] = t;
            }
    for (int i = 0; i < n; i++) {
        char label[16];
        snprintf(label, sizeof label, "fd %d", fds[i]);
        show_fl(label, fds[i]);
        show_fd(label, fds[i]);
    }
}

static void on_signal(int sig) { (void)sig; }

static char *self_path;

static void run_child_report(void)
{
    execle(self_path, self_path, "report", (char *)NULL, child_env());
    _exit(127);
}

static void wait_for(pid_t pid, const char *what)
{
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    say("%s: exit %d", what, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "report")) {
        report();
        return 0;
    }
    self_path = argv[0];

    /* The program's own signal state: ignored, caught, blocked. */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGSEGV, SIG_IGN);
    install_handler(SIGUSR1, on_signal, SA_RESTART);
    install_handler(SIGTERM, on_signal, 0);
    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGUSR2);
    sigaddset(&blocked, SIGWINCH);
    REQUIRE(sigprocmask(SIG_BLOCK, &blocked, NULL) == 0);

    /* fds the exec'd program inherits, one of them non-blocking, one close-on-exec. */
    int p[2], s[2], q[2];
    REQUIRE(pipe(p) == 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
    REQUIRE(pipe2(q, O_CLOEXEC) == 0);
    REQUIRE(fcntl(p[1], F_SETFL, O_NONBLOCK) == 0);

    /* Use the runtime: a parked read, a parked wait, a signal wait. */
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        usleep(30000);
        if (write(s[1], "x", 1) != 1)
            _exit(1);
        _exit(0);
    }
    char c;
    CALL(read(s[0], &c, dyn(1)));
    wait_for(pid, "writer child");
    struct timespec ts = {0, 10 * 1000 * 1000};
    CALL(sigtimedwait(&blocked, NULL, &ts));

    say("== fork, a blocking read in the child, exec");
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        char b;
        if (read(q[0], &b, dyn(1)) != 1 || b != 'q')
            _exit(3);
        run_child_report();
    }
    usleep(30000);
    REQUIRE(write(q[1], "q", 1) == 1); /* not shown: the child reports concurrently */
    wait_for(pid, "fork+exec");

    say("== vfork, exec");
    pid = vfork();
    if (pid == 0)
        run_child_report();
    wait_for(pid, "vfork+exec");

    say("== posix_spawn");
    {
        char *args[] = {self_path, "report", NULL};
        /* Its result is shown after the child's report, which would otherwise race it. */
        int r = posix_spawn(&pid, self_path, NULL, NULL, args, child_env());
        wait_for(pid, "posix_spawn");
        show_rc("posix_spawn", r);
    }
    return 0;
}
