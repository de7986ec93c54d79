/* Each thread's own signal mask: pthread_sigmask and sigprocmask change the calling thread's
 * mask only, and a new thread starts with its creator's. A process-directed signal reaches a
 * thread that does not block it and interrupts its blocking read, as does a pthread_kill of the
 * main thread from a thread that blocks the signal; pthread_kill, raise and
 * pthread_sigqueue to a thread that blocks the signal leave it pending for that thread
 * (sigpending shows it there and nowhere else) until the thread unblocks it, and the handler
 * runs before that pthread_sigmask returns, with the siginfo the sender gave. sigwait takes a
 * signal pthread_kill gave the waiting thread. A fork child, a posix_spawn child and a program
 * exec'd from a thread (each of the nine exec calls) get the calling thread's mask; a failed
 * exec leaves it as it was; a fault with its signal blocked kills the process. */
#include "transcript.h"

#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t handled[NSIG];
static volatile sig_atomic_t last_code, last_value, last_from_us;

static void on_signal(int sig, siginfo_t *info, void *context)
{
    (void)context;
    handled[sig]++;
    last_code = info->si_code;
    last_value = info->si_value.sival_int;
    last_from_us = info->si_pid == getpid();
}

static void install(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO; /* no SA_RESTART: a handler ends a blocking read with EINTR */
    sigemptyset(&sa.sa_mask);
    REQUIRE(sigaction(sig, &sa, NULL) == 0);
}

static sigset_t only(int sig)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    return s;
}

static void change(int how, int sig)
{
    sigset_t s = only(sig);
    REQUIRE(pthread_sigmask(how, &s, NULL) == 0);
}

static const char *blocks(int sig)
{
    sigset_t s;
    REQUIRE(pthread_sigmask(SIG_BLOCK, NULL, &s) == 0);
    return yesno(sigismember(&s, sig));
}

static const char *pends(int sig)
{
    sigset_t s;
    REQUIRE(sigpending(&s) == 0);
    return yesno(sigismember(&s, sig));
}

static const char *code_name(int code)
{
    switch (code) {
    case SI_USER: return "SI_USER";
    case SI_QUEUE: return "SI_QUEUE";
    case SI_TKILL: return "SI_TKILL";
    default: return "other";
    }
}

/* Hand-offs between two threads: each step writes a byte the other reads. */
static int to_main[2], to_thread[2];
static void post(int *p)
{
    REQUIRE(write(p[1], "x", 1) == 1);
}
static void await(int *p)
{
    char c;
    REQUIRE(read(p[0], &c, 1) == 1);
}

static void *mask_reporter(void *arg)
{
    say("  %s: SIGUSR1 blocked: %s", (const char *)arg, blocks(SIGUSR1));
    return NULL;
}

static void *blocker(void *arg)
{
    (void)arg;
    change(SIG_BLOCK, SIGUSR1);
    say("  thread after blocking: SIGUSR1 blocked: %s", blocks(SIGUSR1));
    pthread_t child;
    REQUIRE(pthread_create(&child, NULL, mask_reporter, "its new thread") == 0);
    REQUIRE(pthread_join(child, NULL) == 0);
    post(to_main);
    await(to_thread);
    return NULL;
}

static int reader_pipe[2];
static void *blocked_reader(void *arg)
{
    (void)arg;
    change(SIG_UNBLOCK, SIGTERM);
    char c;
    errno = 0;
    long r = read(reader_pipe[0], &c, 1);
    int e = errno;
    say("  reader (SIGTERM open): read = %ld %s, handler ran: %d", r, r < 0 ? errno_name(e) : "",
        (int)handled[SIGTERM]);
    return NULL;
}

static pthread_t main_thread;
static void *main_signaller(void *arg)
{
    (void)arg;
    change(SIG_BLOCK, SIGUSR2); /* the sender blocks it; main, in read, does not */
    usleep(100 * 1000);
    int rc = pthread_kill(main_thread, SIGUSR2);
    say("  sender: pthread_kill(main) = %d", rc);
    return NULL;
}

static void *pending_keeper(void *arg)
{
    int sig = (int)(long)arg;
    change(SIG_BLOCK, sig);
    post(to_main); /* blocked now: main sends */
    await(to_thread);
    say("  target: pending here: %s, handler ran: %d", pends(sig), (int)handled[sig]);
    post(to_main); /* main looks at its own pending set */
    await(to_thread);
    change(SIG_UNBLOCK, sig);
    say("  target: after unblocking: handler ran: %d (%s, value %d, from this process: %s)",
        (int)handled[sig], code_name(last_code), (int)last_value, yesno(last_from_us));
    return NULL;
}

static void pending_for_thread(int sig, int queue)
{
    handled[sig] = 0;
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, pending_keeper, (void *)(long)sig) == 0);
    await(to_main);
    if (queue) {
        union sigval v = {.sival_int = 42};
        show_rc("pthread_sigqueue", pthread_sigqueue(t, sig, v));
    } else {
        show_rc("pthread_kill", pthread_kill(t, sig));
    }
    post(to_thread);
    await(to_main);
    say("  main: pending here: %s", pends(sig));
    post(to_thread);
    REQUIRE(pthread_join(t, NULL) == 0);
}

static void *raiser(void *arg)
{
    (void)arg;
    handled[SIGUSR1] = 0;
    change(SIG_BLOCK, SIGUSR1);
    show_rc("raise", raise(SIGUSR1));
    say("  handler ran while blocked: %d, pending: %s", (int)handled[SIGUSR1], pends(SIGUSR1));
    change(SIG_UNBLOCK, SIGUSR1);
    say("  after unblocking: handler ran: %d (%s)", (int)handled[SIGUSR1], code_name(last_code));
    return NULL;
}

static void *sigwaiter(void *arg)
{
    (void)arg;
    change(SIG_BLOCK, SIGUSR2);
    post(to_main);
    sigset_t s = only(SIGUSR2);
    int sig = 0;
    int rc = sigwait(&s, &sig);
    say("  sigwait = %d, signal %s, handler ran: %d", rc, sig ? sigabbrev_np(sig) : "none",
        (int)handled[SIGUSR2]);
    return NULL;
}

/* The low word of this thread's kernel mask (glibc's internal signals above 32 left out). */
static unsigned long kernel_mask_low(void)
{
    FILE *f = fopen("/proc/thread-self/status", "r");
    REQUIRE(f != NULL);
    char line[256];
    unsigned long long mask = ~0ull;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "SigBlk:", 7) == 0)
            mask = strtoull(line + 7, NULL, 16);
    fclose(f);
    return (unsigned long)(mask & 0xffffffffu);
}

/* The low word of the mask in the "SigBlk:" line a child (grep) writes to the pipe `out`; closes
 * both ends. */
static unsigned long long mask_printed(int out[2])
{
    close(out[1]);
    char buf[128] = {0};
    long n = 0, r;
    while ((r = read(out[0], buf + n, sizeof buf - 1 - (size_t)n)) > 0)
        n += r;
    close(out[0]);
    const char *colon = strchr(buf, ':');
    return (colon ? strtoull(colon + 1, NULL, 16) : 0) & 0xffffffffull;
}

static void *forker(void *arg)
{
    (void)arg;
    change(SIG_BLOCK, SIGUSR1);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        sigset_t s;
        pthread_sigmask(SIG_BLOCK, NULL, &s);
        int code = (sigismember(&s, SIGUSR1) ? 1 : 0) |
                   (kernel_mask_low() == (1ul << (SIGUSR1 - 1)) ? 2 : 0) |
                   (sigismember(&s, SIGUSR2) ? 4 : 0);
        _exit(code);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    say("  fork child: own mask blocks SIGUSR1: %s, SIGUSR2: %s; kernel mask exactly SIGUSR1: %s",
        yesno(code & 1), yesno(code & 4), yesno(code & 2));

    int out[2];
    REQUIRE(pipe2(out, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    REQUIRE(posix_spawn_file_actions_init(&fa) == 0);
    REQUIRE(posix_spawn_file_actions_adddup2(&fa, out[1], 1) == 0);
    char *argv[] = {"grep", "^SigBlk", "/proc/self/status", NULL};
    REQUIRE(posix_spawnp(&pid, "grep", &fa, NULL, argv, child_env()) == 0);
    posix_spawn_file_actions_destroy(&fa);
    unsigned long long spawned = mask_printed(out);
    REQUIRE(waitpid(pid, &status, 0) == pid);
    say("  posix_spawn child: kernel mask low word %#llx", spawned);
    change(SIG_UNBLOCK, SIGUSR1);
    return NULL;
}

/* Replaces the process from a thread that blocks SIGUSR1 while the main thread does not: the
 * new program (grep, showing its own mask) starts with the calling thread's mask. */
extern char **environ;
static const char *const grep_path = "/usr/bin/grep";
static void *execer(void *arg)
{
    int how = (int)(long)arg;
    change(SIG_BLOCK, SIGUSR1);
    char *argv[] = {"grep", "^SigBlk", "/proc/self/status", NULL};
    switch (how) {
    case 0: execl(grep_path, "grep", "^SigBlk", "/proc/self/status", (char *)NULL); break;
    case 1: execlp("grep", "grep", "^SigBlk", "/proc/self/status", (char *)NULL); break;
    case 2: execle(grep_path, "grep", "^SigBlk", "/proc/self/status", (char *)NULL, environ); break;
    case 3: execv(grep_path, argv); break;
    case 4: execvp("grep", argv); break;
    case 5: execve(grep_path, argv, environ); break;
    case 6: execvpe("grep", argv, environ); break;
    case 7: fexecve(open(grep_path, O_RDONLY | O_CLOEXEC), argv, environ); break;
    case 8: execveat(AT_FDCWD, grep_path, argv, environ, 0); break;
    }
    _exit(127);
}

static const char *const exec_names[] = {"execl", "execlp", "execle", "execv", "execvp",
                                         "execve", "execvpe", "fexecve", "execveat"};

static void exec_from_thread(int how)
{
    int out[2];
    REQUIRE(pipe(out) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        pthread_t t;
        REQUIRE(pthread_create(&t, NULL, execer, (void *)(long)how) == 0);
        pthread_join(t, NULL); /* never returns: the exec ends this thread */
        _exit(126);
    }
    unsigned long long mask = mask_printed(out);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    say("  %s: exit %d, new program's mask low word %#llx", exec_names[how],
        WIFEXITED(status) ? WEXITSTATUS(status) : -1, mask);
}

static void *failed_execer(void *arg)
{
    (void)arg;
    change(SIG_BLOCK, SIGUSR1);
    char *argv[] = {"none", NULL};
    errno = 0;
    int r = execv("/nonexistent/none", argv);
    int e = errno;
    say("  execv of a missing file = %d %s; SIGUSR1 still blocked here: %s", r, errno_name(e),
        blocks(SIGUSR1));
    return NULL;
}

static void *faulter(void *arg)
{
    (void)arg;
    change(SIG_BLOCK, SIGSEGV);
    /* An unmapped address that is not null: a sanitizer build's null check would report the
     * store instead of letting it fault. */
    volatile int *volatile nowhere = (volatile int *)16;
    *nowhere = 1;
    return NULL;
}

int main(void)
{
    main_thread = pthread_self();
    REQUIRE(pipe2(to_main, O_CLOEXEC) == 0);
    REQUIRE(pipe2(to_thread, O_CLOEXEC) == 0);
    install(SIGUSR1);
    install(SIGUSR2);
    install(SIGTERM);
    install(SIGRTMIN);

    say("== masks are per thread; a new thread starts with its creator's");
    {
        pthread_t t, u;
        REQUIRE(pthread_create(&t, NULL, blocker, NULL) == 0);
        await(to_main);
        say("  main while the thread blocks it: SIGUSR1 blocked: %s", blocks(SIGUSR1));
        REQUIRE(pthread_create(&u, NULL, mask_reporter, "main's new thread") == 0);
        REQUIRE(pthread_join(u, NULL) == 0);
        post(to_thread);
        REQUIRE(pthread_join(t, NULL) == 0);
        sigset_t s = only(SIGUSR2), old;
        CALL(sigprocmask(SIG_BLOCK, &s, &old));
        say("  sigprocmask's old set had SIGUSR2: %s", yesno(sigismember(&old, SIGUSR2)));
        CALL(sigprocmask(SIG_SETMASK, &old, NULL));
        CALL(sigprocmask(12345, &s, NULL));
        say("  pthread_sigmask with a bad how: %s", errno_name(pthread_sigmask(12345, &s, NULL)));
    }

    say("== a process-directed signal goes to the thread that leaves it open");
    {
        change(SIG_BLOCK, SIGTERM);
        REQUIRE(pipe2(reader_pipe, O_CLOEXEC) == 0);
        pthread_t t;
        REQUIRE(pthread_create(&t, NULL, blocked_reader, NULL) == 0);
        usleep(100 * 1000); /* the reader is inside read */
        int rc = kill(getpid(), SIGTERM);
        REQUIRE(pthread_join(t, NULL) == 0); /* the reader speaks first */
        show_rc("kill", rc);
        say("  main (SIGTERM blocked): pending here: %s", pends(SIGTERM));
        change(SIG_UNBLOCK, SIGTERM);
        close(reader_pipe[0]);
        close(reader_pipe[1]);
    }

    say("== pthread_kill of the main thread from a thread that blocks the signal");
    {
        handled[SIGUSR2] = 0;
        REQUIRE(pipe2(reader_pipe, O_CLOEXEC) == 0);
        pthread_t t;
        REQUIRE(pthread_create(&t, NULL, main_signaller, NULL) == 0);
        char c;
        errno = 0;
        long r = read(reader_pipe[0], &c, 1);
        int e = errno;
        REQUIRE(pthread_join(t, NULL) == 0);
        say("  main: read = %ld %s, handler ran: %d", r, r < 0 ? errno_name(e) : "",
            (int)handled[SIGUSR2]);
        close(reader_pipe[0]);
        close(reader_pipe[1]);
    }

    say("== pthread_kill to a thread that blocks the signal: pending for it alone");
    pending_for_thread(SIGUSR1, 0);

    say("== pthread_sigqueue to a thread that blocks the signal: the value is kept");
    pending_for_thread(SIGRTMIN, 1);

    say("== raise with the signal blocked");
    {
        pthread_t t;
        REQUIRE(pthread_create(&t, NULL, raiser, NULL) == 0);
        REQUIRE(pthread_join(t, NULL) == 0);
    }

    say("== sigwait takes a signal pthread_kill gave its thread");
    {
        handled[SIGUSR2] = 0;
        pthread_t t;
        REQUIRE(pthread_create(&t, NULL, sigwaiter, NULL) == 0);
        await(to_main);
        usleep(50 * 1000); /* the thread is inside sigwait */
        int rc = pthread_kill(t, SIGUSR2);
        REQUIRE(pthread_join(t, NULL) == 0); /* the waiter speaks first */
        show_rc("pthread_kill", rc);
    }

    say("== a new process gets the calling thread's mask");
    {
        pthread_t t;
        REQUIRE(pthread_create(&t, NULL, forker, NULL) == 0);
        REQUIRE(pthread_join(t, NULL) == 0);
    }

    say("== exec from a thread: the new program gets that thread's mask");
    for (int how = 0; how < 9; how++)
        exec_from_thread(how);
    {
        pthread_t t;
        REQUIRE(pthread_create(&t, NULL, failed_execer, NULL) == 0);
        REQUIRE(pthread_join(t, NULL) == 0);
        say("  main: SIGUSR1 blocked: %s", blocks(SIGUSR1));
    }

    say("== a fault with its signal blocked kills the process");
    {
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            install(SIGSEGV);
            pthread_t t;
            REQUIRE(pthread_create(&t, NULL, faulter, NULL) == 0);
            pthread_join(t, NULL);
            _exit(0);
        }
        int status = 0;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        say("  child: %s %s", WIFSIGNALED(status) ? "killed by" : "exited",
            WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status)) : "");
    }

    say("== the main thread's mask is its own again");
    say("  SIGUSR1 blocked: %s, SIGTERM blocked: %s", blocks(SIGUSR1), blocks(SIGTERM));
    say("done");
    return 0;
}
