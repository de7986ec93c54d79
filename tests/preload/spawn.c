/* system, popen and pclose: exit statuses, output order, SIGINT and SIGQUIT ignored and SIGCHLD
 * blocked while system runs (and restored after), popen modes and close-on-exec, a popen child
 * not holding the pipe of an earlier popen stream. */
#include "transcript.h"

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t chld_count, int_count;
static void on_chld(int sig) { (void)sig; chld_count++; }
static void on_int(int sig) { (void)sig; int_count++; }

static volatile int ticks, stop_ticking;
static void *ticker(void *arg)
{
    (void)arg;
    while (!stop_ticking) {
        usleep(10000);
        ticks++;
    }
    return NULL;
}

static void show_wstatus(const char *what, int status)
{
    if (status == -1)
        say("%s: -1 %s", what, errno_name(errno));
    else if (WIFEXITED(status))
        say("%s: exited %d", what, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        say("%s: killed by %s", what, sigabbrev_np(WTERMSIG(status)));
    else
        say("%s: 0x%x", what, status);
}

int main(void)
{
    /* The commands run under the library in the green run, as the program's children do, but
     * without a stats line of their own; their stdout is the transcript. */
    unsetenv("GREEN_STATS");
    say("== system");
    CALL(system(NULL) != 0);
    show_wstatus("exit 3", system("exit 3"));
    show_wstatus("echo", system("sleep 0.05; echo from the command"));
    show_wstatus("not found", system("exec /nonexistent/program 2>/dev/null"));

    say("== SIGINT ignored while system runs, the handler back after");
    install_handler(SIGINT, on_int, 0);
    show_wstatus("kill -INT parent", system("kill -INT $PPID; sleep 0.05"));
    say("SIGINT handler ran: %d", (int)int_count);
    struct sigaction sa;
    sigaction(SIGINT, NULL, &sa);
    say("SIGINT handler restored: %s", yesno(sa.sa_handler == on_int));
    kill(getpid(), SIGINT);
    say("SIGINT handler ran: %d", (int)int_count);

    say("== SIGCHLD blocked while system runs, delivered after");
    install_handler(SIGCHLD, on_chld, SA_RESTART);
    show_wstatus("true", system("sleep 0.02"));
    say("SIGCHLD handler ran: %s", yesno(chld_count >= 1));
    sigset_t mask;
    sigprocmask(SIG_BLOCK, NULL, &mask);
    say("SIGCHLD blocked after: %s", yesno(sigismember(&mask, SIGCHLD)));
    signal(SIGCHLD, SIG_DFL);

    say("== other threads run while system and pclose wait");
    {
        pthread_t t;
        REQUIRE(pthread_create(&t, NULL, ticker, NULL) == 0);
        usleep(20000);
        int before = ticks;
        show_wstatus("sleep 0.3", system("sleep 0.3"));
        say("the other thread ran meanwhile: %s", yesno(ticks - before >= 5));
        FILE *f = popen("sleep 0.3", "r");
        REQUIRE(f != NULL);
        before = ticks;
        show_wstatus("pclose", pclose(f));
        say("the other thread ran meanwhile: %s", yesno(ticks - before >= 5));
        stop_ticking = 1;
        pthread_join(t, NULL);
    }

    say("== popen for reading");
    {
        FILE *f = popen("echo a; sleep 0.05; echo b; exit 6", "r");
        REQUIRE(f != NULL);
        show_fd("popen r", fileno(f));
        char line[64];
        while (fgets(line, sizeof line, f))
            say("line: %.*s", (int)strcspn(line, "\n"), line);
        show_wstatus("pclose", pclose(f));
    }

    say("== popen for writing");
    {
        FILE *f = popen("read x; sleep 0.02; test \"$x\" = hello && exit 5", "we");
        REQUIRE(f != NULL);
        show_fd("popen we", fileno(f));
        fputs("hello\n", f);
        show_wstatus("pclose", pclose(f));
    }

    say("== bad modes");
    CALL(popen("true", "x") == NULL);
    CALL(popen("true", "rw") == NULL);
    CALL(popen("true", "") == NULL);

    say("== a later popen child does not hold an earlier stream's pipe");
    {
        FILE *writer = popen("cat >/dev/null", "w");
        FILE *sleeper = popen("sleep 1", "r");
        REQUIRE(writer && sleeper);
        double t0 = mono_now();
        show_wstatus("pclose(writer)", pclose(writer));
        say("the writer's child saw EOF before the sleeper ended: %s",
            yesno(mono_now() - t0 < 0.9));
        show_wstatus("pclose(sleeper)", pclose(sleeper));
    }
    say("done");
    return 0;
}
